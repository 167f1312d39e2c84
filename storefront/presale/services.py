"""Presale rules: campaigns, ordering in a launch-day spike, deposits that lock, numbers that go back in line.

The spike path is `place_order`: one indexed SELECT (is there an order already?), one INSERT ... ON CONFLICT DO
NOTHING, one UPDATE that claims the lowest free launch number (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
thousands of shoppers never queue behind each other's row locks; SQLite serialises writers anyway). One order per
shopper and per mainland mobile: a shopper's second press finds the first order, and the UNIQUE (campaign, user)
and (campaign, mobile) keys turn a press that raced it, or another account on the same mobile, into a no-op.
Numbers are claimed in rows the database owns, so no number is held twice and the count of free numbers can
never go below zero.

Lock order everywhere: the order row, then its launch number, then the payment, then (to pass a number on) the
oldest waiting order, taken with SKIP LOCKED so no path ever waits on another for it.
Services flush and never commit; the route, CLI command or webhook that calls them owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from models import CarModel, FunnelStep, Payment, PaymentPurpose, User
from models.presale import (
    BINDING_DEPOSIT_CAP,
    LaunchNumber,
    PresaleCampaign,
    PresaleError,
    PresaleOrder,
    PresaleOrderStatus,
)
from storefront.accounts.services import MOBILE_NUMBER
from storefront.audit import record_audit
from storefront.clock import now
from storefront.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError
from storefront.events import record_event
from storefront.payments import services as payments
from storefront.reservations.terms import deposit_word

log = logging.getLogger(__name__)


# --- campaigns ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignTerms:
    """What staff type into the campaign form (shape checked by the form, rules checked here)."""

    slug: str
    car_model_id: int
    name_en: str
    name_zh: str
    edition_size: int
    presale_price: Decimal
    deposit_amount: Decimal
    deposit_credit: Decimal
    opens_at: dt.datetime
    closes_at: dt.datetime
    deposit_window_minutes: int = 30
    refundable_days: int = 7
    balance_window_days: int = 30
    benefits_en: str = ""
    benefits_zh: str = ""
    trim_id: int | None = None


def check_terms(terms: CampaignTerms, *, max_credit: Decimal | None = None) -> None:
    """The law and the platform rules a campaign must keep; raises DomainError naming the field."""
    if terms.deposit_amount > (terms.presale_price * BINDING_DEPOSIT_CAP).quantize(Decimal("0.01")):
        raise DomainError(
            _("A deposit may be at most 20 per cent of the presale price (the legal cap for 定金)."),
            field="deposit_amount",
        )
    if terms.deposit_credit < terms.deposit_amount:
        raise DomainError(_("The deposit must count for at least what it costs."), field="deposit_credit")
    if terms.deposit_credit > terms.presale_price or (max_credit is not None and terms.deposit_credit > max_credit):
        raise DomainError(_("The deposit cannot count for more than the store will honour."), field="deposit_credit")
    if terms.closes_at <= terms.opens_at:
        raise DomainError(_("Orders must close after they open."), field="closes_at")
    if terms.opens_at.tzinfo is None or terms.closes_at.tzinfo is None:
        raise ValueError("campaign times must be timezone-aware")


def _check_terms_and_model(session: Session, terms: CampaignTerms) -> None:
    check_terms(terms)
    if session.get(CarModel, terms.car_model_id) is None:
        raise DomainError(_("Choose a model."), field="car_model_id")


def _number_launch_editions(session: Session, campaign: PresaleCampaign) -> None:
    """Launch numbers 1..edition_size, all free (a campaign with no order yet)."""
    session.execute(
        insert(LaunchNumber),
        [{"campaign_id": campaign.id, "number": n} for n in range(1, campaign.edition_size + 1)],
    )


def create_campaign(session: Session, *, actor: User | None, terms: CampaignTerms) -> PresaleCampaign:
    """A new campaign with its launch numbers 1..edition_size, all free."""
    _check_terms_and_model(session, terms)
    if session.scalar(select(PresaleCampaign.id).where(PresaleCampaign.slug == terms.slug)) is not None:
        raise DomainError(_("Another campaign uses this web address."), field="slug")
    campaign = PresaleCampaign(**terms.__dict__)
    session.add(campaign)
    session.flush()
    _number_launch_editions(session, campaign)
    record_audit(
        session,
        actor=actor,
        action="presale.campaign_created",
        entity_type="presale_campaign",
        entity_id=campaign.slug,
        before=None,
        after={"edition_size": terms.edition_size, "deposit": str(terms.deposit_amount)},
    )
    session.flush()
    return campaign


# What an order copies or relies on: fixed once the campaign has opened or has an order (each order keeps its own
# copy of the money terms, and every shopper ordered on the same ones). Names, benefits and the closing time may
# change until the end; the web address never does (it is the campaign's printed link).
SALE_TERMS = (
    "car_model_id",
    "trim_id",
    "edition_size",
    "presale_price",
    "deposit_amount",
    "deposit_credit",
    "opens_at",
    "deposit_window_minutes",
    "refundable_days",
    "balance_window_days",
)


def _same(old: object, new: object) -> bool:
    """Equal as the staff form shows them: times to the minute (the form has no seconds)."""
    if isinstance(old, dt.datetime) and isinstance(new, dt.datetime):
        return old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0)
    return old == new


def sale_terms_fixed(session: Session, campaign: PresaleCampaign, *, at: dt.datetime | None = None) -> bool:
    """Once a campaign has opened, or has an order (demo time travel), its SALE_TERMS no longer change."""
    if (at or now()) >= campaign.opens_at:
        return True
    return session.scalar(select(PresaleOrder.id).where(PresaleOrder.campaign_id == campaign.id).limit(1)) is not None


def update_campaign(
    session: Session,
    *,
    actor: User | None,
    campaign: PresaleCampaign,
    terms: CampaignTerms,
    at: dt.datetime | None = None,
) -> PresaleCampaign:
    """Change a campaign's terms (admins). Before it opens, with no order yet, everything but the web address may
    change (a new edition size renumbers its free launch numbers); after that only names, benefits and the closing
    time. Takes the campaign's row lock, so two admins' edits apply one after the other."""
    at = at or now()
    session.refresh(campaign, with_for_update=True)
    if terms.slug != campaign.slug:
        raise DomainError(_("The web address of a presale cannot change."), field="slug")
    _check_terms_and_model(session, terms)
    changed = {name for name, value in terms.__dict__.items() if not _same(getattr(campaign, name), value)}
    fixed = sorted(changed & set(SALE_TERMS)) if sale_terms_fixed(session, campaign, at=at) else []
    if fixed:
        raise ConflictError(
            _("Orders have opened: the sale terms can no longer change, only names, benefits and the closing time."),
            field=fixed[0],
        )
    if not changed:
        return campaign
    before = {name: str(getattr(campaign, name)) for name in sorted(changed)}
    for name in changed:
        setattr(campaign, name, getattr(terms, name))
    if "edition_size" in changed:  # no order yet, so every number is free: number them again
        session.execute(delete(LaunchNumber).where(LaunchNumber.campaign_id == campaign.id))
        _number_launch_editions(session, campaign)
    record_audit(
        session,
        actor=actor,
        action="presale.campaign_updated",
        entity_type="presale_campaign",
        entity_id=campaign.slug,
        before=before,
        after={name: str(getattr(campaign, name)) for name in sorted(changed)},
    )
    session.flush()
    return campaign


def get_campaign(session: Session, slug: str) -> PresaleCampaign:
    campaign = session.scalar(select(PresaleCampaign).where(PresaleCampaign.slug == slug))
    if campaign is None:
        raise NotFoundError(_("No such presale."))
    return campaign


def numbers_left(session: Session, campaign_id: int) -> int:
    """Launch numbers nobody holds: one count over the partial index of free numbers."""
    return int(
        session.scalar(
            select(func.count()).where(LaunchNumber.campaign_id == campaign_id, LaunchNumber.order_id.is_(None))
        )
        or 0
    )


# --- ordering -----------------------------------------------------------------------------------------------


def place_order(
    session: Session, *, campaign: PresaleCampaign, user: User, at: dt.datetime | None = None
) -> PresaleOrder:
    """The shopper's order: a held launch number, or a place in line when none is free. Idempotent per shopper."""
    existing = order_of(session, campaign_id=campaign.id, user_id=user.id)
    if existing is not None:
        return existing
    at = at or now()
    if not campaign.is_open(at):
        raise ConflictError(_("Orders are not open for this presale."))
    if not MOBILE_NUMBER.match(user.phone or "") or user.phone_verified_at is None:
        # The profile's own rule for a mainland mobile, proved by a texted code (storefront/accounts/services.py).
        raise DomainError(
            _("Add your mainland mobile number to your profile and verify it to order: one order per mobile."),
            field="phone",
        )
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    order = session.scalars(
        dialect_insert(PresaleOrder)
        .values(
            campaign_id=campaign.id,
            user_id=user.id,
            mobile=user.phone,
            status=PresaleOrderStatus.WAITLISTED,
            created_at=at,
            updated_at=at,
            deposit_amount=campaign.deposit_amount,
            deposit_credit=campaign.deposit_credit,
            presale_price=campaign.presale_price,
            refundable_days=campaign.refundable_days,
        )
        .on_conflict_do_nothing()  # either UNIQUE key: (campaign, shopper) or (campaign, mobile)
        .returning(PresaleOrder)
    ).one_or_none()
    if order is None:
        found = order_of(session, campaign_id=campaign.id, user_id=user.id)
        if found is not None:  # the same shopper's other request won the race: its order is the answer
            return found
        raise ConflictError(_("This mobile number has already ordered in this presale: one order per mobile."))
    number = _claim_free_number(session, campaign_id=campaign.id, order_id=order.id)
    if number is not None:
        order.hold(number=number, at=at, minutes=campaign.deposit_window_minutes)
        session.flush()
    record_event(
        session,
        FunnelStep.RESERVE,
        car_model_id=campaign.car_model_id,
        presale=campaign.slug,
        waitlisted=number is None,
    )
    return order


def _claim_free_number(session: Session, *, campaign_id: int, order_id: int) -> int | None:
    """Give the lowest free launch number to the order; None when every number is held (or being taken)."""
    lowest_free = (
        select(LaunchNumber.id)
        .where(LaunchNumber.campaign_id == campaign_id, LaunchNumber.order_id.is_(None))
        .order_by(LaunchNumber.number)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(LaunchNumber)
        .where(LaunchNumber.id == lowest_free, LaunchNumber.order_id.is_(None))
        .values(order_id=order_id)
        .returning(LaunchNumber.number)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return int(claimed) if claimed is not None else None


def order_of(session: Session, *, campaign_id: int, user_id: int) -> PresaleOrder | None:
    return session.scalar(
        select(PresaleOrder).where(PresaleOrder.campaign_id == campaign_id, PresaleOrder.user_id == user_id)
    )


def orders_of(session: Session, *, user_id: int) -> list[PresaleOrder]:
    """A shopper's presale orders, newest first, with their campaigns."""
    return list(
        session.scalars(
            select(PresaleOrder)
            .where(PresaleOrder.user_id == user_id)
            .order_by(PresaleOrder.id.desc())
            .options(selectinload(PresaleOrder.campaign))
        )
    )


def waitlist_position(session: Session, order: PresaleOrder) -> int | None:
    """1 for the first in line; None when the order is not waiting."""
    if order.status is not PresaleOrderStatus.WAITLISTED:
        return None
    ahead = session.scalar(
        select(func.count()).where(
            PresaleOrder.campaign_id == order.campaign_id,
            PresaleOrder.status == PresaleOrderStatus.WAITLISTED,
            PresaleOrder.id < order.id,
        )
    )
    return int(ahead or 0) + 1


def _require_owner(order: PresaleOrder, user: User) -> None:
    if order.user_id != user.id:
        raise PermissionDeniedError(_("This is not your order."))


def _audit(
    session: Session,
    order: PresaleOrder,
    action: str,
    *,
    actor: User | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        entity_type="presale_order",
        entity_id=str(order.id),
        before=before,
        after=after,
    )


def lock_order(session: Session, order_id: int) -> PresaleOrder:
    """Re-read the order with a row lock (FOR UPDATE on PostgreSQL), replacing any stale copy."""
    order = session.scalar(
        select(PresaleOrder)
        .where(PresaleOrder.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFoundError(_("No such presale order."))
    return order


def _pass_number_on(session: Session, *, campaign: PresaleCampaign, number: int, at: dt.datetime) -> None:
    """A number came back: the oldest order still waiting gets it (with a fresh deposit window), else it is free."""
    waiting = session.scalar(
        select(PresaleOrder)
        .where(PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.WAITLISTED)
        .order_by(PresaleOrder.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = session.scalar(
        select(LaunchNumber)
        .where(LaunchNumber.campaign_id == campaign.id, LaunchNumber.number == number)
        .with_for_update()
    )
    assert row is not None
    row.order_id = waiting.id if waiting is not None else None
    session.flush()
    if waiting is not None:
        waiting.hold(number=number, at=at, minutes=campaign.deposit_window_minutes)
        session.flush()


def _end_and_release(session: Session, order: PresaleOrder, end: str, *, at: dt.datetime) -> None:
    number = order.launch_number
    if number is not None:
        session.execute(
            update(LaunchNumber)
            .where(LaunchNumber.order_id == order.id)
            .values(order_id=None)
            .execution_options(synchronize_session=False)
        )
    getattr(order, end)(at=at)
    session.flush()
    if number is not None:
        _pass_number_on(session, campaign=order.campaign, number=number, at=at)


# --- deposit ------------------------------------------------------------------------------------------------


def start_deposit_payment(
    session: Session, *, order: PresaleOrder, user: User, success_url: str, cancel_url: str
) -> Payment:
    """Open the deposit payment for a held order; it ends with the hold. A second press reuses the first."""
    _require_owner(order, user)
    if order.status is not PresaleOrderStatus.HELD or order.hold_expires_at is None:
        raise ConflictError(_("This order has no launch number waiting for its deposit."))
    if order.hold_expires_at <= now() + payments.minimum_window():
        raise ConflictError(_("The time to pay this deposit has run out."))
    return payments.start_payment(
        session,
        purpose=PaymentPurpose.PRESALE_DEPOSIT,
        subject_id=order.id,
        amount=order.deposit_amount,
        description=_("Presale deposit, launch number %(number)04d", number=order.launch_number or 0),
        customer_email=user.email,
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=order.hold_expires_at,
        # One payment per hold: a shopper who gets a number back from the waitlist pays under a new key.
        idempotency_key=f"presale-{order.id}-{order.launch_number}-{int(order.hold_expires_at.timestamp())}",
        metadata={"presale_order": str(order.id)},
    )


def _lock_subject(session: Session, payment: Payment) -> None:
    lock_order(session, payment.subject_id)


def _on_paid(session: Session, payment: Payment) -> None:
    order = session.get(PresaleOrder, payment.subject_id)
    if order is None:
        return
    at = now()
    if order.status is PresaleOrderStatus.HELD:
        order.pay(at=at, balance_window_days=order.campaign.balance_window_days)
        _audit(
            session,
            order,
            "presale.deposit_paid",
            actor=None,
            before={"status": "held"},
            after={"status": order.status.value, "number": order.launch_number},
        )
        session.flush()
        return
    # The money came after the number went back (a slow webhook): it is refunded, nothing else changes.
    log.info("presale deposit arrived for order %s in state %s: refunding", order.id, order.status.value)
    payments.refund_payment(session, payment=payment, reason="requested_by_customer")


def _on_failed(session: Session, payment: Payment) -> None:
    """A failed deposit changes nothing yet: the shopper may try again while the hold lasts."""


def _on_refunded(session: Session, payment: Payment) -> None:
    order = session.get(PresaleOrder, payment.subject_id)
    if order is not None and order.status is PresaleOrderStatus.PAID:
        _end_and_release(session, order, "cancel", at=now())


def _pay_heading(session: Session, payment: Payment) -> str:
    order = session.get(PresaleOrder, payment.subject_id)
    if order is None:
        return str(_("Pay"))
    return str(
        _(
            "Pay the %(deposit)s for launch number %(number)04d",
            deposit=deposit_word(order.deposit_kind),
            number=order.launch_number or 0,
        )
    )


payments.register_heading(PaymentPurpose.PRESALE_DEPOSIT, _pay_heading)
payments.register_fulfilment(
    PaymentPurpose.PRESALE_DEPOSIT,
    on_paid=_on_paid,
    on_failed=_on_failed,
    on_refunded=_on_refunded,
    lock_subject=_lock_subject,
)


# --- the shopper's moves after paying -------------------------------------------------------------------------


def lock_now(session: Session, *, order_id: int, user: User) -> PresaleOrder:
    """The shopper makes the deposit binding before the refundable period ends (as Xiaomi lets them)."""
    order = lock_order(session, order_id)
    _require_owner(order, user)
    try:
        order.lock(at=now(), balance_window_days=order.campaign.balance_window_days)
    except PresaleError:
        raise ConflictError(_("Only a paid, still refundable deposit can be locked."))
    _audit(
        session, order, "presale.locked_by_shopper", actor=user, before={"status": "paid"}, after={"status": "locked"}
    )
    session.flush()
    return order


def cancel_order(session: Session, *, order_id: int, user: User) -> PresaleOrder:
    """Cancel while the deposit is refundable (full refund), or leave the waitlist; the number goes back in line."""
    order = lock_order(session, order_id)
    _require_owner(order, user)
    at = now()
    if order.status is PresaleOrderStatus.PAID and order.refundable_until is not None and at > order.refundable_until:
        raise ConflictError(_("The refundable period has ended; this deposit is now binding."))
    if order.status not in (PresaleOrderStatus.PAID, PresaleOrderStatus.WAITLISTED):
        raise ConflictError(_("This order can no longer be cancelled."))
    before = order.status.value
    payment = payments.payment_for(session, purpose=PaymentPurpose.PRESALE_DEPOSIT, subject_id=order.id)
    if order.status is PresaleOrderStatus.PAID:
        if payment is None or not payment.money_received:
            raise ConflictError(_("The deposit payment could not be found; please contact the store."))
        payments.refund_payment(session, payment=payment, reason="requested_by_customer")
    _end_and_release(session, order, "cancel", at=at)
    _audit(
        session, order, "presale.cancelled", actor=user, before={"status": before}, after={"status": order.status.value}
    )
    return order


# --- jobs (every host may run them at the same moment) ------------------------------------------------------


def _due(session: Session, *conditions: ColumnElement[bool], limit: int) -> list[int]:
    return list(session.scalars(select(PresaleOrder.id).where(*conditions).order_by(PresaleOrder.id).limit(limit)))


def _locked_when_due(
    session: Session, status: PresaleOrderStatus, deadline: InstrumentedAttribute[Any], *, at: dt.datetime, limit: int
) -> Iterator[PresaleOrder]:
    """Orders in `status` whose `deadline` has passed, each locked and checked again: another host running the same
    job, or the shopper, may have moved it between the query and the lock."""
    for order_id in _due(session, PresaleOrder.status == status, deadline <= at, limit=limit):
        order = lock_order(session, order_id)
        passed = getattr(order, deadline.key)
        if order.status is status and passed is not None and passed <= at:
            yield order


def expire_holds(session: Session, *, at: dt.datetime | None = None, limit: int = 500) -> int:
    """Holds whose deposit window passed: the number goes to the next in line. Returns how many expired."""
    at = at or now()
    done = 0
    for order in _locked_when_due(session, PresaleOrderStatus.HELD, PresaleOrder.hold_expires_at, at=at, limit=limit):
        payment = payments.payment_for(session, purpose=PaymentPurpose.PRESALE_DEPOSIT, subject_id=order.id)
        if payment is not None and payment.status.value == "pending":
            payments.abandon_payment(
                session, payment=payments.lock_payment(session, payment.id), close_at_provider=False
            )
        _end_and_release(session, order, "expire", at=at)
        done += 1
    return done


def lock_due(session: Session, *, at: dt.datetime | None = None, limit: int = 500) -> int:
    """Paid deposits whose refundable period ended become binding (定金). Returns how many locked."""
    at = at or now()
    done = 0
    for order in _locked_when_due(session, PresaleOrderStatus.PAID, PresaleOrder.refundable_until, at=at, limit=limit):
        order.lock(at=at, balance_window_days=order.campaign.balance_window_days)
        done += 1
    session.flush()
    return done


def forfeit_overdue(session: Session, *, at: dt.datetime | None = None, limit: int = 500) -> int:
    """Locked deposits whose balance window passed unpaid are forfeited (the 定金 rule); the number goes back in
    line. Returns how many were forfeited."""
    at = at or now()
    done = 0
    for order in _locked_when_due(session, PresaleOrderStatus.LOCKED, PresaleOrder.balance_due_by, at=at, limit=limit):
        _end_and_release(session, order, "forfeit", at=at)
        _audit(
            session, order, "presale.forfeited", actor=None, before={"status": "locked"}, after={"status": "forfeited"}
        )
        done += 1
    return done


def offer_free_numbers(session: Session, *, campaign: PresaleCampaign, at: dt.datetime | None = None) -> int:
    """Free numbers while shoppers wait (a spike transaction rolled back after claiming): hand them on in order."""
    at = at or now()
    offered = 0
    while True:
        waiting = session.scalar(
            select(PresaleOrder.id)
            .where(PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.WAITLISTED)
            .order_by(PresaleOrder.id)
            .limit(1)
        )
        if waiting is None:
            return offered
        order = lock_order(session, waiting)
        if order.status is not PresaleOrderStatus.WAITLISTED:
            continue
        number = _claim_free_number(session, campaign_id=campaign.id, order_id=order.id)
        if number is None:
            return offered
        order.hold(number=number, at=at, minutes=campaign.deposit_window_minutes)
        session.flush()
        offered += 1


# --- staff board --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardFigures:
    edition_size: int
    held: int
    paid: int
    locked: int
    waitlisted: int
    cancelled: int
    expired: int
    numbers_left: int


def board_figures(session: Session, campaign: PresaleCampaign) -> BoardFigures:
    """Counts by state in one grouped query, plus the free numbers."""
    by_status = dict(
        session.execute(
            select(PresaleOrder.status, func.count())
            .where(PresaleOrder.campaign_id == campaign.id)
            .group_by(PresaleOrder.status)
        ).all()
    )

    def count(status: PresaleOrderStatus) -> int:
        return int(by_status.get(status, 0))

    return BoardFigures(
        edition_size=campaign.edition_size,
        held=count(PresaleOrderStatus.HELD),
        paid=count(PresaleOrderStatus.PAID),
        locked=count(PresaleOrderStatus.LOCKED) + count(PresaleOrderStatus.COMPLETED),
        waitlisted=count(PresaleOrderStatus.WAITLISTED),
        cancelled=count(PresaleOrderStatus.CANCELLED),
        expired=count(PresaleOrderStatus.EXPIRED),
        numbers_left=numbers_left(session, campaign.id),
    )
