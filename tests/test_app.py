"""App-wide behaviour: configuration, security headers, error pages, money and time formats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from config import ProductionConfig, load_config
from storefront.i18n import format_cny
from storefront.security import is_safe_next


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY, DATABASE_URL, PUBLIC_BASE_URL"):
        load_config("production")


def test_production_uses_secure_cookies(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/flagship")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example.com")
    config = ProductionConfig()
    config.validate()
    assert config.SESSION_COOKIE_SECURE and config.REMEMBER_COOKIE_SECURE
    assert config.SQLALCHEMY_ENGINES["default"]["url"].startswith("postgresql+psycopg://")


def test_security_headers_on_every_html_response(client, catalog):
    for path in ("/", "/models", "/does-not-exist"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/models", True), ("/models?x=1", True), ("https://evil.com", False), ("//evil.com", False),
     ("/\\evil.com", False), ("javascript:alert(1)", False), ("", False), (None, False), ("models", False)],
)
def test_next_redirect_targets(target, safe):
    assert is_safe_next(target) is safe


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("149800"), "¥149,800"), (Decimal("3215.47"), "¥3,215.47"), (Decimal("0.5"), "¥0.50"),
     (Decimal("-12.3"), "-¥12.30"), (None, "—")],
)
def test_cny_format(amount, text):
    assert format_cny(amount) == text


def test_cny_refuses_floats():
    with pytest.raises(TypeError):
        format_cny(1.5)  # type: ignore[arg-type]


def test_unknown_api_path_answers_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_times_are_stored_utc_and_shown_in_shanghai(app):
    from storefront.i18n import to_local

    stamp = dt.datetime(2026, 1, 1, 16, 30, tzinfo=dt.UTC)
    assert to_local(stamp).isoformat() == "2026-01-02T00:30:00+08:00"


def test_naive_datetimes_are_refused(db, catalog):
    catalog.vehicles[0].created_at = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()
    db.rollback()


@pytest.mark.parametrize("path", ["/models?q=a%00b", "/staff/audit?actor=%00"])
def test_nul_characters_are_a_clear_400_not_a_database_error(client, catalog, path):
    response = client.get(path)
    assert response.status_code == 400


def test_nul_in_a_posted_form_is_refused(client):
    response = client.post("/lang", data={"lang": "en\x00", "next": "/"})
    assert response.status_code == 400
