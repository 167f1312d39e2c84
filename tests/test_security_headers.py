"""Issue 11 row 9: HSTS on every response in production; no-store on signed-in pages and on CSV exports."""

from __future__ import annotations

import pytest

from config import ProductionConfig


def test_production_turns_hsts_on_by_default(monkeypatch):
    monkeypatch.delenv("HSTS_SECONDS", raising=False)
    assert ProductionConfig().HSTS_SECONDS >= 31_536_000


@pytest.fixture
def hsts(app, monkeypatch):
    monkeypatch.setitem(app.config, "HSTS_SECONDS", 31_536_000)


@pytest.mark.parametrize("path", ["/", "/models/", "/no-such-page", "/account/login", "/staff/",
                                  "/static/css/app.css", "/api/v1/finance-products"])
def test_hsts_on_every_response(client, catalog, hsts, path):
    response = client.get(path)
    response.close()
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", response.status


def test_hsts_also_on_posts_and_errors(client, catalog, hsts):
    assert "Strict-Transport-Security" in client.post("/account/logout").headers
    assert "Strict-Transport-Security" in client.get("/models/%00").headers


def test_no_hsts_outside_production_defaults(client, catalog):
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.parametrize("path", ["/account/profile", "/reservations/mine", "/test-drives/mine", "/"])
def test_signed_in_pages_are_never_stored(client, login_as, customer, catalog, path):
    login_as(customer)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/staff/", "/staff/vehicles", "/staff/users", "/staff/reservations/", "/staff/audit",
                                  "/staff/vehicles/export.csv", "/staff/insights/export.csv"])
def test_staff_lists_and_exports_are_never_stored(client, login_as, admin_user, catalog, path):
    login_as(admin_user)
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable_for_signed_in_users(client, login_as, customer):
    login_as(customer)
    response = client.get("/static/css/app.css")
    response.close()
    assert response.headers.get("Cache-Control") != "no-store"
