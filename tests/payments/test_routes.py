"""The Stripe webhook (signed offline exactly as Stripe signs) and the demo provider's page."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import Payment, PaymentProvider, PaymentPurpose, PaymentStatus, WebhookEvent
from storefront.clock import now
from storefront.payments import services
from storefront.payments.services import Fulfilment
from tests.payments import stripe_fake
from tests.payments.stripe_fake import completed_session, refunded_charge, sign

PURPOSE = PaymentPurpose.TEST_DRIVE_DEPOSIT
EN = {"Accept-Language": "en"}


@pytest.fixture
def calls(monkeypatch):  # type: ignore[no-untyped-def]
    seen: list[tuple[str, int]] = []

    def hook(name):  # type: ignore[no-untyped-def]
        return lambda _session, payment: seen.append((name, payment.id))

    monkeypatch.setitem(services._fulfilments, PURPOSE,
                        Fulfilment(on_paid=hook("paid"), on_failed=hook("failed"), on_refunded=hook("refunded")))
    return seen


def stripe_payment(db, *, session_id: str = "cs_test_hook", amount: str = "5000.00") -> Payment:  # type: ignore[no-untyped-def]
    payment = Payment(
        purpose=PURPOSE, subject_id=1, provider=PaymentProvider.STRIPE, provider_session_id=session_id,
        amount=Decimal(amount), idempotency_key=f"key-{session_id}", expires_at=now() + dt.timedelta(minutes=30),
        success_url="/ok", cancel_url="/no",
    )
    db.add(payment)
    db.flush()
    return payment


def post(client, body: bytes, signature: str | None):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/payments/webhook", data=body, headers=headers)


def events(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count(WebhookEvent.id))) or 0


def test_completed_session_marks_paid_once_however_often_it_arrives(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_1", "checkout.session.completed", completed_session(payment))
    replies = [post(client, body, sign(body)) for _ in range(10)]
    assert [r.status_code for r in replies] == [200] * 10
    assert replies[0].get_json()["result"] == "applied"
    assert {r.get_json()["result"] for r in replies[1:]} == {"duplicate"}
    db.refresh(payment)
    assert payment.status is PaymentStatus.PAID and payment.provider_payment_id == "pi_test_1"
    assert calls == [("paid", payment.id)]
    assert events(db) == 1


def test_the_same_payment_reported_by_another_event_changes_nothing(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    for event_id, kind in (("evt_a", "checkout.session.completed"),
                           ("evt_b", "checkout.session.async_payment_succeeded")):
        body = stripe_fake.event(event_id, kind, completed_session(payment))
        last = post(client, body, sign(body))
    assert last.get_json()["result"] == "no_change" and calls == [("paid", payment.id)]


@pytest.mark.parametrize(
    "forgery",
    ["wrong_secret", "changed_body", "missing_header", "stale_301s", "garbage_header", "not_json"],
)
def test_forged_or_stale_webhooks_are_refused_and_change_nothing(client, db, webhook_secret, calls, forgery):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_forged", "checkout.session.completed", completed_session(payment))
    signature: str | None = sign(body)
    if forgery == "wrong_secret":
        signature = sign(body, secret="whsec_someone_else")
    elif forgery == "changed_body":
        body = body.replace(b'"paid"', b'"paiD"')  # one byte
    elif forgery == "missing_header":
        signature = None
    elif forgery == "stale_301s":
        signature = sign(body, timestamp=int(time.time()) - 301)
    elif forgery == "garbage_header":
        signature = "t=abc,v1=xyz"
    elif forgery == "not_json":
        body = b"not json at all"
        signature = sign(body)
    reply = post(client, body, signature)
    assert reply.status_code == 400
    assert reply.get_json()["error"] == "invalid_signature"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING and calls == [] and events(db) == 0


def test_a_signature_299_seconds_old_is_accepted(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_299", "checkout.session.completed", completed_session(payment))
    reply = post(client, body, sign(body, timestamp=int(time.time()) - 299))
    assert reply.status_code == 200 and reply.get_json()["result"] == "applied"


def test_webhook_without_a_configured_secret_is_refused(client, db, app, monkeypatch, calls):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "")
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_x", "checkout.session.completed", completed_session(payment))
    assert post(client, body, sign(body)).status_code == 400


def test_unknown_event_types_are_acknowledged_and_ignored(client, db, webhook_secret, calls):
    body = stripe_fake.event("evt_u", "customer.created", {"id": "cus_1", "object": "customer"})
    reply = post(client, body, sign(body))
    assert reply.status_code == 200 and reply.get_json()["result"] == "ignored"
    assert calls == []


def test_unknown_payment_is_acknowledged_and_changes_nothing(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    obj = completed_session(payment) | {"id": "cs_test_nobody_knows"}
    body = stripe_fake.event("evt_unknown", "checkout.session.completed", obj)
    reply = post(client, body, sign(body))
    assert reply.status_code == 200 and reply.get_json()["result"] == "unknown_payment"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING and calls == []


@pytest.mark.parametrize("payment_id", ["99999999999999999999999", "-1", "abc", None])
def test_refund_event_with_odd_metadata_changes_nothing(client, db, webhook_secret, calls, payment_id):
    payment = stripe_payment(db)
    charge = refunded_charge(payment_intent="pi_unknown", amount=500000, amount_refunded=500000)
    charge["metadata"] = {"payment_id": payment_id}
    body = stripe_fake.event("evt_odd", "charge.refunded", charge)
    reply = post(client, body, sign(body))
    assert reply.status_code == 200 and reply.get_json()["result"] == "unknown_payment"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING and calls == []


def test_tampered_amount_is_not_fulfilled(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_cheap", "checkout.session.completed", completed_session(payment, amount_total=100))
    assert post(client, body, sign(body)).get_json()["result"] == "amount_mismatch"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING and calls == []


def test_expired_after_completed_keeps_it_paid(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    for event_id, kind in (("evt_c", "checkout.session.completed"), ("evt_e", "checkout.session.expired")):
        body = stripe_fake.event(event_id, kind, completed_session(payment))
        assert post(client, body, sign(body)).status_code == 200
    db.refresh(payment)
    assert payment.status is PaymentStatus.PAID and calls == [("paid", payment.id)]


def test_expired_session_fails_a_pending_payment(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_exp", "checkout.session.expired", completed_session(payment, payment_status="unpaid"))
    assert post(client, body, sign(body)).get_json()["result"] == "applied"
    db.refresh(payment)
    assert payment.status is PaymentStatus.EXPIRED and calls == [("failed", payment.id)]


def test_unpaid_completion_waits_for_the_async_result(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_wait", "checkout.session.completed",
                             completed_session(payment, payment_status="unpaid"))
    assert post(client, body, sign(body)).get_json()["result"] == "awaiting_payment"
    assert calls == []


def test_refund_made_in_the_dashboard_reaches_the_subject(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    paid = stripe_fake.event("evt_p", "checkout.session.completed", completed_session(payment))
    post(client, paid, sign(paid))
    refund = stripe_fake.event("evt_r", "charge.refunded",
                               refunded_charge(payment_intent="pi_test_1", amount=500000, amount_refunded=500000))
    assert post(client, refund, sign(refund)).get_json()["result"] == "applied"
    db.refresh(payment)
    assert payment.status is PaymentStatus.REFUNDED and payment.refunded_amount == Decimal("5000.00")
    assert calls == [("paid", payment.id), ("refunded", payment.id)]


def test_refund_arriving_before_the_payment_event(client, db, webhook_secret, calls):
    payment = stripe_payment(db)
    refund = stripe_fake.event("evt_r1", "charge.refunded", refunded_charge(
        payment_intent="pi_test_1", amount=500000, amount_refunded=100000, payment_id=payment.id))
    assert post(client, refund, sign(refund)).get_json()["result"] == "applied"
    paid = stripe_fake.event("evt_p1", "checkout.session.completed", completed_session(payment))
    assert post(client, paid, sign(paid)).get_json()["result"] == "no_change"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED and payment.refunded_amount == Decimal("1000.00")
    assert calls == [("paid", payment.id), ("refunded", payment.id)]


def test_webhook_needs_no_csrf_token_but_the_demo_page_does(client, db, app, webhook_secret, calls, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    payment = stripe_payment(db)
    body = stripe_fake.event("evt_csrf", "checkout.session.completed", completed_session(payment))
    assert post(client, body, sign(body)).status_code == 200
    demo = demo_payment(db, app)
    assert client.post(f"/payments/demo/{demo.provider_session_id}", data={"action": "pay"}).status_code == 400
    db.refresh(demo)
    assert demo.status is PaymentStatus.PENDING


def demo_payment(db, app, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "purpose": PURPOSE, "subject_id": 3, "amount": Decimal("3000.00"), "description": "Self-service test drive",
        "customer_email": "s@example.com", "success_url": "/after-pay", "cancel_url": "/after-decline",
        "expires_at": now() + dt.timedelta(minutes=30), "idempotency_key": "demo-key",
    }
    values.update(overrides)
    with app.test_request_context():
        return services.start_payment(db, **values)


def test_demo_page_is_clearly_labelled(client, db, app, calls):
    payment = demo_payment(db, app)
    page = client.get(payment.redirect_url, headers=EN).get_data(as_text=True)
    assert "Demo payment — no money moves" in page and "¥3,000" in page and "¥3,000.00" not in page
    assert 'name="action" value="pay"' in page and 'name="action" value="decline"' in page


def test_demo_page_label_in_chinese(client, db, app, calls):
    payment = demo_payment(db, app)
    page = client.get(payment.redirect_url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "演示支付——不会真实扣款" in page


def test_demo_pay_uses_the_same_fulfilment(client, db, app, calls):
    payment = demo_payment(db, app)
    reply = client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"})
    assert reply.status_code == 302 and reply.headers["Location"] == "/after-pay"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PAID and calls == [("paid", payment.id)]
    again = client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"})
    assert again.headers["Location"] == "/after-pay" and calls == [("paid", payment.id)]


def test_demo_decline(client, db, app, calls):
    payment = demo_payment(db, app)
    reply = client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "decline"})
    assert reply.headers["Location"] == "/after-decline"
    db.refresh(payment)
    assert payment.status is PaymentStatus.FAILED and calls == [("failed", payment.id)]


def test_demo_pay_after_the_deadline_expires_instead(client, db, app, calls):
    payment = demo_payment(db, app)
    payment.expires_at = now() - dt.timedelta(seconds=1)
    db.flush()
    reply = client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"})
    assert reply.headers["Location"] == "/after-decline"
    db.refresh(payment)
    assert payment.status is PaymentStatus.EXPIRED and calls == [("failed", payment.id)]


def test_demo_page_refuses_unknown_tokens_and_stripe_payments(client, db, calls):
    payment = stripe_payment(db)
    db.commit()  # error pages roll the request's session back; keep the test's rows (the fixture still discards them)
    assert client.get("/payments/demo/demo_nothing").status_code == 404
    assert client.get(f"/payments/demo/{payment.provider_session_id}").status_code == 404
    assert client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"}).status_code == 404
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING


def test_demo_payment_opened_while_the_switch_was_on_cannot_be_paid_once_it_is_off(client, db, app, calls,
                                                                                   monkeypatch):
    """Issue 11 row 7: a link to a demo payment is no free confirmation once demo payments are switched off."""
    payment = demo_payment(db, app)
    db.commit()  # the refusal page rolls the request's session back
    monkeypatch.setitem(app.config, "ENV_NAME", "production")  # as the store was probed: demo mode switched off
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    monkeypatch.setitem(app.config, "DEMO_PAYMENTS", False)
    page = client.get(payment.redirect_url, headers=EN).get_data(as_text=True)
    assert 'value="pay"' not in page and "Demo payments are switched off" in page
    reply = client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"}, headers=EN)
    assert reply.status_code in (403, 409, 422) and "switched off" in reply.get_data(as_text=True)
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING and calls == []
    monkeypatch.setitem(app.config, "DEMO_PAYMENTS", True)  # switched on again: the same link pays
    assert client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"}).status_code == 302
    db.refresh(payment)
    assert payment.status is PaymentStatus.PAID
@pytest.mark.parametrize("body", [
    b'[{"id": "evt_1", "type": "checkout.session.completed"}]',  # a JSON array, not an event
    b'"evt_1"',
    b"null",
    stripe_fake.event("evt_nul\u0000", "checkout.session.completed", {"id": "cs_x"}),
    stripe_fake.event("evt_nul_object", "checkout.session.completed", {"id": "cs_\u0000"}),
], ids=["array", "string", "null", "nul-in-event-id", "nul-in-object"])
def test_a_correctly_signed_body_that_is_not_a_usable_event_is_refused(client, db, webhook_secret, calls, body):
    response = post(client, body, sign(body))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_signature"
    assert events(db) == 0 and calls == []
