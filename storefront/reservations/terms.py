"""Deposit words and terms in plain words: the same sentences on the review page, the reservation page and in emails.

Chinese law gives the two kinds of deposit different words, and a page may never use the wrong one: 订金 is a
refundable advance payment, 定金 a binding deposit (Civil Code arts. 586-587: the payer who backs out loses it,
the store that backs out returns double, and it may not exceed 20% of the price). English says "deposit" for
both, so every sentence that names a reservation deposit takes the word from `deposit_word(kind)`.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import pgettext

from models import DepositKind, DepositPolicy, Reservation
from storefront.i18n import format_cny

# The 定金 cap (Civil Code art. 586): a binding deposit above 20% of the price is not a 定金 for the part above.
BINDING_DEPOSIT_CAP = Decimal("0.20")


def deposit_word(kind: DepositKind, *, capital: bool = False) -> str:
    """订金 for a refundable deposit, 定金 for a binding one; "deposit" / "Deposit" in English."""
    if kind is DepositKind.BINDING:
        word = pgettext("binding deposit 定金", "Deposit") if capital else pgettext("binding deposit 定金", "deposit")
    elif capital:
        word = pgettext("refundable deposit 订金", "Deposit")
    else:
        word = pgettext("refundable deposit 订金", "deposit")
    return str(word)


def deposit_kind_label(kind: DepositKind) -> str:
    """The kind spelled out, for the review page, staff pages and forms."""
    return str(_("Binding deposit (定金)") if kind is DepositKind.BINDING else _("Refundable deposit (订金)"))


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
        lines.append(_("This is a refundable deposit (订金): it is an advance payment, not a binding deposit."))
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
        credit = _("At pick-up it counts as %(credit)s off the price, more than you paid (a launch offer).",
                   credit=format_cny(price_credit))
    else:
        credit = _("At pick-up the %(amount)s is taken off the price of the car.", amount=money)
    if vehicle_price is not None:
        rest = max(vehicle_price - price_credit, Decimal("0"))
        credit += " " + _("On a guide price of %(price)s you then pay %(rest)s.", price=format_cny(vehicle_price),
                          rest=format_cny(rest))
    lines.append(credit)
    if kind is DepositKind.BINDING:  # Civil Code art. 587: the receiver who backs out returns double
        lines.append(_("If the store backs out of the sale or cannot hand the car over, it pays back double the "
                       "binding deposit (定金): %(double)s.", double=format_cny(amount * 2)))
    else:
        lines.append(_("If the showroom cannot hand the car over, you always get the whole %(deposit)s back.",
                       deposit=deposit_word(kind)))
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
