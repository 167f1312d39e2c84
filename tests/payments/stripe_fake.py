"""Offline Stripe for tests: a local fake API (pytest-httpserver) and webhook signing exactly as Stripe signs."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

import pytest

WEBHOOK_SECRET = "whsec_test_flagship"


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`Stripe-Signature: t=<unix>,v1=<hex>` with hex = HMAC-SHA256(secret, f"{t}.{raw_body}")."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event(event_id: str, event_type: str, obj: dict[str, Any]) -> bytes:
    body = {"id": event_id, "object": "event", "type": event_type, "api_version": "2025-01-27",
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}
    return json.dumps(body).encode()


def completed_session(payment: Any, *, payment_intent: str = "pi_test_1", amount_total: int | None = None,
                      currency: str = "cny", payment_status: str = "paid") -> dict[str, Any]:
    return {"id": payment.provider_session_id, "object": "checkout.session", "payment_status": payment_status,
            "status": "complete", "amount_total": payment.amount_fen if amount_total is None else amount_total,
            "currency": currency, "payment_intent": payment_intent,
            "metadata": {"payment_id": str(payment.id)}}


def refunded_charge(*, payment_intent: str, amount: int, amount_refunded: int, payment_id: int | None = None
                    ) -> dict[str, Any]:
    return {"id": "ch_test_1", "object": "charge", "payment_intent": payment_intent, "amount": amount,
            "amount_refunded": amount_refunded, "currency": "cny", "refunded": amount_refunded == amount,
            "metadata": {"payment_id": str(payment_id)} if payment_id else {}}


def form(request: Any) -> dict[str, list[str]]:
    """The form-encoded body the SDK sent, as {key: [values]} (keys like line_items[0][price_data][currency])."""
    return parse_qs(request.get_data(as_text=True))


class FakeStripe:
    """What the fake Stripe API received, plus the ids it handed out."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.sessions = 0
        self.refunds = 0

    def requests(self, path: str) -> list[Any]:
        return [request for request, _response in self.server.log if request.path == path]

    def checkout_handler(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        self.sessions += 1
        fields = form(request)
        session_id = f"cs_test_{self.sessions:04d}"
        body = {"id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.test/c/{session_id}",
                "expires_at": int(fields["expires_at"][0]), "status": "open", "payment_status": "unpaid",
                "amount_total": int(fields["line_items[0][price_data][unit_amount]"][0]), "currency": "cny"}
        return Response(json.dumps(body), status=200, content_type="application/json")

    def refund_handler(self, request: Any) -> Any:
        from werkzeug.wrappers import Response

        self.refunds += 1
        fields = form(request)
        body = {"id": f"re_test_{self.refunds:04d}", "object": "refund", "status": "succeeded",
                "amount": int(fields["amount"][0]), "currency": "cny", "payment_intent": fields["payment_intent"][0]}
        return Response(json.dumps(body), status=200, content_type="application/json")


@pytest.fixture
def fake_stripe(app, httpserver, monkeypatch):  # type: ignore[no-untyped-def]
    """Switch the app to Stripe, pointed at a local fake API that records every request."""
    fake = FakeStripe(httpserver)
    httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(fake.checkout_handler)
    httpserver.expect_request("/v1/refunds", method="POST").respond_with_handler(fake.refund_handler)
    httpserver.expect_request(re.compile(r"^/v1/checkout/sessions/[^/]+/expire$"), method="POST").respond_with_json(
        {"id": "cs_expired", "object": "checkout.session", "status": "expired"})
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_123")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", httpserver.url_for("").rstrip("/"))
    yield fake


@pytest.fixture
def webhook_secret(app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return WEBHOOK_SECRET


@pytest.fixture
def english_messages(db):  # type: ignore[no-untyped-def]
    """Service errors raised outside a request use the default locale (Chinese); these tests read English.

    Only for tests that call services directly: the forced locale would also cover the test client's requests.
    """
    from flask import g
    from flask_babel import force_locale

    g.english_messages = True  # force_locale does nothing while `g` is still empty
    with force_locale("en"):
        yield
