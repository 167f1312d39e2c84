"""Reservation rules: hold a car with a deposit, confirm it when paid, release it when the hold runs out,
cancel with the refund the terms allow, hand it over at the showroom.

Locks are always taken in the same order, vehicle -> reservation -> payment, so two requests never wait on
each other in a circle. Holding a car is decided by the database: `SELECT ... FOR UPDATE` on PostgreSQL (SKIP
LOCKED when any unit will do), a conditional `UPDATE ... WHERE status = 'in_stock'` that checks the row count
elsewhere (SQLite), and a partial unique index that allows one live reservation per vehicle whatever happens.
Services flush and never commit; the caller owns the transaction and sends nothing before it commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import (
    CarModel,
    Dealer,
    DepositKind,
    DepositPolicy,
    FunnelStep,
    Payment,
    PaymentPurpose,
    Reservation,
    ReservationError,
    ReservationStatus,
    Trim,
    User,
    Vehicle,
    VehicleStatus,
    utcnow,
)
from models.reservations import REFERENCE_ALPHABET, new_reference
from storefront.audit import record_audit
from storefront.clock import now
from storefront.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError
from storefront.events import record_event
from storefront.i18n import format_cny, localised
from storefront.payments import services as payments
from storefront.reservations import notifications
from storefront.reservations.terms import BINDING_DEPOSIT_CAP, deposit_word

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_LIVE_RESERVATIONS_PER_SHOPPER = 3  # no hoarding: a shopper holds at most this many cars at once
ANY_UNIT_CANDIDATES = 20  # SQLite: units tried one after another when any unit of a trim and colour will do
FORM_LOCK_SPACE = 5_710_001  # first key of the advisory locks that serialise one reserve form's requests

ReturnUrls = Callable[[Reservation], tuple[str, str]]


# --- reading ------------------------------------------------------------------------------------------------


def find_by_reference(session: Session, code: str) -> Reservation | None:
    """The reservation with this reference ("R-7K3Q9M", also accepted as "r-7k3q9m" or "7K3Q9M")."""
    cleaned = (code or "").strip().upper().replace(" ", "")
    if not cleaned.startswith("R-"):
        cleaned = "R-" + cleaned
    if len(cleaned) != 8 or any(ch not in REFERENCE_ALPHABET for ch in cleaned[2:]):
        return None
    return session.scalar(select(Reservation).where(Reservation.reference == cleaned))


def policy_for(session: Session, *, car_model_id: int) -> DepositPolicy | None:
    """The model's active deposit policy; without one the model cannot be reserved online."""
    return session.scalar(
        select(DepositPolicy).where(DepositPolicy.car_model_id == car_model_id, DepositPolicy.is_active.is_(True))
    )


def hold_length() -> dt.timedelta:
    """How long a car is held while the shopper pays: RESERVATION_HOLD_MINUTES, but never shorter than the
    payment provider allows, so the Stripe Checkout Session ends exactly when the hold does."""
    configured = dt.timedelta(minutes=int(current_app.config.get("RESERVATION_HOLD_MINUTES", 30)))
    return max(configured, payments.minimum_window())


def payment_of(session: Session, reservation: Reservation) -> Payment | None:
    return payments.payment_for(session, purpose=PaymentPurpose.RESERVATION_DEPOSIT, subject_id=reservation.id)


# --- locking ------------------------------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_vehicle(session: Session, vehicle_id: int) -> Vehicle | None:
    """Row lock on PostgreSQL (a no-op elsewhere), and a fresh copy of the row either way."""
    return session.scalar(
        select(Vehicle).where(Vehicle.id == vehicle_id).with_for_update().execution_options(populate_existing=True)
    )


def _lock_reservation(session: Session, reservation_id: int) -> Reservation | None:
    return session.scalar(
        select(Reservation)
        .where(Reservation.id == reservation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_reservation(session: Session, reservation: Reservation) -> Reservation:
    """Lock its vehicle, then the reservation itself (the fixed order), and return the fresh reservation."""
    _lock_vehicle(session, reservation.vehicle_id)
    locked = _lock_reservation(session, reservation.id)
    if locked is None:
        raise NotFoundError(_("Reservation not found."))
    return locked


def _busy() -> ConflictError:
    return ConflictError(_("Many shoppers are reserving right now. Please try again in a moment."))


def _unavailable(vehicle: Vehicle) -> ConflictError:
    if vehicle.status in (VehicleStatus.ON_HOLD, VehicleStatus.RESERVED):
        return ConflictError(_("Someone else has just reserved this car. Please choose another one."))
    if vehicle.status is VehicleStatus.SOLD:
        return ConflictError(_("This car has been sold. Please choose another one."))
    return ConflictError(_("This car cannot be reserved online. Please choose another one."))


def _hold_vehicle(session: Session, *, vehicle_id: int, at: dt.datetime) -> Vehicle:
    """Move one vehicle from in stock to on hold, or refuse if it is not in stock. Decided by the database."""
    if _is_postgres(session):
        vehicle = _lock_vehicle(session, vehicle_id)
        if vehicle is None:
            raise NotFoundError(_("We could not find that car."))
        if vehicle.status is VehicleStatus.ON_HOLD:
            _release_if_hold_passed(session, vehicle=vehicle, at=at)
        if vehicle.status is not VehicleStatus.IN_STOCK:
            raise _unavailable(vehicle)
        vehicle.status = VehicleStatus.ON_HOLD
        session.flush()
        return vehicle
    if _conditional_hold(session, vehicle_id):
        return _fresh_vehicle(session, vehicle_id)
    vehicle = _fresh_vehicle(session, vehicle_id)
    held_too_long = vehicle.status is VehicleStatus.ON_HOLD and _release_if_hold_passed(session, vehicle=vehicle, at=at)
    if held_too_long and _conditional_hold(session, vehicle_id):
        return _fresh_vehicle(session, vehicle_id)
    raise _unavailable(_fresh_vehicle(session, vehicle_id))


def _conditional_hold(session: Session, vehicle_id: int) -> bool:
    """UPDATE vehicles SET status='on_hold' WHERE id=? AND status='in_stock': True if this request won the car."""
    try:
        result = session.execute(
            update(Vehicle)
            .where(Vehicle.id == vehicle_id, Vehicle.status == VehicleStatus.IN_STOCK)
            .values(status=VehicleStatus.ON_HOLD, version=Vehicle.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    except OperationalError as error:  # SQLite: another writer holds the database and waiting would deadlock
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            raise _busy() from error
        raise
    return bool(getattr(result, "rowcount", 0) == 1)


def _fresh_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.scalar(
        select(Vehicle).where(Vehicle.id == vehicle_id).execution_options(populate_existing=True)
    )
    if vehicle is None:
        raise NotFoundError(_("We could not find that car."))
    return vehicle


def _hold_any_unit(session: Session, *, trim_id: int, colour_code: str, dealer_id: int, at: dt.datetime) -> Vehicle:
    """Hold one free unit of a trim and colour at a showroom. PostgreSQL skips units other shoppers are locking."""
    free = (
        select(Vehicle.id)
        .where(
            Vehicle.trim_id == trim_id,
            Vehicle.colour_code == colour_code,
            Vehicle.dealer_id == dealer_id,
            Vehicle.status == VehicleStatus.IN_STOCK,
        )
        .order_by(Vehicle.id)
    )
    if _is_postgres(session):
        vehicle_id = session.scalar(free.limit(1).with_for_update(skip_locked=True))
        if vehicle_id is not None:
            vehicle = _fresh_vehicle(session, vehicle_id)
            vehicle.status = VehicleStatus.ON_HOLD
            session.flush()
            return vehicle
    else:
        for vehicle_id in session.scalars(free.limit(ANY_UNIT_CANDIDATES)).all():
            if _conditional_hold(session, vehicle_id):
                return _fresh_vehicle(session, vehicle_id)
    raise ConflictError(_("No unit of this trim and colour is free at this showroom right now."))


# --- reserving ----------------------------------------------------------------------------------------------


def _by_key(session: Session, key: str) -> Reservation | None:
    return session.scalar(
        select(Reservation).where(Reservation.idempotency_key == key).execution_options(populate_existing=True)
    )


def _same_form_again(session: Session, *, key: str, user: User) -> Reservation | None:
    existing = _by_key(session, key)
    if existing is None:
        return None
    if existing.user_id != user.id:
        raise ConflictError(_("This reservation form has already been used. Please start again."))
    return existing


def _one_request_per_form(session: Session, key: str) -> None:
    """PostgreSQL: requests carrying the same form key take turns (a transaction-scoped advisory lock), so a
    double click waits for the first click's reservation and returns it, instead of holding a second unit
    or finding every unit locked. Taken before any row lock, and only one per transaction: no cycles.
    SQLite needs nothing here: it lets one writer in at a time."""
    if _is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(FORM_LOCK_SPACE, func.hashtext(key))))


def _unique_reference(session: Session) -> str:
    for _attempt in range(8):
        reference = new_reference()
        if session.scalar(select(Reservation.id).where(Reservation.reference == reference)) is None:
            return reference
    raise RuntimeError("could not find a free reservation reference")  # 887 million codes: practically never


def reserve(
    session: Session,
    *,
    user: User,
    idempotency_key: str,
    return_urls: ReturnUrls,
    vehicle_id: int | None = None,
    trim_id: int | None = None,
    colour_code: str | None = None,
    dealer_id: int | None = None,
    visit_key: str = "",
    locale: str = "zh_Hans_CN",
) -> Reservation:
    """Hold a specific car (`vehicle_id`), or any free unit of a trim and colour at a showroom, for `user`,
    and open the deposit payment. The deposit always comes from the model's policy, never from the request.

    The same `idempotency_key` (one per reserve form) returns the reservation it already made, so a
    double-clicked button or a retried request never makes a second one. Raises ConflictError when the car
    has gone, DomainError when it cannot be reserved at all.
    """
    key = (idempotency_key or "").strip()
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise DomainError(_("This form has expired. Please open the car again and reserve from there."))
    _one_request_per_form(session, key)
    existing = _same_form_again(session, key=key, user=user)
    if existing is not None:
        return existing
    trim, dealer_id = _what_to_reserve(session, vehicle_id=vehicle_id, trim_id=trim_id, colour_code=colour_code,
                                       dealer_id=dealer_id)
    policy = policy_for(session, car_model_id=trim.car_model_id)
    if policy is None:
        raise DomainError(_("Online reservation is not open for this model yet. Please contact the showroom."))
    live = session.scalars(
        select(Reservation.id).where(
            Reservation.user_id == user.id,
            Reservation.status.in_([ReservationStatus.PENDING_PAYMENT, ReservationStatus.CONFIRMED]),
        )
    ).all()
    if len(live) >= MAX_LIVE_RESERVATIONS_PER_SHOPPER:
        raise DomainError(_("You already hold %(count)d cars. Pick up or cancel one before reserving another.",
                            count=len(live)))

    at = now()
    try:
        with session.begin_nested():
            if vehicle_id is not None:
                vehicle = _hold_vehicle(session, vehicle_id=vehicle_id, at=at)
            else:
                vehicle = _hold_any_unit(session, trim_id=trim.id, colour_code=colour_code or "",
                                         dealer_id=dealer_id, at=at)
            reservation = Reservation(
                reference=_unique_reference(session),
                user_id=user.id,
                vehicle=vehicle,
                dealer_id=vehicle.dealer_id,
                car_model_id=trim.car_model_id,
                status=ReservationStatus.PENDING_PAYMENT,
                idempotency_key=key,
                deposit_amount=policy.amount,
                deposit_kind=policy.kind,
                refund_window_days=policy.refund_window_days,
                price_credit=policy.price_credit,
                vehicle_price=trim.msrp_cny,
                hold_expires_at=at + hold_length(),
                created_at=at,
            )
            session.add(reservation)
            session.flush()
    except (IntegrityError, ConflictError) as error:
        # The same form may have won in a parallel request (a double click) while we waited for its lock;
        # the savepoint has undone this request's hold, so that request's reservation is the answer.
        again = _same_form_again(session, key=key, user=user)
        if again is not None:
            return again
        if isinstance(error, IntegrityError):  # the one-live-reservation-per-car index said no
            raise ConflictError(_("Someone else has just reserved this car. Please choose another one.")) from error
        raise

    success_url, cancel_url = return_urls(reservation)
    car = " ".join(localised(part, "name") for part in (trim.car_model.brand, trim.car_model, trim))
    payment = payments.start_payment(
        session,
        purpose=PaymentPurpose.RESERVATION_DEPOSIT,
        subject_id=reservation.id,
        amount=reservation.deposit_amount,
        description=_("%(deposit)s for %(car)s, reservation %(reference)s", car=car, reference=reservation.reference,
                      deposit=deposit_word(reservation.deposit_kind, capital=True)),
        customer_email=user.email,
        success_url=success_url,
        cancel_url=cancel_url,
        expires_at=reservation.hold_expires_at,
        idempotency_key=f"reservation-{reservation.reference}-deposit",
        metadata={"reference": reservation.reference},
    )
    record_event(session, FunnelStep.RESERVE, car_model_id=trim.car_model_id, dealer_id=vehicle.dealer_id,
                 city_id=vehicle.dealer.city_id, visit_key=visit_key, deposit_cny=reservation.deposit_amount)
    notifications.started(session, reservation=reservation, payment=payment, locale=locale)
    session.flush()
    return reservation


def _what_to_reserve(
    session: Session, *, vehicle_id: int | None, trim_id: int | None, colour_code: str | None, dealer_id: int | None
) -> tuple[Trim, int]:
    """Validate the request's shape against the catalog (no locks yet): the trim and showroom asked for."""
    if vehicle_id is not None:
        vehicle = session.get(Vehicle, vehicle_id)
        if vehicle is None:
            raise NotFoundError(_("We could not find that car."))
        trim, dealer = vehicle.trim, vehicle.dealer
    else:
        if trim_id is None or not colour_code or dealer_id is None:
            raise DomainError(_("Choose a trim, a colour and a showroom first."))
        found_trim = session.get(Trim, trim_id)
        found_dealer = session.get(Dealer, dealer_id)
        if found_trim is None or found_dealer is None or found_trim.colour(colour_code) is None:
            raise NotFoundError(_("We could not find that car."))
        trim, dealer = found_trim, found_dealer
    if not trim.is_active or not trim.car_model.is_active or not dealer.is_active:
        raise DomainError(_("This car cannot be reserved online. Please choose another one."))
    return trim, dealer.id


# --- fulfilment: what a payment result does to a reservation -------------------------------------------------


def _subject(session: Session, payment: Payment) -> Reservation | None:
    reservation = session.get(Reservation, payment.subject_id)
    if reservation is None:
        log.error("payment %s names reservation %s, which does not exist", payment.id, payment.subject_id)
    return reservation


def _lock_subject(session: Session, payment: Payment) -> None:
    """Before the payment row: the vehicle, then the reservation (the fixed lock order)."""
    reservation = _subject(session, payment)
    if reservation is not None:
        lock_reservation(session, reservation)


def _on_paid(session: Session, payment: Payment) -> None:
    reservation = _subject(session, payment)
    if reservation is None:
        return
    at = now()
    if reservation.status is ReservationStatus.PENDING_PAYMENT and reservation.vehicle.status is VehicleStatus.ON_HOLD:
        reservation.confirm(at=at)
    elif reservation.status is ReservationStatus.EXPIRED and _claim_again(session, reservation):
        # The money came after the hold ran out (a slow webhook), but the car is still free: keep the deal.
        reservation.confirm_late(at=at)
    else:
        if reservation.status is ReservationStatus.PENDING_PAYMENT:  # the car was taken off sale meanwhile
            reservation.expire(at=at)
            session.flush()
        _refund_late_payment(session, reservation=reservation, payment=payment)
        return
    session.flush()
    record_event(session, FunnelStep.PAY, car_model_id=reservation.car_model_id, dealer_id=reservation.dealer_id,
                 city_id=reservation.dealer.city_id, deposit_cny=payment.amount)
    notifications.confirmed(session, reservation=reservation)


def _claim_again(session: Session, reservation: Reservation) -> bool:
    """Put an expired reservation's car back on hold, if nobody else has taken it meanwhile."""
    vehicle = reservation.vehicle
    if vehicle.status is not VehicleStatus.IN_STOCK:
        return False
    if _is_postgres(session):
        vehicle.status = VehicleStatus.ON_HOLD  # the row is locked (lock_subject)
        session.flush()
        return True
    claimed = _conditional_hold(session, vehicle.id)
    _fresh_vehicle(session, vehicle.id)
    return claimed


def _refund_late_payment(session: Session, *, reservation: Reservation, payment: Payment) -> None:
    """Money for a reservation that is over (cancelled, or expired and the car has gone): give it all back."""
    if payment.refundable_amount <= 0:
        return
    log.warning("late payment %s for %s reservation %s: refunding", payment.id, reservation.status.value,
                reservation.reference)
    payments.refund_payment(session, payment=payment, reason=f"late payment for {reservation.reference}")
    notifications.late_payment_refunded(session, reservation=reservation, amount=payment.amount)


def _on_failed(session: Session, payment: Payment) -> None:
    reservation = _subject(session, payment)
    if reservation is not None and reservation.status is ReservationStatus.PENDING_PAYMENT:
        _expire(session, reservation, at=now(), payment=None)


def _on_refunded(session: Session, payment: Payment) -> None:
    """A refund made outside the store (e.g. in the Stripe dashboard): a fully refunded deposit ends the hold."""
    reservation = _subject(session, payment)
    if reservation is None or payment.refunded_amount < payment.amount:
        return
    if reservation.status in (ReservationStatus.CONFIRMED, ReservationStatus.CANCELLED):
        before = reservation.status.value
        reservation.mark_refunded(at=now())
        record_audit(session, actor=None, action="reservation.refunded_at_provider", entity_type="reservation",
                     entity_id=reservation.reference, before={"status": before},
                     after={"status": reservation.status.value, "refunded": str(payment.refunded_amount)})
        notifications.cancelled(session, reservation=reservation, refund=payment.refunded_amount,
                                by_store=True)


def _pay_heading(session: Session, payment: Payment) -> str:
    reservation = session.get(Reservation, payment.subject_id)
    if reservation is None:
        return str(_("Pay"))
    return str(_("Pay the %(deposit)s", deposit=deposit_word(reservation.deposit_kind)))


payments.register_heading(PaymentPurpose.RESERVATION_DEPOSIT, _pay_heading)
payments.register_fulfilment(
    PaymentPurpose.RESERVATION_DEPOSIT,
    on_paid=_on_paid,
    on_failed=_on_failed,
    on_refunded=_on_refunded,
    lock_subject=_lock_subject,
)


# --- hold expiry --------------------------------------------------------------------------------------------


def _expire(session: Session, reservation: Reservation, *, at: dt.datetime, payment: Payment | None) -> None:
    reservation.expire(at=at)
    if payment is not None:
        # Stripe's session ends at the same moment (expires_at = the hold), so nothing to close there.
        payments.abandon_payment(session, payment=payment, close_at_provider=False)
    session.flush()
    notifications.expired(session, reservation=reservation)


def _release_if_hold_passed(session: Session, *, vehicle: Vehicle, at: dt.datetime) -> bool:
    """The vehicle is on hold: if its reservation's time ran out, expire it now (we hold the vehicle's lock)."""
    reservation = session.scalar(
        select(Reservation).where(
            Reservation.vehicle_id == vehicle.id, Reservation.status == ReservationStatus.PENDING_PAYMENT
        )
    )
    if reservation is None or not reservation.hold_has_passed(at):
        return False
    reservation = _lock_reservation(session, reservation.id)
    if reservation is None or not reservation.hold_has_passed(at):
        return False
    payment = payment_of(session, reservation)
    if payment is not None:
        payment = payments.lock_payment(session, payment.id)
    _expire(session, reservation, at=at, payment=payment)
    return True


def release_expired_holds(session: Session, *, at: dt.datetime | None = None, limit: int = 100) -> int:
    """Expire every pending reservation whose hold has passed and put its car back on sale; returns how many.

    Cheap when there is nothing to do (one indexed query), so pages that show availability call it on every
    read, and `flask reservations expire` calls it from cron.
    """
    at = at or now()
    due = session.execute(
        select(Reservation.id, Reservation.vehicle_id)
        .where(Reservation.status == ReservationStatus.PENDING_PAYMENT, Reservation.hold_expires_at <= at)
        .order_by(Reservation.vehicle_id)
        .limit(limit)
    ).all()
    released = 0
    for reservation_id, vehicle_id in due:
        _lock_vehicle(session, vehicle_id)
        reservation = _lock_reservation(session, reservation_id)
        if reservation is None or not reservation.hold_has_passed(at):
            continue  # paid or cancelled meanwhile
        payment = payment_of(session, reservation)
        if payment is not None:
            payment = payments.lock_payment(session, payment.id)
        _expire(session, reservation, at=at, payment=payment)
        released += 1
    return released


# --- cancelling and handing over -----------------------------------------------------------------------------


def cancel(session: Session, *, reservation: Reservation, by: User, reason: str) -> Decimal:
    """Call a live reservation off and refund what the terms allow; returns the amount refunded.

    The shopper gets what `refund_due` says (订金 in full, 定金 only in its cooling-off period). When the store
    cancels, the shopper always gets the whole deposit back (a 定金 double: the second half is owed by the
    showroom and recorded in the audit trail), and staff must say why.
    """
    reservation = lock_reservation(session, reservation)
    if not reservation.can_cancel(by):
        if reservation.can_view(by):
            raise ConflictError(_("This reservation can no longer be cancelled."))
        raise PermissionDeniedError(_("You cannot cancel this reservation."))
    by_store = by.id != reservation.user_id
    reason = (reason or "").strip()
    if by_store and not reason:
        raise DomainError(_("Please give the reason for cancelling."), field="reason")
    payment = payment_of(session, reservation)
    if payment is not None:
        payment = payments.lock_payment(session, payment.id)
    at = now()
    before = {"status": reservation.status.value, "vehicle_status": reservation.vehicle.status.value}
    was_confirmed = reservation.status is ReservationStatus.CONFIRMED
    try:
        reservation.cancel(by=by, reason=reason, at=at)
    except ReservationError as error:
        raise ConflictError(_("This reservation can no longer be cancelled.")) from error
    refund = Decimal("0")
    if payment is not None and not was_confirmed:
        payments.abandon_payment(session, payment=payment, close_at_provider=True)
    elif payment is not None and payment.money_received:
        due = payment.refundable_amount if by_store else reservation.refund_due(at)
        refund = min(due, payment.refundable_amount)
        if refund > 0:
            payments.refund_payment(session, payment=payment, amount=refund,
                                    reason=f"reservation {reservation.reference} cancelled")
            reservation.mark_refunded(at=at)
    session.flush()
    if by.is_staff:
        after = {"status": reservation.status.value, "refund": str(refund)}
        if by_store and refund > 0 and reservation.deposit_kind is DepositKind.BINDING:
            # 定金 returned double (Civil Code art. 587): the provider refunds what was paid; the showroom pays
            # the same again itself, and the audit trail says it is owed.
            after["double_return_owed"] = str(refund)
        record_audit(session, actor=by, action="reservation.cancel", entity_type="reservation",
                     entity_id=reservation.reference, before=before, after=after, note=reason)
    notifications.cancelled(session, reservation=reservation, refund=refund, by_store=by_store)
    return refund


def complete(session: Session, *, reservation: Reservation, by: User) -> Reservation:
    """The shopper collected the car at the showroom: staff mark it picked up, and the car is sold."""
    reservation = lock_reservation(session, reservation)
    if not (by.is_staff and by.works_at(reservation.dealer_id)):
        raise PermissionDeniedError(_("Only staff of this showroom can hand this car over."))
    if not reservation.can_complete(by):
        raise ConflictError(_("Only a confirmed reservation, with the deposit paid, can be picked up."))
    before = {"status": reservation.status.value, "vehicle_status": reservation.vehicle.status.value}
    try:
        reservation.complete(by=by, at=now())
    except ReservationError as error:
        raise ConflictError(_("Only a confirmed reservation, with the deposit paid, can be picked up.")) from error
    session.flush()
    record_audit(session, actor=by, action="reservation.complete", entity_type="reservation",
                 entity_id=reservation.reference, before=before,
                 after={"status": reservation.status.value, "vehicle_status": reservation.vehicle.status.value})
    record_event(session, FunnelStep.PICKUP, car_model_id=reservation.car_model_id, dealer_id=reservation.dealer_id,
                 city_id=reservation.dealer.city_id)
    notifications.completed(session, reservation=reservation)
    return reservation


# --- deposit policies (admins) -------------------------------------------------------------------------------


def save_policy(
    session: Session,
    *,
    car_model: CarModel,
    amount: Decimal,
    kind: DepositKind,
    refund_window_days: int,
    price_credit: Decimal,
    is_active: bool,
    by: User,
) -> DepositPolicy:
    """Set a model's deposit terms (audited). Reservations already made keep the terms they were made under."""
    if not by.is_admin:
        raise PermissionDeniedError(_("Only administrators can change deposit terms."))
    amount = amount.quantize(Decimal("0.01"))
    price_credit = price_credit.quantize(Decimal("0.01"))
    if amount <= 0 or amount > Decimal("1000000"):
        raise DomainError(_("The deposit must be between ¥0.01 and ¥1,000,000."), field="amount")
    if price_credit < amount:
        raise DomainError(_("The credit towards the price cannot be less than the deposit."), field="price_credit")
    if not 0 <= refund_window_days <= 365:
        raise DomainError(_("The refund window is 0 to 365 days."), field="refund_window_days")
    if kind is DepositKind.BINDING:
        cheapest = session.scalar(select(func.min(Trim.msrp_cny)).where(Trim.car_model_id == car_model.id,
                                                                        Trim.is_active.is_(True)))
        cap = (cheapest * BINDING_DEPOSIT_CAP).quantize(Decimal("0.01")) if cheapest is not None else None
        if cap is not None and amount > cap:
            raise DomainError(_("A binding deposit (定金) may be at most 20%% of the price: %(cap)s on the cheapest "
                                "trim (%(price)s).", cap=format_cny(cap), price=format_cny(cheapest)), field="amount")
    policy = session.scalar(select(DepositPolicy).where(DepositPolicy.car_model_id == car_model.id))
    before = None if policy is None else _policy_values(policy)
    if policy is None:
        policy = DepositPolicy(car_model_id=car_model.id)
        session.add(policy)
    policy.amount = amount
    policy.kind = kind
    policy.refund_window_days = refund_window_days
    policy.price_credit = price_credit
    policy.is_active = is_active
    session.flush()
    record_audit(session, actor=by, action="deposit_policy.save", entity_type="car_model", entity_id=car_model.slug,
                 before=before, after=_policy_values(policy))
    return policy


def _policy_values(policy: DepositPolicy) -> dict[str, str]:
    return {"amount": str(policy.amount), "kind": policy.kind.value,
            "refund_window_days": str(policy.refund_window_days), "price_credit": str(policy.price_credit),
            "is_active": str(policy.is_active)}
