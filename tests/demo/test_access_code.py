"""Issue 11 row 2: demo mode never hands out demo powers without the presenter access code (DEMO_ACCESS_CODE)."""

from __future__ import annotations

import pytest

import config
from storefront.accounts.seed import seed_accounts
from tests.demo.test_presenter import signed_in

CODE = "correct-horse-battery-staple-42"


@pytest.fixture
def guarded_demo(app, monkeypatch, db, catalog):
    """Demo mode with a presenter access code, as production runs it."""
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    monkeypatch.setitem(app.config, "DEMO_ACCESS_CODE", CODE)
    seed_accounts(db)
    return db


@pytest.mark.parametrize(("env", "refused"), [
    ({"DEMO_MODE": "1"}, True),
    ({"DEMO_MODE": "1", "DEMO_ACCESS_CODE": "short-code"}, True),
    ({"DEMO_MODE": "1", "DEMO_ACCESS_CODE": CODE}, False),
    ({}, False),
])
def test_production_refuses_demo_mode_without_an_access_code(monkeypatch, env, refused):
    for name in ("DEMO_MODE", "DEMO_ACCESS_CODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgresql://127.0.0.1:5432/nothing")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example.com")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if refused:
        with pytest.raises(RuntimeError, match="DEMO_ACCESS_CODE"):
            config.load_config("production")
    else:
        assert config.load_config("production").DEMO_MODE is bool(env)


def test_presenter_page_shows_nothing_but_the_code_form(client, guarded_demo):
    html = client.get("/demo/").get_data(as_text=True)
    assert 'action="/demo/unlock"' in html
    for secret in ("@flagship.demo", "demo-admin-2026", "demo-shopper-2026", "/demo/sign-in", "/demo/tour/start"):
        assert secret not in html


def test_anonymous_one_click_sign_in_and_tour_are_refused(client, guarded_demo):
    for account in ("admin", "staff", "shopper"):
        assert client.post("/demo/sign-in", data={"account": account}).status_code == 403
    assert client.post("/demo/tour/start").status_code == 403
    assert client.post("/demo/tour/go", data={"step": "2"}).status_code == 403
    assert signed_in(client, guarded_demo) is None


def test_the_published_demo_passwords_do_not_sign_in_without_the_code(client, guarded_demo):
    response = client.post("/account/login", data={"email": "admin@flagship.demo", "password": "demo-admin-2026"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 200 and "Email or password is incorrect" in response.get_data(as_text=True)
    assert signed_in(client, guarded_demo) is None


def test_demo_passwords_never_sign_in_in_production_without_demo_mode(client, app, db, catalog, monkeypatch):
    seed_accounts(db)
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    client.post("/account/login", data={"email": "admin@flagship.demo", "password": "demo-admin-2026"})
    assert signed_in(client, db) is None


def test_a_wrong_code_unlocks_nothing(client, guarded_demo):
    for wrong in ("", "correct-horse", CODE + " ", CODE.upper()):
        response = client.post("/demo/unlock", data={"code": wrong})
        assert response.status_code in (400, 403)
    assert "demo-admin-2026" not in client.get("/demo/").get_data(as_text=True)
    assert client.post("/demo/sign-in", data={"account": "admin"}).status_code == 403


def test_the_code_unlocks_the_presenter_for_this_session_only(client, app, guarded_demo):
    response = client.post("/demo/unlock", data={"code": CODE})
    assert response.status_code == 302 and response.location == "/demo/"
    assert "demo-admin-2026" in client.get("/demo/").get_data(as_text=True)
    assert client.post("/demo/sign-in", data={"account": "admin"}).status_code == 302
    assert signed_in(client, guarded_demo) == "admin@flagship.demo"
    client.post("/demo/sign-in", data={"account": "shopper"})  # switching accounts keeps the presenter unlocked
    assert signed_in(client, guarded_demo) == "shopper@flagship.demo"
    other = app.test_client()
    assert other.post("/demo/sign-in", data={"account": "admin"}).status_code == 403


def test_a_new_code_locks_presenters_out_again(client, app, guarded_demo, monkeypatch):
    client.post("/demo/unlock", data={"code": CODE})
    monkeypatch.setitem(app.config, "DEMO_ACCESS_CODE", CODE + "-rotated")
    assert "demo-admin-2026" not in client.get("/demo/").get_data(as_text=True)


def test_without_a_code_development_demo_works_as_before(client, app, db, catalog, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    seed_accounts(db)
    assert client.post("/demo/unlock", data={"code": "anything"}).status_code == 404
    assert client.post("/demo/sign-in", data={"account": "admin"}).status_code == 302
