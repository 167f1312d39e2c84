"""Lockout design (issue 11 row 3): a stranger who does not know the password can slow strangers down, never keep
the owner out beyond a short wait; failures count per account and address; a known device goes through."""

from __future__ import annotations

import time

import flask_limiter._extension
import limits.storage.memory
import limits.strategies
import pytest

from storefront.accounts import devices, routes
from tests.factories import TEST_PASSWORD, make_user

WRONG = "not the password"


class FakeClock:
    """Real time plus an offset, so the limiter's windows can be jumped over without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __getattr__(self, name: str):  # sleep, monotonic, ... as the real module
        return getattr(time, name)


@pytest.fixture
def limiter_clock(monkeypatch):
    clock = FakeClock()
    for module in (limits.storage.memory, limits.strategies, flask_limiter._extension):
        monkeypatch.setattr(module, "time", clock)
    return clock


def _post_login(browser, email, password, address):
    return browser.post("/account/login", data={"email": email, "password": password},
                        environ_overrides={"REMOTE_ADDR": address}, headers={"Accept-Language": "en"})


def _known_browser(app, email, address="10.77.0.1"):
    """A browser the owner has signed in with before (it carries the known-device cookie)."""
    browser = app.test_client()
    response = _post_login(browser, email, TEST_PASSWORD, address)
    assert response.status_code == 302
    return browser


def test_a_sign_in_marks_the_browser_as_a_known_device(limited_app, customer):
    response = _post_login(limited_app.test_client(), customer.email, TEST_PASSWORD, "10.77.0.1")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{devices.COOKIE_NAME}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/account/" in cookie
    assert customer.email not in cookie  # the account is named by a keyed hash only


def test_a_stranger_guessing_for_ten_minutes_never_keeps_the_owner_out(limited_app, customer, limiter_clock):
    """The issue's attack: 5 wrong passwords a minute from one address for 10 minutes."""
    known = _known_browser(limited_app, customer.email)
    attacker = limited_app.test_client()
    refused_stranger = 0
    for minute in range(10):
        for _ in range(5):
            status = _post_login(attacker, customer.email, WRONG, "10.66.0.1").status_code
            assert status in (200, 429)
            refused_stranger += status == 429
        # the owner's own browser gets in at once, every minute, from any address
        assert _post_login(known, customer.email, TEST_PASSWORD, f"10.77.{minute}.2").status_code == 302
        limiter_clock.advance(60)
    assert refused_stranger >= 40  # the guesser was slowed down: at most 10 of 50 guesses were tried
    # The guessing address is held for the rest of the hour on this account...
    assert _post_login(attacker, customer.email, WRONG, "10.66.0.1").status_code == 429
    # ...and a browser the owner never used waits at most a short while (minutes, not the hour).
    stranger_device = limited_app.test_client()
    response = _post_login(stranger_device, customer.email, TEST_PASSWORD, "10.88.0.1")
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) <= 180
        limiter_clock.advance(int(response.headers["Retry-After"]) + 1)
        response = _post_login(stranger_device, customer.email, TEST_PASSWORD, "10.88.0.1")
    assert response.status_code == 302


def test_failures_from_unknown_devices_are_throttled_to_the_asvs_bound(limited_app, customer, limiter_clock):
    """Guesses spread over many addresses: at most 100 an hour are tried on one account (ASVS V2.2.1), each refusal
    asks for a short wait, and the owner's known browser is never held up."""
    known = _known_browser(limited_app, customer.email)
    tried = 0
    for attempt in range(120):  # one guess every 30 seconds for an hour, each from a new address
        response = _post_login(limited_app.test_client(), customer.email, WRONG, f"10.99.{attempt}.9")
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) <= 180
            assert "Too many failed sign-ins on this account" in response.get_data(as_text=True)
        else:
            assert response.status_code == 200
            tried += 1
        if attempt % 20 == 0:
            assert _post_login(known, customer.email, TEST_PASSWORD, "10.77.9.9").status_code == 302
        limiter_clock.advance(30)
    assert 20 <= tried <= 100


def test_a_known_device_is_limited_by_its_own_failures_only(limited_app, customer, limiter_clock):
    known = _known_browser(limited_app, customer.email)
    other_known = _known_browser(limited_app, customer.email, "10.77.1.1")
    for _ in range(5):
        assert _post_login(known, customer.email, WRONG, "10.77.0.1").status_code == 200
    assert _post_login(known, customer.email, TEST_PASSWORD, "10.77.0.1").status_code == 429
    assert _post_login(other_known, customer.email, TEST_PASSWORD, "10.77.0.1").status_code == 302
    limiter_clock.advance(61)
    assert _post_login(known, customer.email, TEST_PASSWORD, "10.77.0.1").status_code == 302


def test_a_device_cookie_counts_only_for_its_own_account_and_only_when_signed(limited_app, db, customer,
                                                                             limiter_clock):
    other = make_user(db, email="other@example.com")
    known_for_other = _known_browser(limited_app, other.email)
    forged = limited_app.test_client()
    forged.set_cookie(devices.COOKIE_NAME, "not-a-signed-value", path=devices.COOKIE_PATH)
    for browser in (known_for_other, forged):
        for _ in range(4):
            _post_login(browser, customer.email, WRONG, "10.55.0.1")
        assert _post_login(browser, customer.email, TEST_PASSWORD, "10.55.0.1").status_code == 429
        limiter_clock.advance(181)


def test_the_hourly_bound_of_the_unknown_device_limits_meets_asvs():
    """Fixed windows: an hour can touch ceil(3600 / window) + 1 windows of the per-account limit."""
    import math

    import limits as limits_lib

    for item in limits_lib.parse_many(routes.LOGIN_FAILURES_PER_ACCOUNT):
        windows = math.ceil(3600 / item.get_expiry()) + 1
        assert item.amount * windows <= 100
        assert item.get_expiry() <= 180  # a refusal never asks for more than a few minutes
