"""The demo area's tests read English pages (the store's default language is Chinese)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def english_pages(request: pytest.FixtureRequest) -> None:
    if "client" in request.fixturenames:
        request.getfixturevalue("client").environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
