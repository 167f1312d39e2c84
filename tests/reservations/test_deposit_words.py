"""The deposit is named by its kind everywhere a shopper or staff meets it: 订金 refundable, 定金 binding, never 押金.

The whole journey is walked in Chinese for a model with a refundable policy (Kadjar) and one with a binding
policy (Mach-E): model page, choose, review, pay, the reservation page, my reservations, the mails, the staff
page, the handover and the insights. Each must name the right word and never the other two.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import DepositKind, OutboxMessage, Reservation, Role
from storefront.errors import DomainError
from storefront.reservations import services
from tests import factories
from tests.reservations.conftest import new_key

ZH = {"Accept-Language": "zh-CN"}
WORDS = {"refundable": "订金", "binding": "定金"}
SECURITY_DEPOSIT = "押金"


def _visible(html: str) -> str:
    """The text a reader sees: no tags, scripts or attribute values other than confirm prompts and labels."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    prompts = " ".join(re.findall(r'(?:data-confirm|aria-label|title|placeholder)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + prompts


def _check(text: str, kind: str, where: str) -> None:
    right = WORDS[kind]
    wrong = [w for w in (*WORDS.values(), SECURITY_DEPOSIT) if w != right]
    assert right in text, f"{where}: {right} missing"
    for word in wrong:
        assert word not in text, f"{where}: {word} shown for a {kind} deposit: " + text[
            max(text.find(word) - 60, 0): text.find(word) + 60]


@pytest.mark.parametrize(("slug", "vehicle_index", "kind"), [("kadjar", 0, "refundable"),
                                                             ("mustang-mach-e", 3, "binding")])
def test_the_journey_names_the_deposit_by_its_kind(client, db, catalog, policies, shopper, login_as, slug,
                                                   vehicle_index, kind):
    vehicle = catalog.vehicles[vehicle_index]
    assert policies[slug].kind is DepositKind(kind)
    login_as(shopper)
    pages = {
        "model page": f"/models/{slug}",
        "choose": f"/reservations/choose/{slug}",
        "review": f"/reservations/review?vehicle={vehicle.id}",
    }
    for where, url in pages.items():
        reply = client.get(url, headers=ZH)
        assert reply.status_code == 200, where
        _check(_visible(reply.get_data(as_text=True)), kind, where)
    reply = client.post("/reservations/", data={"vehicle_id": str(vehicle.id), "idempotency_key": new_key(),
                                                 "accept_terms": "y"}, headers=ZH)
    pay_url = reply.headers["Location"]
    _check(_visible(client.get(pay_url, headers=ZH).get_data(as_text=True)), kind, "pay page")
    reservation = db.scalar(select(Reservation))
    _check(_visible(client.get(f"/reservations/{reservation.reference}", headers=ZH).get_data(as_text=True)),
           kind, "reservation waiting for payment")
    client.post(pay_url, data={"action": "pay"}, headers=ZH)
    for where, url in {"confirmation": f"/reservations/{reservation.reference}?paid=1",
                       "my reservations": "/reservations/mine"}.items():
        _check(_visible(client.get(url, headers=ZH).get_data(as_text=True)), kind, where)
    mails = list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind.like("reservations/%"))))
    assert {m.kind for m in mails} == {"reservations/started", "reservations/confirmed"}
    for mail in mails:
        _check(mail.subject + mail.body_text + _visible(mail.body_html), kind, mail.kind)

    staff = factories.make_user(db, email="desk@example.com", role=Role.STAFF)
    staff.dealers.append(vehicle.dealer)
    db.flush()
    login_as(staff)
    for where, url in {"staff page": f"/staff/reservations/{reservation.reference}",
                       "handover": f"/staff/insights/handover?code={reservation.reference}",
                       "insights": "/staff/insights/"}.items():
        reply = client.get(url, headers=ZH)
        assert reply.status_code == 200, where
        _check(_visible(reply.get_data(as_text=True)), kind, where)


def test_binding_terms_state_the_double_return_and_refundable_terms_do_not(client, db, catalog, policies):
    refundable = client.get("/reservations/choose/kadjar", headers=ZH).get_data(as_text=True)
    binding = client.get("/reservations/choose/mustang-mach-e", headers=ZH).get_data(as_text=True)
    assert "双倍返还定金" in binding and "¥4,000" in binding  # twice the ¥2,000 定金
    assert "双倍" not in refundable


def test_a_binding_deposit_is_capped_at_a_fifth_of_the_cheapest_trim(app, db, catalog, admin_user):
    mache = catalog.car_models[1]
    cheapest = min(t.msrp_cny for t in mache.trims if t.is_active)
    cap = (cheapest * Decimal("0.2")).quantize(Decimal("0.01"))
    with app.test_request_context(headers=ZH):
        with pytest.raises(DomainError) as refused:
            services.save_policy(db, car_model=mache, amount=cap + Decimal("0.01"), kind=DepositKind.BINDING,
                                 refund_window_days=0, price_credit=cap + Decimal("0.01"), is_active=True,
                                 by=admin_user)
        assert refused.value.field == "amount" and "20%" in str(refused.value.user_message)
        policy = services.save_policy(db, car_model=mache, amount=cap, kind=DepositKind.BINDING,
                                      refund_window_days=0, price_credit=cap, is_active=True, by=admin_user)
        assert policy.amount == cap
        # A refundable 订金 is an advance payment: no cap beyond the form's range.
        refundable = services.save_policy(db, car_model=mache, amount=cap * 2, kind=DepositKind.REFUNDABLE,
                                          refund_window_days=0, price_credit=cap * 2, is_active=True, by=admin_user)
        assert refundable.kind is DepositKind.REFUNDABLE


def test_the_policy_form_refuses_a_binding_deposit_over_the_cap(client, db, catalog, admin_user, login_as):
    login_as(admin_user)
    mache = catalog.car_models[1]
    cheapest = min(t.msrp_cny for t in mache.trims if t.is_active)
    reply = client.post("/staff/reservations/policies/mustang-mach-e", headers=ZH, data={
        "amount": str(cheapest), "kind": "binding", "refund_window_days": "0", "price_credit": str(cheapest),
        "is_active": "y"})
    assert reply.status_code == 422
    assert "定金不得超过车价的 20%" in reply.get_data(as_text=True)


def test_the_self_service_test_drive_pay_page_says_security_deposit(app, db):
    from models import Payment, PaymentProvider, PaymentPurpose
    from storefront.payments import services as payments

    payment = Payment(purpose=PaymentPurpose.TEST_DRIVE_DEPOSIT, subject_id=1, provider=PaymentProvider.DEMO,
                      amount=Decimal("3000.00"))
    with app.test_request_context(headers=ZH):
        assert payments.heading_for(db, payment) == "支付押金"
