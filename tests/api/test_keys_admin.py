"""Admins issue API keys in the back office (shown once, stored hashed, scoped to showrooms) and revoke them."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import ApiKey, AuditLog
from storefront.api.services import hash_secret
from tests.api.conftest import bearer
from tests.staff.conftest import sign_in


def _issue(client, catalog, **form):  # type: ignore[no-untyped-def]
    data = {"name": "Pudong DMS", "showrooms": [catalog.dealers[0].id], "rate_limit": 60, **form}
    return client.post("/staff/api-keys/", data=data)


def test_an_admin_issues_a_key_shown_once_and_stored_hashed(client, db, committed, admin_user):
    sign_in(client, admin_user)
    page = _issue(client, committed)
    assert page.status_code == 201 and page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'class="api-key-secret">(fsk_[^<]+)<', page.get_data(as_text=True)).group(1)
    key = db.scalar(select(ApiKey).where(ApiKey.name == "Pudong DMS"))
    assert key.key_hash == hash_secret(secret) and secret not in key.key_hash
    assert [d.code for d in key.dealers] == ["SH-1"] and key.rate_limit_per_minute == 60
    listing = client.get("/staff/api-keys/").get_data(as_text=True)
    assert key.prefix in listing and secret not in listing
    assert client.get("/api/v1/inventory/vehicles", headers=bearer(secret)).status_code == 200
    assert db.scalar(select(AuditLog).where(AuditLog.action == "api_key.create")) is not None


def test_a_key_needs_a_name_and_a_showroom(client, committed, admin_user):
    sign_in(client, admin_user)
    assert _issue(client, committed, name="", showrooms=[]).status_code == 422


def test_revoking_a_key_refuses_it_from_then_on(client, db, committed, admin_user):
    sign_in(client, admin_user)
    page = _issue(client, committed).get_data(as_text=True)
    secret = re.search(r'class="api-key-secret">(fsk_[^<]+)<', page).group(1)
    key = db.scalar(select(ApiKey).where(ApiKey.name == "Pudong DMS"))
    assert client.post(f"/staff/api-keys/{key.id}/revoke").status_code == 302
    db.refresh(key)
    assert key.revoked_at is not None
    assert client.get("/api/v1/inventory/vehicles", headers=bearer(secret)).status_code == 401


def test_staff_and_customers_cannot_manage_keys(client, committed, staff_user, customer):
    sign_in(client, staff_user)
    assert client.get("/staff/api-keys/").status_code == 403
    assert _issue(client, committed).status_code == 403
    sign_in(client, customer)
    assert client.get("/staff/api-keys/").status_code == 403


def test_the_keys_page_is_in_chinese_by_default(client, committed, admin_user):
    sign_in(client, admin_user)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "签发密钥" in client.get("/staff/api-keys/").get_data(as_text=True)
