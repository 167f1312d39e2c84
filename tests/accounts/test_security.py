"""Security promises of the accounts area (figures from reliability-anchors.md): cookies, sessions, CSRF,
open redirects, rate limits, fresh login and security headers."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from config import ProductionConfig
from storefront import clock
from storefront.auth import AUTH_AT, FRESH_LOGIN_MAX_AGE, fresh_login_required
from tests.accounts.conftest import csrf_token_from, sign_in
from tests.factories import TEST_PASSWORD

WRONG = "not the password"


def _set_cookie(response, name):
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}="))


def _attributes(cookie):
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


# --- cookies and the session lifecycle (ASVS V3.2.1, V3.3.1, V3.4) -------------------------------------------------


def test_session_and_remember_cookies_are_httponly_and_samesite_lax(client, customer):
    response = sign_in(client, customer.email, remember="y")
    for name in ("session", "remember_token"):
        cookie = _set_cookie(response, name)
        assert "httponly" in _attributes(cookie) and "SameSite=Lax" in cookie
        assert "secure" not in _attributes(cookie)  # plain http in development and tests


def test_cookies_are_secure_in_production(monkeypatch, make_test_app, customer):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/flagship")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    production = ProductionConfig()
    flags = {key: getattr(production, key) for key in (
        "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE", "REMEMBER_COOKIE_SAMESITE")}
    assert flags == {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
                     "REMEMBER_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
                     "REMEMBER_COOKIE_SAMESITE": "Lax"}
    secure_app = make_test_app(**flags)
    response = sign_in(secure_app.test_client(), customer.email, remember="y")
    for name in ("session", "remember_token"):
        cookie = _set_cookie(response, name)
        assert {"secure", "httponly"} <= _attributes(cookie) and "SameSite=Lax" in cookie


def test_sign_in_starts_a_new_session(new_client, customer):
    browser = new_client()
    browser.get("/account/login")
    with browser.session_transaction() as session:
        session["planted_by_attacker"] = "x"
        session["csrf_token"] = "fixed-token"
        session["lang"] = "en"
        session["demo_tour"] = {"step": 3, "skipped": []}
    before = browser.get_cookie("session").value
    sign_in(browser, customer.email)
    assert browser.get_cookie("session").value != before
    with browser.session_transaction() as session:
        assert "planted_by_attacker" not in session and session.get("csrf_token") != "fixed-token"
        assert session["lang"] == "en" and session["demo_tour"]["step"] == 3  # preferences are kept
        assert session["_user_id"] == customer.get_id() and session["_fresh"] is True and AUTH_AT in session


def test_a_copied_session_cookie_stops_working_after_sign_out(new_client, customer):
    browser = new_client()
    sign_in(browser, customer.email)
    stolen = browser.get_cookie("session").value
    browser.post("/account/logout")
    replay = new_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/account/profile")
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login")


def test_a_remember_cookie_stops_working_after_sign_out(new_client, customer):
    browser = new_client()
    sign_in(browser, customer.email, remember="y")
    remembered = browser.get_cookie("remember_token").value
    assert browser.post("/account/logout").status_code == 302
    replay = new_client()
    replay.set_cookie("remember_token", remembered)
    assert replay.get("/account/profile").status_code == 302


# --- security headers (ASVS V14.4) ----------------------------------------------------------------------------------


def _assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("path", ["/account/login", "/account/register", "/account/reset", "/account/reset/nope",
                                  "/account/profile", "/account/reauth"])
def test_headers_on_every_account_page(new_client, customer, path):
    browser = new_client()
    sign_in(browser, customer.email)
    if path in ("/account/login", "/account/register"):
        browser = new_client()
    _assert_security_headers(browser.get(path))


# --- CSRF (ASVS V4.2.2) ---------------------------------------------------------------------------------------------


# /lang is left out on purpose: it only sets the language cookie, so shared pages carry no token (issue 14; see
# tests/catalog/test_caching.py::test_language_switch_needs_no_token_and_sets_only_the_language_cookie).
@pytest.mark.parametrize("path", ["/account/login", "/account/logout", "/account/register",
                                  "/account/profile", "/account/password", "/account/reset", "/account/reauth"])
def test_post_without_csrf_token_is_refused_with_a_clear_page(csrf_app, customer, path):
    browser = csrf_app.test_client()
    response = browser.post(path, data={"email": customer.email, "password": TEST_PASSWORD, "lang": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "表单已过期，或并非来自本站" in page and "请求无效" in page
    _assert_security_headers(response)
    with browser.session_transaction() as session:
        assert "_user_id" not in session


def test_csrf_refusal_in_english(csrf_app):
    response = csrf_app.test_client().post("/account/login", headers={"Accept-Language": "en"})
    assert "This form has expired or did not come from this site." in response.get_data(as_text=True)


def test_forms_work_with_their_token(csrf_app, customer):
    browser = csrf_app.test_client()
    token = csrf_token_from(browser.get("/account/login").get_data(as_text=True))
    response = browser.post("/account/login", data={"email": customer.email, "password": TEST_PASSWORD,
                                                    "csrf_token": token})
    assert response.status_code == 302
    page = browser.get("/account/profile").get_data(as_text=True)
    assert 'name="pw-csrf_token"' in page  # the password form carries its own (prefixed) token
    response = browser.post("/account/logout", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 302


# --- open redirects -------------------------------------------------------------------------------------------------

REDIRECT_PAYLOADS = ["https://evil.com", "//evil.com", "/\\evil.com", "///evil.com", "javascript:alert(1)",
                     "http:/evil.com", " //evil.com", "\t//evil.com", "/\t/evil.com", "https:evil.com",
                     "evil.com", "%2F%2Fevil.com"]


def _stays_here(location):
    parts = urlsplit(location)
    return parts.scheme in ("", "http") and parts.netloc in ("", "localhost") and location.startswith("/") \
        and not location.startswith("//") and "evil.com" not in location.split("?")[0].lstrip("/")[:8]


@pytest.mark.parametrize("payload", REDIRECT_PAYLOADS)
def test_login_next_never_leaves_the_site(new_client, customer, payload):
    browser = new_client()
    response = sign_in(browser, customer.email, next=payload)
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    # the same through the query string, as links from other pages pass it
    page = new_client().get("/account/login", query_string={"next": payload}).get_data(as_text=True)
    assert 'href="https://evil.com' not in page


@pytest.mark.parametrize("payload", REDIRECT_PAYLOADS)
def test_reauth_and_language_switch_next_never_leave_the_site(new_client, customer, payload):
    browser = new_client()
    sign_in(browser, customer.email)
    response = browser.post("/account/reauth", data={"password": TEST_PASSWORD, "next": payload})
    assert response.headers["Location"] == "/account/profile"
    response = browser.post("/lang", data={"lang": "en", "next": payload})
    assert _stays_here(response.headers["Location"])


# --- rate limits (ASVS V2.2.1) --------------------------------------------------------------------------------------


def _post_login(browser, email, password, address):
    return browser.post("/account/login", data={"email": email, "password": password},
                        environ_overrides={"REMOTE_ADDR": address}, headers={"Accept-Language": "en"})


def test_fifth_failure_in_three_minutes_on_one_account_is_refused_from_unknown_devices(limited_app, customer):
    for attempt in range(4):
        browser = limited_app.test_client()
        assert _post_login(browser, "Shopper@Example.com", WRONG, f"10.0.0.{attempt}").status_code == 200
    refused = _post_login(limited_app.test_client(), "shopper@example.com", WRONG, "10.0.1.1")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Too many failed sign-ins on this account. Please wait a few minutes" in page
    assert int(refused.headers["Retry-After"]) <= 180
    _assert_security_headers(refused)
    # other accounts are not affected
    assert _post_login(limited_app.test_client(), "someone.else@example.com", WRONG, "10.0.1.3").status_code == 200


def test_eleventh_login_post_in_a_minute_from_one_address_is_refused(limited_app):
    browser = limited_app.test_client()
    for attempt in range(10):
        assert _post_login(browser, f"user{attempt}@example.com", WRONG, "10.9.9.9").status_code == 200
    assert _post_login(browser, "user99@example.com", WRONG, "10.9.9.9").status_code == 429
    assert _post_login(browser, "user99@example.com", WRONG, "10.9.9.10").status_code == 200


def test_successful_sign_ins_do_not_use_up_the_failure_allowance(limited_app, customer):
    for attempt in range(3):
        assert _post_login(limited_app.test_client(), customer.email, WRONG, f"10.1.0.{attempt}").status_code == 200
    for attempt in range(3):
        assert _post_login(limited_app.test_client(), customer.email, TEST_PASSWORD,
                           f"10.2.0.{attempt}").status_code == 302
    assert _post_login(limited_app.test_client(), customer.email, WRONG, "10.3.0.1").status_code == 200  # the 4th
    assert _post_login(limited_app.test_client(), customer.email, WRONG, "10.3.0.2").status_code == 429


def test_register_and_reset_requests_are_limited(limited_app):
    browser = limited_app.test_client()
    for attempt in range(5):
        browser.post("/account/register", data={"email": f"n{attempt}@example.com"},
                     environ_overrides={"REMOTE_ADDR": "10.4.0.1"})
    assert browser.post("/account/register", data={}, environ_overrides={"REMOTE_ADDR": "10.4.0.1"}).status_code == 429
    for attempt in range(3):
        response = browser.post("/account/reset", data={"email": "victim@example.com"},
                                environ_overrides={"REMOTE_ADDR": f"10.5.0.{attempt}"})
        assert response.status_code == 302
    response = browser.post("/account/reset", data={"email": "victim@example.com"},
                            environ_overrides={"REMOTE_ADDR": "10.5.1.1"})
    assert response.status_code == 429


def test_wrong_passwords_on_reauth_are_limited_per_user(limited_app, customer):
    browser = limited_app.test_client()
    assert sign_in(browser, customer.email).status_code == 302
    for _ in range(5):
        assert browser.post("/account/reauth", data={"password": WRONG}).status_code == 200
    assert browser.post("/account/reauth", data={"password": TEST_PASSWORD}).status_code == 429


def test_wrong_passwords_on_email_change_are_limited_per_user(limited_app, customer):
    browser = limited_app.test_client()
    assert sign_in(browser, customer.email).status_code == 302
    attempt = {"em-new_email": "elsewhere@example.com", "em-password": WRONG}
    for _ in range(5):
        assert browser.post("/account/email", data=attempt).status_code == 200
    assert browser.post("/account/email", data={**attempt, "em-password": TEST_PASSWORD}).status_code == 429


def test_limits_are_shared_through_redis(make_test_app, customer):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
                "RATELIMIT_KEY_PREFIX": prefix}
    try:
        first, second = make_test_app(**settings), make_test_app(**settings)  # two instances behind a balancer
        for attempt in range(4):
            instance = (first, second)[attempt % 2]
            assert _post_login(instance.test_client(), customer.email, WRONG, f"10.6.0.{attempt}").status_code == 200
        assert _post_login(first.test_client(), customer.email, WRONG, "10.6.1.1").status_code == 429
        assert _post_login(second.test_client(), customer.email, WRONG, "10.6.1.2").status_code == 429
    finally:
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()


# --- fresh login for sensitive changes ------------------------------------------------------------------------------


@pytest.fixture
def probe_app(make_test_app):
    """An app with one sensitive view, as the staff area puts on price and role changes."""
    other = make_test_app()
    other.add_url_rule("/probe", "probe", fresh_login_required(lambda: "changed"), methods=["GET", "POST"])
    return other


def test_fresh_login_required(probe_app, customer):
    browser = probe_app.test_client()
    response = browser.get("/probe")
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login?next=%2Fprobe")

    sign_in(browser, customer.email)
    assert browser.get("/probe").get_data(as_text=True) == "changed"

    with browser.session_transaction() as session:  # 16 minutes later
        session[AUTH_AT] = clock.now().timestamp() - FRESH_LOGIN_MAX_AGE.total_seconds() - 60
    response = browser.get("/probe?x=1")
    assert response.status_code == 302 and _reauth_next(response) == "/probe?x=1"
    page = browser.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "please enter your password again" in page and "15 minutes" in page

    response = browser.post("/account/reauth", data={"password": TEST_PASSWORD, "next": "/probe?x=1"})
    assert response.headers["Location"] == "/probe?x=1"
    assert browser.get("/probe").get_data(as_text=True) == "changed"


def test_stale_form_post_returns_to_the_form_page(probe_app, customer):
    browser = probe_app.test_client()
    sign_in(browser, customer.email)
    with browser.session_transaction() as session:
        session[AUTH_AT] = 0
    response = browser.post("/probe", headers={"Referer": "http://localhost/staff/prices?trim=3"})
    assert _reauth_next(response) == "/staff/prices?trim=3"
    response = browser.post("/probe", headers={"Referer": "https://evil.com/staff"})
    assert response.headers["Location"] == "/account/reauth"


def test_a_remembered_session_is_not_fresh(probe_app, customer):
    browser = probe_app.test_client()
    sign_in(browser, customer.email, remember="y")
    browser.delete_cookie("session")  # the browser was closed; only the remember-me cookie is left
    assert browser.get("/account/profile").status_code == 200
    assert browser.get("/account/profile").status_code == 200  # and it stays signed in ("strong" protection)
    response = browser.get("/probe")
    assert response.status_code == 302 and _reauth_next(response) == "/probe"


def _reauth_next(response):
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/reauth"
    return parse_qs(location.query)["next"][0]


# --- behind a reverse proxy -------------------------------------------------------------------------------------------


def _post_login_via_proxy(browser, email, client_address):
    """A sign-in that reached the app through one proxy at 10.8.0.1, which names the client in X-Forwarded-For."""
    return browser.post("/account/login", data={"email": email, "password": WRONG},
                        environ_overrides={"REMOTE_ADDR": "10.8.0.1"},
                        headers={"Accept-Language": "en", "X-Forwarded-For": client_address,
                                 "X-Forwarded-Proto": "https"})


def test_without_trusted_proxies_a_client_cannot_choose_its_address(limited_app):
    """By default X-Forwarded-For is ignored: changing it does not buy a fresh allowance."""
    browser = limited_app.test_client()
    for attempt in range(10):
        assert _post_login_via_proxy(browser, f"p{attempt}@example.com", f"203.0.113.{attempt}").status_code == 200
    assert _post_login_via_proxy(browser, "p99@example.com", "203.0.113.99").status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(make_test_app):
    app = make_test_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", TRUSTED_PROXY_COUNT=1)
    browser = app.test_client()
    for attempt in range(10):
        assert _post_login_via_proxy(browser, f"q{attempt}@example.com", "198.51.100.7").status_code == 200
    assert _post_login_via_proxy(browser, "q99@example.com", "198.51.100.7").status_code == 429
    # Another shopper behind the same proxy is not locked out with them.
    assert _post_login_via_proxy(browser, "q99@example.com", "198.51.100.8").status_code == 200


def test_behind_a_trusted_proxy_the_scheme_and_address_are_the_clients(make_test_app):
    from flask import request, url_for

    app = make_test_app(TRUSTED_PROXY_COUNT=1)
    seen = {}

    @app.get("/_probe")
    def probe():
        seen.update(address=request.remote_addr, url=url_for("catalog.home", _external=True))
        return ""

    app.test_client().get("/_probe", environ_overrides={"REMOTE_ADDR": "10.8.0.1"},
                          headers={"X-Forwarded-For": "spoofed, 198.51.100.9", "X-Forwarded-Proto": "https"})
    # Only the last hop (the one proxy we trust) is believed.
    assert seen == {"address": "198.51.100.9", "url": "https://localhost/"}
