"""Deposit terms in plain words, the same sentences on the review page, the reservation page and in emails."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from models import DepositKind, DepositPolicy, Reservation
from storefront.i18n import format_cny


def deposit_terms(
    *,
    amount: Decimal,
    kind: DepositKind,
    refund_window_days: int,
    price_credit: Decimal,
    vehicle_price: Decimal | None = None,
) -> list[str]:
    """What the shopper agrees to, sentence by sentence, in the page's (or mail's) language."""
    money = format_cny(amount)
    lines = []
    if kind is DepositKind.REFUNDABLE:
        lines.append(_("This is a refundable deposit (订金), not a binding one."))
        if refund_window_days == 0:
            lines.append(_("Cancel any time before you pick the car up and you get all %(amount)s back.",
                           amount=money))
        else:
            lines.append(_("Cancel within %(days)d days of paying and you get all %(amount)s back; after that it is "
                           "kept if you cancel.", days=refund_window_days, amount=money))
    else:
        lines.append(_("This is a binding deposit (定金): if you cancel, it is not refunded."))
        if refund_window_days > 0:
            lines.append(_("Changed your mind? Cancel within %(days)d days of paying and you still get all %(amount)s "
                           "back.", days=refund_window_days, amount=money))
    if price_credit > amount:
        credit = _("At pick-up it counts as %(credit)s off the price, more than you paid (a 定金膨胀 offer).",
                   credit=format_cny(price_credit))
    else:
        credit = _("At pick-up the %(amount)s is taken off the price of the car.", amount=money)
    if vehicle_price is not None:
        rest = max(vehicle_price - price_credit, Decimal("0"))
        credit += " " + _("On a guide price of %(price)s you then pay %(rest)s.", price=format_cny(vehicle_price),
                          rest=format_cny(rest))
    lines.append(credit)
    lines.append(_("If the showroom cannot hand the car over, you always get the whole deposit back."))
    return lines


def policy_terms(policy: DepositPolicy, *, vehicle_price: Decimal | None = None) -> list[str]:
    """The terms a shopper is offered before paying."""
    return deposit_terms(amount=policy.amount, kind=policy.kind, refund_window_days=policy.refund_window_days,
                         price_credit=policy.price_credit, vehicle_price=vehicle_price)


def reservation_terms(reservation: Reservation) -> list[str]:
    """The terms a reservation was made under (copied from the policy of that day)."""
    return deposit_terms(amount=reservation.deposit_amount, kind=reservation.deposit_kind,
                         refund_window_days=reservation.refund_window_days, price_credit=reservation.price_credit,
                         vehicle_price=reservation.vehicle_price)
