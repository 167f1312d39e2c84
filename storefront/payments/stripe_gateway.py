"""The one module that talks to Stripe: Checkout Sessions, refunds and webhook signatures.

Everything else in the app deals in Payment rows and plain dicts, so the SDK stays behind this wall.
Tests point the SDK at a local fake server through STRIPE_API_BASE; under TESTING an empty base is refused,
so no test can reach Stripe by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app

log = logging.getLogger(__name__)

# Stripe refuses a Checkout Session that lives less than 30 minutes or more than 24 hours from creation.
MIN_SESSION_LIFETIME = dt.timedelta(minutes=30)
MAX_SESSION_LIFETIME = dt.timedelta(hours=24)
WEBHOOK_TOLERANCE_SECONDS = 300  # stripe-python's default, written out so a reader sees it
HTTP_TIMEOUT_SECONDS = 20  # we hold row locks while Stripe answers: never the SDK's 80 s default
KNOWN_METHODS = ("card", "alipay", "wechat_pay")


class StripeUnavailable(Exception):
    """Stripe could not be reached or refused the request; nothing was charged or refunded."""


class InvalidWebhook(Exception):
    """The webhook's signature, timestamp or body is not what Stripe would send."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event, as plain data."""

    id: str
    type: str
    object: dict[str, Any]


def is_configured() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def _client() -> stripe.StripeClient:
    config = current_app.config
    api_key = config.get("STRIPE_SECRET_KEY") or ""
    base = config.get("STRIPE_API_BASE") or ""
    if config.get("TESTING") and not base:
        raise RuntimeError("tests must point STRIPE_API_BASE at a local fake server")
    cache: dict[tuple[str, str], stripe.StripeClient] = current_app.extensions.setdefault("stripe_clients", {})
    key = (api_key, base)
    if key not in cache:
        cache[key] = stripe.StripeClient(
            api_key,
            base_addresses={"api": base} if base else None,
            http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
            max_network_retries=2,  # safe: every write carries an idempotency key
        )
    return cache[key]


def payment_method_types() -> list[str]:
    """Configured methods (STRIPE_PAYMENT_METHODS), in a stable order, unknown names dropped."""
    wanted = {m.strip() for m in str(current_app.config.get("STRIPE_PAYMENT_METHODS", "card")).split(",")}
    methods = [m for m in KNOWN_METHODS if m in wanted]
    return methods or ["card"]


def checkout_params(
    *,
    amount_fen: int,
    description: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: dt.datetime,
    metadata: dict[str, str],
) -> dict[str, Any]:
    """The Checkout Session request: one line item in CNY fen, the subject in metadata, expiry = the hold."""
    methods = payment_method_types()
    params: dict[str, Any] = {
        "mode": "payment",
        "payment_method_types": methods,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {"currency": "cny", "unit_amount": amount_fen, "product_data": {"name": description}},
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": description},
        "client_reference_id": metadata.get("reference") or metadata["payment_id"],
    }
    if customer_email:
        params["customer_email"] = customer_email
    if "wechat_pay" in methods:
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}  # Stripe requires the client kind
    return params


def create_checkout_session(*, params: dict[str, Any], idempotency_key: str) -> CheckoutSession:
    try:
        session = _client().v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        log.warning("stripe checkout session failed: %s", error)
        raise StripeUnavailable(str(error)) from error
    if not session.url:
        raise StripeUnavailable("Stripe returned a Checkout Session without a URL")
    return CheckoutSession(id=session.id, url=session.url)


def expire_checkout_session(session_id: str) -> bool:
    """Close a Checkout Session early (the reservation was cancelled). False if Stripe would not."""
    try:
        _client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as error:
        log.info("stripe could not expire %s: %s", session_id, error)
        return False
    return True


def create_refund(*, payment_intent_id: str, amount_fen: int, idempotency_key: str, reason: str) -> str:
    """Refund part or all of a payment; returns the refund id."""
    try:
        refund = _client().v1.refunds.create(
            params={
                "payment_intent": payment_intent_id,
                "amount": amount_fen,
                "reason": "requested_by_customer",
                "metadata": {"note": reason[:450]},
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        log.warning("stripe refund failed for %s: %s", payment_intent_id, error)
        raise StripeUnavailable(str(error)) from error
    return str(refund.id)


def verify_webhook(payload: bytes, signature_header: str | None) -> StripeEvent:
    """Check `Stripe-Signature` against the raw body (HMAC-SHA256, 300 s tolerance) and parse the event."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise InvalidWebhook("no webhook secret configured")
    if not signature_header:
        raise InvalidWebhook("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature_header, secret,
                                              tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(str(error)) from error
    except UnicodeDecodeError as error:
        raise InvalidWebhook("body is not UTF-8") from error
    # Verified; read the same bytes as plain data (no SDK objects beyond this module). A signed body must still be
    # an event: a JSON object with string id and type, and no NUL anywhere (PostgreSQL refuses it in text).
    try:
        body = json.loads(payload)
    except ValueError as error:
        raise InvalidWebhook("body is not JSON") from error
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise InvalidWebhook("not a Stripe event")
    if b"\\u0000" in payload or b"\x00" in payload:
        raise InvalidWebhook("NUL character in the event")
    data = body.get("data") or {}
    obj = data.get("object") if isinstance(data, dict) else None
    return StripeEvent(id=body["id"], type=body["type"], object=obj if isinstance(obj, dict) else {})
