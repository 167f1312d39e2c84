"""Texting codes from outside (gunicorn on PostgreSQL and Redis): three texts per account per 10 minutes, then
429, shared by every worker; the code that came back verifies the mobile, and the presale then takes the order."""

from __future__ import annotations

import sqlalchemy as sa

from models.accounts import PhoneVerificationCode
from storefront.accounts.services import _phone_code_hash
from tests.system.conftest import LiveStore
from tests.system.presale_spike import open_campaign


def test_three_texts_per_ten_minutes_then_the_code_verifies_and_the_presale_takes_the_order(live_store) -> None:  # type: ignore[no-untyped-def]
    store: LiveStore = live_store
    member = store.new_user(phone="13955556666")
    browser = store.browser().sign_in(member.email)
    slug = open_campaign(store, edition=2)

    refused = browser.post(f"/presale/{slug}/order", csrf_from=f"/presale/{slug}")
    assert refused.status == 302 and "/account/profile" in refused.response.headers["Location"]

    answers = [
        browser.post(
            "/account/profile/phone/code",
            {"ph-csrf_token": browser.csrf_token("/account/profile")},
            csrf_from="/account/profile",
        )
        for _ in range(4)
    ]
    assert [a.status for a in answers] == [302, 302, 302, 429]

    assert "Your code is" not in browser.get("/account/profile").text  # production shows no code on the page
    # Only the code's hash is kept, so the test sets a known code through the service's own hashing.
    with store.db() as session:
        latest = session.scalars(
            sa.select(PhoneVerificationCode)
            .where(PhoneVerificationCode.user_id == member.id)
            .order_by(PhoneVerificationCode.id.desc())
        ).first()
        assert latest is not None and latest.used_at is None
        latest.code_hash = _phone_code_hash(member.id, "13955556666", "246810")
    token = browser.csrf_token("/account/profile")
    verified = browser.post(
        "/account/profile/phone/verify", {"ph-code": "246810", "ph-csrf_token": token}, csrf_from="/account/profile"
    )
    assert verified.status == 302
    assert "13955556666 已验证" in browser.get("/account/profile").text

    placed = browser.post(f"/presale/{slug}/order", csrf_from=f"/presale/{slug}")
    assert placed.status == 303 and "/presale/orders/" in placed.response.headers["Location"]
