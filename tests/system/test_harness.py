"""The harness itself: a production store answers over HTTP, and a simulated shopper can sign in and post."""

from __future__ import annotations

import sqlalchemy as sa

import models
from tests.system.conftest import LiveStore, at_once


def test_a_shopper_signs_in_and_sees_their_profile(live_store: LiveStore) -> None:
    shopper = live_store.new_user(name="Harness Shopper")
    browser = live_store.browser().sign_in(shopper.email)

    page = browser.get("/account/profile")

    assert page.status == 200
    assert "Harness Shopper" in page.text
    assert live_store.browser().get("/account/profile").status == 302  # another browser is not signed in


def test_concurrent_readers_get_no_server_error(live_store: LiveStore) -> None:
    browsers = [live_store.browser() for _ in range(8)]

    statuses = at_once([lambda b=b: b.get("/models").status for b in browsers])

    assert statuses == [200] * 8
    with live_store.db() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(models.Vehicle)) > 0  # the seeded store
