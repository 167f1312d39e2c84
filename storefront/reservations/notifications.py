"""The emails a reservation sends at each step, queued in the outbox with the change that causes them."""

from __future__ import annotations

from decimal import Decimal

from flask import has_request_context
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy.orm import Session

from models import Payment, Reservation
from storefront.outbox import public_url, queue_mail
from storefront.reservations.terms import reservation_terms

DEFAULT_LOCALE = "zh_Hans_CN"


def _locale_for(reservation: Reservation, fallback: str | None = None) -> str:
    """The shopper's language when they are the one asking (this request), else the store's default."""
    if fallback:
        return fallback
    if has_request_context() and getattr(current_user, "id", None) == reservation.user_id:
        locale = get_locale()
        if locale is not None:
            return str(locale)
    return DEFAULT_LOCALE


def _send(session: Session, reservation: Reservation, *, template: str, subject: str, locale: str | None = None,
          **context: object) -> None:
    user = reservation.user
    values: dict[str, object] = {
        "name": user.name,
        "reservation": reservation,
        "detail_url": public_url("reservations.detail", reference=reservation.reference),
        "mine_url": public_url("reservations.mine"),
        "reservation_terms": reservation_terms,  # called while rendering, so in the mail's language
        **context,
    }
    queue_mail(session, to=user.email, template=f"reservations/{template}", subject=subject,
               locale=_locale_for(reservation, locale), attachments=None, **values)


def started(session: Session, *, reservation: Reservation, payment: Payment, locale: str | None = None) -> None:
    pay_url = payment.redirect_url
    if pay_url.startswith("/"):
        pay_url = public_url("payments.demo_page", token=payment.provider_session_id)
    _send(session, reservation, template="started", subject="Your car is on hold: pay the deposit to reserve it",
          locale=locale, pay_url=pay_url)


def confirmed(session: Session, *, reservation: Reservation) -> None:
    _send(session, reservation, template="confirmed", subject="Reservation confirmed: your car is waiting for you")


def expired(session: Session, *, reservation: Reservation) -> None:
    _send(session, reservation, template="expired", subject="Your hold has ended")


def cancelled(session: Session, *, reservation: Reservation, refund: Decimal, by_store: bool) -> None:
    _send(session, reservation, template="cancelled", subject="Your reservation has been cancelled",
          refund=refund, by_store=by_store)


def completed(session: Session, *, reservation: Reservation) -> None:
    _send(session, reservation, template="completed", subject="Enjoy your new car")


def late_payment_refunded(session: Session, *, reservation: Reservation, amount: Decimal) -> None:
    _send(session, reservation, template="late_payment", subject="Your payment arrived too late and is refunded",
          amount=amount)
