"""Taking and giving back money: start a payment, apply what the provider reports, refund.

Other areas use four functions: `start_payment` (a Stripe Checkout Session, or the demo provider without keys),
`refund_payment`, `register_fulfilment` (what to do with the subject when its payment is paid, fails or is
refunded) and `apply_payment_result`, the one fulfilment path that the Stripe webhook and the demo page share.
Services flush and never commit; the route, webhook or CLI command that calls them owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Payment, PaymentProvider, PaymentPurpose, PaymentStatus, WebhookEvent
from models.payments import from_fen, to_fen
from storefront.clock import now
from storefront.errors import ConflictError, DomainError, NotFoundError
from storefront.payments import stripe_gateway

log = logging.getLogger(__name__)

SubjectHook = Callable[[Session, Payment], None]


class PaymentOutcome(enum.Enum):
    """What a provider can tell us about a payment."""

    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Fulfilment:
    on_paid: SubjectHook
    on_failed: SubjectHook
    on_refunded: SubjectHook
    lock_subject: SubjectHook | None = None


_fulfilments: dict[PaymentPurpose, Fulfilment] = {}


def register_fulfilment(
    purpose: PaymentPurpose,
    *,
    on_paid: SubjectHook,
    on_failed: SubjectHook,
    on_refunded: SubjectHook,
    lock_subject: SubjectHook | None = None,
) -> None:
    """Say what happens to the subject of `purpose` payments. Each hook gets (session, payment).

    Hooks run inside the caller's transaction with the payment row locked, at most once per change:
    on_paid when money first arrives (also late, after the subject gave up: the hook must handle that),
    on_failed when a pending payment fails or expires, on_refunded when the provider reports a refund made
    outside refund_payment (e.g. from the Stripe dashboard). `lock_subject` (optional) locks the subject's
    rows before the payment row, so every path takes locks in the same order (vehicle, reservation, payment).
    """
    _fulfilments[purpose] = Fulfilment(on_paid, on_failed, on_refunded, lock_subject)


# What the pay page calls the payment ("Pay the 订金" / "定金" / "押金"): each purpose's area says, since only it
# knows which kind of deposit its subject takes.
_headings: dict[PaymentPurpose, Callable[[Session, Payment], str]] = {}


def register_heading(purpose: PaymentPurpose, heading: Callable[[Session, Payment], str]) -> None:
    _headings[purpose] = heading


def heading_for(session: Session, payment: Payment) -> str:
    """The pay page's heading for this payment, in the page's language."""
    heading = _headings.get(payment.purpose)
    return heading(session, payment) if heading is not None else _("Pay")


def provider() -> PaymentProvider:
    """Stripe when a secret key is configured, otherwise the demo provider."""
    return PaymentProvider.STRIPE if stripe_gateway.is_configured() else PaymentProvider.DEMO


def demo_provider_allowed() -> bool:
    """Never fake payments in production unless the store runs as a demo."""
    config = current_app.config
    return config.get("ENV_NAME") != "production" or bool(config.get("DEMO_MODE"))


def minimum_window() -> dt.timedelta:
    """Shortest time to pay the active provider accepts (Stripe: 30 minutes, plus a minute for the round trip)."""
    if provider() is PaymentProvider.STRIPE:
        return stripe_gateway.MIN_SESSION_LIFETIME + dt.timedelta(minutes=1)
    return dt.timedelta(0)


def lock_payment(session: Session, payment_id: int) -> Payment:
    """Re-read the payment with a row lock (FOR UPDATE on PostgreSQL), replacing any stale copy."""
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update().execution_options(populate_existing=True)
    )
    if payment is None:
        raise NotFoundError(_("Payment not found."))
    return payment


def payment_for(session: Session, *, purpose: PaymentPurpose, subject_id: int) -> Payment | None:
    """The latest payment for a subject."""
    return session.scalar(
        select(Payment)
        .where(Payment.purpose == purpose, Payment.subject_id == subject_id)
        .order_by(Payment.id.desc())
        .limit(1)
    )


def start_payment(
    session: Session,
    *,
    purpose: PaymentPurpose,
    subject_id: int,
    amount: Decimal,
    description: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: dt.datetime,
    idempotency_key: str,
    metadata: dict[str, str] | None = None,
) -> Payment:
    """Open a payment for `amount` CNY and return it; send the shopper to `payment.redirect_url`.

    With Stripe that is a Checkout Session (CNY, the configured methods, `expires_at` as its end, the same
    idempotency key sent to Stripe); without keys it is the demo page. The same key twice returns the same
    payment, so a double-clicked button never opens two.
    """
    if not isinstance(amount, Decimal) or amount <= 0:
        raise ValueError("amount must be a positive Decimal")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be a timezone-aware datetime")
    amount_fen = to_fen(amount)  # refuses fractions of a fen
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValueError("idempotency_key must be 1-255 characters")

    existing = session.scalar(select(Payment).where(Payment.idempotency_key == idempotency_key))
    if existing is not None:
        if (existing.purpose, existing.subject_id, existing.amount) != (purpose, subject_id, amount):
            raise ConflictError(_("This payment was already started with different details."))
        return existing

    chosen = provider()
    if chosen is PaymentProvider.DEMO and not demo_provider_allowed():
        raise DomainError(_("Online payment is not available right now. Please contact the showroom."))
    payment = Payment(
        purpose=purpose,
        subject_id=subject_id,
        provider=chosen,
        amount=amount,
        currency="CNY",
        status=PaymentStatus.PENDING,
        idempotency_key=idempotency_key,
        description=description[:200],
        customer_email=customer_email,
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=expires_at,
    )
    session.add(payment)
    session.flush()

    if chosen is PaymentProvider.STRIPE:
        lifetime = expires_at - now()
        if lifetime < stripe_gateway.MIN_SESSION_LIFETIME or lifetime > stripe_gateway.MAX_SESSION_LIFETIME:
            raise ValueError("Stripe Checkout needs an expiry between 30 minutes and 24 hours from now")
        params = stripe_gateway.checkout_params(
            amount_fen=amount_fen,
            description=description,
            customer_email=customer_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            metadata={
                "payment_id": str(payment.id),
                "purpose": purpose.value,
                "subject_id": str(subject_id),
                **(metadata or {}),
            },
        )
        try:
            checkout = stripe_gateway.create_checkout_session(params=params, idempotency_key=idempotency_key)
        except stripe_gateway.StripeUnavailable:
            raise DomainError(_("The payment could not be started. Nothing was charged; please try again."))
        payment.provider_session_id = checkout.id
        payment.redirect_url = checkout.url
    else:
        token = "demo_" + secrets.token_urlsafe(24)
        payment.provider_session_id = token
        payment.redirect_url = url_for("payments.demo_page", token=token)
    session.flush()
    return payment


def apply_payment_result(
    session: Session,
    *,
    payment: Payment,
    outcome: PaymentOutcome | str,
    provider_payment_id: str | None = None,
    refunded_total: Decimal | None = None,
) -> bool:
    """Apply what the provider reported, once. Returns False when there was nothing left to do.

    Locks the subject (through its fulfilment) and then the payment row, re-reads the payment, and calls the
    subject's hook only if the payment really changed: "paid" twice, or "expired" after "paid", does nothing.
    """
    outcome = PaymentOutcome(outcome)
    fulfilment = _fulfilments.get(payment.purpose)
    if fulfilment is not None and fulfilment.lock_subject is not None:
        fulfilment.lock_subject(session, payment)
    payment = lock_payment(session, payment.id)
    at = now()
    if outcome is PaymentOutcome.PAID:
        changed = payment.mark_paid(at=at, provider_payment_id=provider_payment_id)
        hook = fulfilment.on_paid if fulfilment else None
    elif outcome is PaymentOutcome.REFUNDED:
        if refunded_total is None:
            raise ValueError("a refund needs refunded_total")
        if not payment.money_received:  # the refund event overtook the payment event: it was paid first
            payment.mark_paid(at=at, provider_payment_id=provider_payment_id)
            if fulfilment:
                fulfilment.on_paid(session, payment)
        changed = payment.record_refund(refunded_total=refunded_total, at=at)
        hook = fulfilment.on_refunded if fulfilment else None
    else:
        status = PaymentStatus.FAILED if outcome is PaymentOutcome.FAILED else PaymentStatus.EXPIRED
        changed = payment.mark_unpaid(status)
        hook = fulfilment.on_failed if fulfilment else None
    session.flush()
    if changed and hook is not None:
        hook(session, payment)
        session.flush()
    return changed


def abandon_payment(session: Session, *, payment: Payment, close_at_provider: bool) -> bool:
    """The subject no longer wants this pending payment (cancelled, or its hold ran out): mark it expired.

    With `close_at_provider` the Stripe Checkout Session is expired too, so the shopper cannot pay any more;
    if Stripe says it is already complete, the payment event will arrive and the subject's on_paid refunds it.
    No hooks run: the caller is the subject and has already changed itself.
    """
    if payment.status is not PaymentStatus.PENDING:
        return False
    if close_at_provider and payment.provider is PaymentProvider.STRIPE and payment.provider_session_id:
        stripe_gateway.expire_checkout_session(payment.provider_session_id)
    payment.mark_unpaid(PaymentStatus.EXPIRED)
    session.flush()
    return True


def refund_payment(session: Session, *, payment: Payment, amount: Decimal | None = None, reason: str) -> Payment:
    """Give back `amount` (default: all that is left) of a paid payment; through Stripe's API when it came that way.

    Hooks are not called: the caller asked for the refund and updates its subject itself. If Stripe refunds
    but our transaction then fails, the charge.refunded webhook brings the database in line later.
    """
    payment = lock_payment(session, payment.id)
    if not payment.money_received:
        raise DomainError(_("Nothing has been paid, so there is nothing to refund."))
    left = payment.refundable_amount
    amount = left if amount is None else amount
    if not isinstance(amount, Decimal) or amount <= 0 or amount > left:
        raise DomainError(_("The refund must be more than zero and at most what is left to refund."), field="amount")
    to_fen(amount)  # whole fen only
    new_total = payment.refunded_amount + amount
    if payment.provider is PaymentProvider.STRIPE:
        if not payment.provider_payment_id:
            raise DomainError(_("This payment cannot be refunded online; please refund it in the Stripe dashboard."))
        try:
            stripe_gateway.create_refund(
                payment_intent_id=payment.provider_payment_id,
                amount_fen=to_fen(amount),
                idempotency_key=f"refund-{payment.id}-{to_fen(new_total)}",
                reason=reason,
            )
        except stripe_gateway.StripeUnavailable:
            raise DomainError(
                _("The payment service did not accept the refund. Nothing was changed; please try again.")
            )
    payment.record_refund(refunded_total=new_total, at=now())
    session.flush()
    return payment


# --- Stripe webhook -------------------------------------------------------------------------------------------


def handle_stripe_event(session: Session, *, event: stripe_gateway.StripeEvent) -> str:
    """Apply one verified Stripe event, once: the event id is stored UNIQUE before anything else happens.

    Returns what was done ("applied", "no_change", "duplicate", "ignored", "unknown_payment", ...). Unknown
    types and unknown payments change nothing but are remembered, so Stripe gets a 2xx and stops retrying.
    """
    record = WebhookEvent(provider=PaymentProvider.STRIPE, provider_event_id=event.id[:255], type=event.type[:100])
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        # Seen before (or being applied right now by another worker, which we waited for): nothing to do.
        log.info("stripe event %s already received", event.id)
        return "duplicate"
    result = _dispatch(session, event)
    record.result = result
    record.processed_at = now()
    session.flush()
    log.info("stripe event %s (%s): %s", event.id, event.type, result)
    return result


def _dispatch(session: Session, event: stripe_gateway.StripeEvent) -> str:
    obj = event.object
    if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        payment = _payment_for_checkout(session, obj)
        if payment is None:
            return "unknown_payment"
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return "awaiting_payment"  # a delayed method: async_payment_succeeded/failed will follow
        if str(obj.get("currency", "")).lower() != "cny" or obj.get("amount_total") != payment.amount_fen:
            log.error("stripe session %s amount %s %s does not match payment %s (%s fen)", obj.get("id"),
                      obj.get("amount_total"), obj.get("currency"), payment.id, payment.amount_fen)
            return "amount_mismatch"
        changed = apply_payment_result(session, payment=payment, outcome=PaymentOutcome.PAID,
                                       provider_payment_id=_str_or_none(obj.get("payment_intent")))
        return "applied" if changed else "no_change"
    if event.type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        payment = _payment_for_checkout(session, obj)
        if payment is None:
            return "unknown_payment"
        outcome = PaymentOutcome.EXPIRED if event.type.endswith("expired") else PaymentOutcome.FAILED
        return "applied" if apply_payment_result(session, payment=payment, outcome=outcome) else "no_change"
    if event.type == "charge.refunded":
        intent_id = _str_or_none(obj.get("payment_intent"))
        payment = _payment_for_charge(session, obj, intent_id)
        if payment is None:
            return "unknown_payment"
        refunded = obj.get("amount_refunded")
        if not isinstance(refunded, int) or str(obj.get("currency", "")).lower() != "cny" or refunded < 0 \
                or refunded > payment.amount_fen:
            log.error("stripe charge %s refund %s does not fit payment %s", obj.get("id"), refunded, payment.id)
            return "amount_mismatch"
        changed = apply_payment_result(session, payment=payment, outcome=PaymentOutcome.REFUNDED,
                                       provider_payment_id=intent_id, refunded_total=from_fen(refunded))
        return "applied" if changed else "no_change"
    return "ignored"


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _payment_for_checkout(session: Session, obj: dict[str, object]) -> Payment | None:
    session_id = _str_or_none(obj.get("id"))
    payment = None
    if session_id:
        payment = session.scalar(
            select(Payment).where(Payment.provider_session_id == session_id,
                                  Payment.provider == PaymentProvider.STRIPE)
        )
    if payment is None:
        log.warning("stripe checkout session %s matches no payment (metadata %s)", session_id, obj.get("metadata"))
    return payment


def _payment_for_charge(session: Session, obj: dict[str, object], intent_id: str | None) -> Payment | None:
    payment = None
    if intent_id:
        payment = session.scalar(
            select(Payment).where(Payment.provider_payment_id == intent_id, Payment.provider == PaymentProvider.STRIPE)
        )
    metadata = obj.get("metadata")
    raw_id = str(metadata.get("payment_id", "")) if isinstance(metadata, dict) else ""
    if payment is None and raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9:
        # The refund event overtook checkout.session.completed: find the payment by the id we put in metadata.
        payment = session.get(Payment, int(raw_id))
        if payment is not None and payment.provider is not PaymentProvider.STRIPE:
            payment = None
    if payment is None:
        log.warning("stripe charge %s (intent %s) matches no payment", obj.get("id"), intent_id)
    return payment


# --- Demo provider --------------------------------------------------------------------------------------------


def demo_payment(session: Session, *, token: str) -> Payment:
    payment = session.scalar(
        select(Payment).where(Payment.provider_session_id == token, Payment.provider == PaymentProvider.DEMO)
    )
    if payment is None:
        raise NotFoundError(_("This payment page does not exist."))
    return payment


def settle_demo_payment(session: Session, *, payment: Payment, pay: bool) -> PaymentOutcome | None:
    """The shopper pressed Pay or Decline on the demo page: the same fulfilment as a Stripe webhook.

    Returns the outcome applied, or None when the payment was already settled (a second click, a back button).
    """
    if payment.provider is not PaymentProvider.DEMO:
        raise NotFoundError(_("This payment page does not exist."))
    if payment.status is not PaymentStatus.PENDING:
        return None
    if now() >= payment.expires_at:
        outcome = PaymentOutcome.EXPIRED
    else:
        outcome = PaymentOutcome.PAID if pay else PaymentOutcome.FAILED
    changed = apply_payment_result(session, payment=payment, outcome=outcome,
                                   provider_payment_id=f"demo_pi_{payment.id}" if pay else None)
    return outcome if changed else None
