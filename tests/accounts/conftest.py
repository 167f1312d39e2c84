"""Fixtures for the accounts tests: extra apps (rate limits on, CSRF on) that share the test's rolled-back database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from storefront.extensions import db as flask_db
from storefront.extensions import limiter
from tests.conftest import make_app
from tests.factories import TEST_PASSWORD


class IsolatedClient(FlaskClient):
    """A test client whose requests do not see the previous request's signed-in user.

    The `db` fixture keeps the app context pushed for the whole test, so every request of the shared `app` reuses
    one `flask.g`, where Flask-Login caches the current user. In production each request has its own app context.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("password_attempt_failed", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def new_client(app: Flask, db: Session) -> Callable[..., FlaskClient]:
    """Make another browser (own cookies) on the shared app; `language` sets Accept-Language."""

    def _new(language: str = "en") -> FlaskClient:
        browser = IsolatedClient(app, app.response_class, use_cookies=True)
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        return browser

    return _new


@pytest.fixture
def make_test_app(db: Session, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build an app with config overrides whose sessions join the `db` fixture's transaction (rolled back after).

    The limiter object is shared by every app in the process, so its switch and counters are restored afterwards.
    """
    connection = db.connection()
    was_enabled = limiter.enabled
    built: list[Flask] = []

    def _make(**overrides: Any) -> Flask:
        other = make_app(database_url, **overrides)
        with other.app_context():
            flask_db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
        built.append(other)
        return other

    yield _make
    if limiter.enabled:
        limiter.reset()
    limiter.enabled = was_enabled
    for other in built:
        with other.app_context():
            flask_db.engine.dispose()


@pytest.fixture
def limited_app(make_test_app: Callable[..., Flask]) -> Flask:
    """Rate limits on, in memory (fresh counters)."""
    return make_test_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")


@pytest.fixture
def csrf_app(make_test_app: Callable[..., Flask]) -> Flask:
    return make_test_app(WTF_CSRF_ENABLED=True)


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = TEST_PASSWORD, **extra: Any) -> Any:
    """Through the real login form (new session, fresh-login stamp)."""
    return client.post("/account/login", data={"email": email, "password": password, **extra})
