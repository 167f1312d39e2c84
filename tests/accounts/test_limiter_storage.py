"""Rate-limit storage down (issue 11 row 4): no 5xx, in-memory limits with a logged warning, Redis again once it
answers, without a restart."""

from __future__ import annotations

import logging

import flask_limiter._extension
import pytest
import redis

from storefront.extensions import limiter
from tests.accounts.test_lockout import FakeClock
from tests.factories import TEST_PASSWORD

WRONG = "not the password"


@pytest.fixture
def backend_clock(monkeypatch):
    """Flask-Limiter retries a dead storage after 1, 2, 4 … 32 s: let the test jump over those waits."""
    clock = FakeClock()
    monkeypatch.setattr(flask_limiter._extension, "time", clock)
    return clock


@pytest.fixture
def redis_limited_app(private_redis, make_test_app):
    app = make_test_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=private_redis.url)
    yield app
    limiter._storage_dead = False  # the limiter object is shared by every app of the test process


def _post_login(browser, email, password, address):
    return browser.post("/account/login", data={"email": email, "password": password},
                        environ_overrides={"REMOTE_ADDR": address})


def _keys(server):
    client = redis.Redis.from_url(server.url, socket_connect_timeout=1)
    try:
        return client.dbsize()
    finally:
        client.close()


def test_sign_in_works_while_redis_is_down_and_the_limits_return_with_it(
    redis_limited_app, private_redis, customer, caplog, backend_clock
):
    app = redis_limited_app
    assert _post_login(app.test_client(), customer.email, TEST_PASSWORD, "10.40.0.1").status_code == 302
    assert _keys(private_redis) > 0  # counted in Redis

    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        assert _post_login(app.test_client(), customer.email, TEST_PASSWORD, "10.40.0.2").status_code == 302
    assert "falling back to in-memory storage" in caplog.text
    # the limits still hold, counted in memory meanwhile: the 11th post a minute from one address is refused
    statuses = [_post_login(app.test_client(), f"u{n}@example.com", WRONG, "10.40.1.1").status_code
                for n in range(11)]
    assert statuses == [200] * 10 + [429]
    assert app.test_client().get("/account/login").status_code == 200

    private_redis.start()  # an empty Redis on the same port; the app is not restarted
    backend_clock.advance(64)  # past the longest wait between checks
    with caplog.at_level(logging.INFO, logger="flask-limiter"):
        assert _post_login(app.test_client(), "back@example.com", WRONG, "10.40.2.1").status_code == 200
    assert "Rate limit storage recovered" in caplog.text
    assert _keys(private_redis) > 0  # counting in Redis again
    statuses = [_post_login(app.test_client(), f"v{n}@example.com", WRONG, "10.40.3.1").status_code
                for n in range(11)]
    assert statuses == [200] * 10 + [429]
