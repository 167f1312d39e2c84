"""Payments services: starting a payment (demo and Stripe, offline), applying results once, refunds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import Payment, PaymentProvider, PaymentPurpose, PaymentStatus
from models.payments import from_fen, to_fen
from storefront.clock import now
from storefront.errors import ConflictError, DomainError
from storefront.payments import services
from storefront.payments.services import Fulfilment, PaymentOutcome

PURPOSE = PaymentPurpose.TEST_DRIVE_DEPOSIT  # any purpose works; the tests install their own recorder

pytestmark = pytest.mark.usefixtures("english_messages")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def hook(self, name: str):  # type: ignore[no-untyped-def]
        def _hook(_session, payment):  # type: ignore[no-untyped-def]
            self.calls.append((name, payment.id))

        return _hook


@pytest.fixture
def recorder(monkeypatch):  # type: ignore[no-untyped-def]
    rec = Recorder()
    monkeypatch.setitem(
        services._fulfilments, PURPOSE,
        Fulfilment(on_paid=rec.hook("paid"), on_failed=rec.hook("failed"), on_refunded=rec.hook("refunded")),
    )
    return rec


def start(db, app, **overrides):  # type: ignore[no-untyped-def]
    values = {
        "purpose": PURPOSE, "subject_id": 7, "amount": Decimal("5000.00"), "description": "Deposit for Koleos",
        "customer_email": "shopper@example.com", "success_url": "http://store.test/ok",
        "cancel_url": "http://store.test/no", "expires_at": now() + dt.timedelta(minutes=31),
        "idempotency_key": "pay-key-1",
    }
    values.update(overrides)
    with app.test_request_context():
        return services.start_payment(db, **values)


@pytest.mark.parametrize(
    ("amount", "fen"),
    [(Decimal("5000"), 500000), (Decimal("5000.00"), 500000), (Decimal("0.01"), 1), (Decimal("12345.67"), 1234567),
     (Decimal("199999.99"), 19999999)],
)
def test_amounts_become_exact_fen(amount, fen):
    assert to_fen(amount) == fen
    assert from_fen(fen) == amount


def test_fractions_of_a_fen_are_refused():
    with pytest.raises(ValueError, match="fen"):
        to_fen(Decimal("1.005"))


def test_demo_payment_opens_the_demo_page(db, app):
    payment = start(db, app)
    assert payment.provider is PaymentProvider.DEMO and payment.status is PaymentStatus.PENDING
    assert payment.redirect_url == f"/payments/demo/{payment.provider_session_id}"
    assert payment.amount == Decimal("5000.00") and payment.currency == "CNY"


def test_same_idempotency_key_returns_the_same_payment(db, app):
    first = start(db, app)
    assert start(db, app).id == first.id
    with pytest.raises(ConflictError):
        start(db, app, amount=Decimal("1.00"))
    assert db.scalar(select(func.count(Payment.id))) == 1


@pytest.mark.parametrize("amount", [5000.0, Decimal("0"), Decimal("-1"), Decimal("0.001")])
def test_bad_amounts_are_refused(db, app, amount):
    with pytest.raises(ValueError):
        start(db, app, amount=amount)


def test_demo_provider_is_refused_when_its_switch_is_off(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_PAYMENTS", False)
    monkeypatch.setitem(app.config, "DEMO_MODE", True)  # demo mode alone does not switch demo payments on
    with pytest.raises(DomainError, match="not available"):
        start(db, app)


def test_demo_payments_are_off_by_default_in_production(monkeypatch):
    from config import ProductionConfig

    monkeypatch.delenv("DEMO_PAYMENTS", raising=False)
    assert ProductionConfig().DEMO_PAYMENTS is False
    monkeypatch.setenv("DEMO_PAYMENTS", "1")
    assert ProductionConfig().DEMO_PAYMENTS is True


def test_stripe_checkout_session_request(db, app, fake_stripe):
    expires = now().replace(microsecond=0) + dt.timedelta(minutes=31)
    payment = start(db, app, expires_at=expires, metadata={"reference": "R-TEST23"})

    assert payment.provider is PaymentProvider.STRIPE
    assert payment.provider_session_id == "cs_test_0001"
    assert payment.redirect_url == "https://checkout.stripe.test/c/cs_test_0001"
    [request] = fake_stripe.requests("/v1/checkout/sessions")
    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == "pay-key-1"
    assert request.headers["Authorization"] == "Bearer sk_test_123"
    from tests.payments.stripe_fake import form

    sent = form(request)
    assert sent["mode"] == ["payment"]
    assert sent["line_items[0][price_data][currency]"] == ["cny"]
    assert sent["line_items[0][price_data][unit_amount]"] == ["500000"]
    assert sent["line_items[0][quantity]"] == ["1"]
    assert sent["expires_at"] == [str(int(expires.timestamp()))]
    assert sent["metadata[payment_id]"] == [str(payment.id)]
    assert sent["metadata[reference]"] == ["R-TEST23"]
    assert sent["metadata[purpose]"] == ["test_drive_deposit"]
    assert sent["payment_method_types[0]"] == ["card"]
    assert sent["payment_method_types[1]"] == ["alipay"]
    assert sent["payment_method_types[2]"] == ["wechat_pay"]
    assert sent["payment_method_options[wechat_pay][client]"] == ["web"]
    assert sent["customer_email"] == ["shopper@example.com"]
    assert sent["success_url"] == ["http://store.test/ok"]


def test_payment_methods_are_configurable(db, app, fake_stripe, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_PAYMENT_METHODS", "card, alipay")
    start(db, app)
    from tests.payments.stripe_fake import form

    sent = form(fake_stripe.requests("/v1/checkout/sessions")[0])
    assert "payment_method_types[2]" not in sent and "payment_method_options[wechat_pay][client]" not in sent
    assert sent["payment_method_types[1]"] == ["alipay"]


def test_stripe_needs_at_least_thirty_minutes(db, app, fake_stripe):
    with pytest.raises(ValueError, match="30 minutes"):
        start(db, app, expires_at=now() + dt.timedelta(minutes=29))
    assert fake_stripe.requests("/v1/checkout/sessions") == []


def test_stripe_refusing_is_a_clear_error(db, app, fake_stripe, httpserver):
    httpserver.clear_all_handlers()
    httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"error": {"type": "invalid_request_error", "message": "wechat_pay is not enabled"}}, status=400)
    with pytest.raises(DomainError, match="could not be started"):
        start(db, app)


def test_tests_cannot_reach_the_real_stripe(db, app, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_123")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "")
    with pytest.raises(RuntimeError, match="local fake"):
        start(db, app)


def test_paid_is_applied_once(db, app, recorder):
    payment = start(db, app)
    assert services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID) is True
    assert services.apply_payment_result(db, payment=payment, outcome="paid") is False
    assert payment.status is PaymentStatus.PAID and payment.paid_at is not None
    assert recorder.calls == [("paid", payment.id)]


def test_expiry_after_payment_changes_nothing(db, app, recorder):
    payment = start(db, app)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID)
    assert services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.EXPIRED) is False
    assert services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.FAILED) is False
    assert payment.status is PaymentStatus.PAID
    assert recorder.calls == [("paid", payment.id)]


def test_a_late_payment_after_expiry_is_still_money_received(db, app, recorder):
    payment = start(db, app)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.EXPIRED)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID)
    assert payment.status is PaymentStatus.PAID
    assert recorder.calls == [("failed", payment.id), ("paid", payment.id)]


def test_refund_in_two_parts_then_nothing_left(db, app, recorder):
    payment = start(db, app)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID)
    services.refund_payment(db, payment=payment, amount=Decimal("1000.00"), reason="partial")
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED and payment.refundable_amount == Decimal("4000.00")
    services.refund_payment(db, payment=payment, reason="rest")
    assert payment.status is PaymentStatus.REFUNDED and payment.refunded_amount == Decimal("5000.00")
    with pytest.raises(DomainError):
        services.refund_payment(db, payment=payment, reason="again")
    assert ("refunded", payment.id) not in recorder.calls  # the caller updates its own subject


def test_refund_of_an_unpaid_payment_is_refused(db, app):
    payment = start(db, app)
    with pytest.raises(DomainError, match="Nothing has been paid"):
        services.refund_payment(db, payment=payment, reason="x")


def test_stripe_refund_goes_through_the_api(db, app, fake_stripe, recorder):
    payment = start(db, app)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID, provider_payment_id="pi_test_9")
    services.refund_payment(db, payment=payment, amount=Decimal("2500.50"), reason="cancelled by shopper")
    [request] = fake_stripe.requests("/v1/refunds")
    from tests.payments.stripe_fake import form

    sent = form(request)
    assert sent["payment_intent"] == ["pi_test_9"] and sent["amount"] == ["250050"]
    assert request.headers["Idempotency-Key"] == f"refund-{payment.id}-250050"
    assert payment.refunded_amount == Decimal("2500.50")


def test_refund_reported_later_by_the_provider_is_not_applied_twice(db, app, recorder):
    payment = start(db, app)
    services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID)
    services.refund_payment(db, payment=payment, reason="x")
    again = services.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.REFUNDED,
                                          refunded_total=Decimal("5000.00"))
    assert again is False and recorder.calls == [("paid", payment.id)]


def test_abandon_marks_a_pending_payment_expired_only(db, app, fake_stripe):
    payment = start(db, app)
    assert services.abandon_payment(db, payment=payment, close_at_provider=True) is True
    assert payment.status is PaymentStatus.EXPIRED
    assert len(fake_stripe.requests(f"/v1/checkout/sessions/{payment.provider_session_id}/expire")) == 1
    assert services.abandon_payment(db, payment=payment, close_at_provider=True) is False
