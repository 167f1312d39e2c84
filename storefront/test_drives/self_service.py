"""Self-service test drives at kiosk showrooms: keep a demo car for 1 or 3 days against a refundable deposit.

The flow follows the Tmall/Ford "test-drive vending" kiosk: choose a model, a kiosk showroom, a pick-up day
and time and 1 or 3 days; pay a refundable deposit (payments area: Stripe, or the demo provider offline); get
a pick-up code; staff hand the car over against the code and check it in on return, which refunds the deposit.

Rules decided here (also in the README): one active self-service drive per shopper (partial unique index);
a demo car is never out on two drives at once (PostgreSQL exclusion constraint on the car and the time range,
and a check after the insert on SQLite); an unpaid hold lasts HOLD_MINUTES, then the car is free again; a
deposit paid after the hold ran out, or for a drive cancelled meanwhile, is refunded at once; the shopper can
cancel until the cut-off before pick-up (full refund); no rescheduling (cancel and book again).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    BookingStatus,
    CarModel,
    Dealer,
    FunnelStep,
    Payment,
    PaymentPurpose,
    TestDriveBooking,
    TestDriveKind,
    Trim,
    User,
    Vehicle,
    VehicleStatus,
)
from models.test_drives import ACTIVE_STATUSES, InvalidTransition
from storefront import clock
from storefront.audit import record_audit
from storefront.errors import ConflictError
from storefront.events import record_event
from storefront.test_drives import services
from storefront.test_drives.services import refusal
from storefront.test_drives.slots import Window, local_datetime, local_day

DAY_CHOICES = (1, 3)
DEPOSIT_CNY = Decimal("3000.00")  # the Tmall/Ford kiosk's refundable deposit
HOLD_MINUTES = 30
PICKUP_STEP = dt.timedelta(hours=1)


@dataclass(frozen=True)
class PickupOption:
    starts_at: dt.datetime
    ends_at: dt.datetime
    cars_free: int

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(clock.STORE_TZ)

    @property
    def local_end(self) -> dt.datetime:
        return self.ends_at.astimezone(clock.STORE_TZ)


def kiosk_cars(session: Session, *, dealer_id: int, car_model_id: int) -> list[Vehicle]:
    """The kiosk's demo cars of the model (status demo_fleet), in id order."""
    return list(session.scalars(
        select(Vehicle).join(Trim, Vehicle.trim_id == Trim.id)
        .where(Vehicle.dealer_id == dealer_id, Vehicle.status == VehicleStatus.DEMO_FLEET,
               Trim.car_model_id == car_model_id)
        .order_by(Vehicle.id)
    ))


def _busy_ranges(session: Session, vehicle_ids: list[int], start: dt.datetime,
                 end: dt.datetime) -> list[tuple[int, dt.datetime, dt.datetime]]:
    if not vehicle_ids:
        return []
    rows = session.execute(
        select(TestDriveBooking.vehicle_id, TestDriveBooking.starts_at, TestDriveBooking.ends_at).where(
            TestDriveBooking.vehicle_id.in_(vehicle_ids), TestDriveBooking.status.in_(ACTIVE_STATUSES),
            TestDriveBooking.starts_at < end, TestDriveBooking.ends_at > start,
        )
    )
    return [(int(vid), s, e) for vid, s, e in rows if vid is not None]


def _return_fits(window: Window | None, due: dt.datetime) -> bool:
    local = due.astimezone(clock.STORE_TZ).time()
    return window is not None and window.opens <= local <= window.closes


def pickup_options(
    session: Session, *, dealer: Dealer, car_model: CarModel, day: dt.date, days: int
) -> list[PickupOption]:
    """Hourly pick-up times of the day whose return (same time, `days` later) falls in opening hours."""
    if days not in DAY_CHOICES or not dealer.has_self_service_kiosk:
        return []
    windows = services.windows_between(session, dealer=dealer, first=day, last=day + dt.timedelta(days=days))
    window = windows[day]
    if window is None:
        return []
    cars = kiosk_cars(session, dealer_id=dealer.id, car_model_id=car_model.id)
    earliest = clock.now() + services.BOOKING_LEAD
    options: list[tuple[dt.datetime, dt.datetime]] = []
    start = local_datetime(day, window.opens)
    last = local_datetime(day, window.closes) - PICKUP_STEP
    while start <= last:
        due = start + dt.timedelta(days=days)
        if start >= earliest and _return_fits(windows[day + dt.timedelta(days=days)], due):
            options.append((start.astimezone(dt.UTC), due.astimezone(dt.UTC)))
        start += PICKUP_STEP
    if not options:
        return []
    busy = _busy_ranges(session, [c.id for c in cars], options[0][0], options[-1][1])
    result = []
    for starts_at, ends_at in options:
        taken = {vid for vid, s, e in busy if s < ends_at and e > starts_at}
        result.append(PickupOption(starts_at, ends_at, len([c for c in cars if c.id not in taken])))
    return result


def expire_unpaid(session: Session, *, dealer_id: int | None = None, user_id: int | None = None) -> int:
    """Holds whose deposit was not paid in time give their car back; returns how many expired."""
    from storefront.payments import services as payments

    query = select(TestDriveBooking).where(
        TestDriveBooking.status == BookingStatus.PENDING_PAYMENT, TestDriveBooking.hold_expires_at <= clock.now()
    )
    if dealer_id is not None:
        query = query.where(TestDriveBooking.dealer_id == dealer_id)
    if user_id is not None:
        query = query.where(TestDriveBooking.user_id == user_id)
    expired = 0
    for booking in session.scalars(query.with_for_update()).all():
        booking.expire()
        payment = _payment(session, booking)
        if payment is not None:
            payments.abandon_payment(session, payment=payment, close_at_provider=False)
        expired += 1
    session.flush()
    return expired


def _payment(session: Session, booking: TestDriveBooking) -> Payment | None:
    if booking.payment_id is not None:
        return session.get(Payment, booking.payment_id)
    from storefront.payments import services as payments

    return payments.payment_for(session, purpose=PaymentPurpose.TEST_DRIVE_DEPOSIT, subject_id=booking.id)


def start_self_service(
    session: Session,
    *,
    shopper: User,
    dealer: Dealer,
    car_model: CarModel,
    starts_at: dt.datetime,
    days: int,
    contact_name: str,
    mobile: str,
    licence_confirmed: bool,
    return_url: Callable[[str], str],
    visit_key: str = "",
) -> tuple[TestDriveBooking, Payment]:
    """Hold a free kiosk demo car and open the deposit payment; send the shopper to `payment.redirect_url`.

    `return_url(reference)` is where the payment page sends the shopper back (paid or not).
    """
    from storefront.payments import services as payments

    name, phone = services.check_contact(contact_name, mobile, licence_confirmed)
    if not dealer.is_active or not dealer.has_self_service_kiosk:
        raise refusal(_("This showroom has no self-service kiosk."), code="not_offered")
    if days not in DAY_CHOICES:
        raise refusal(_("Choose 1 or 3 days."), code="invalid_days", field="days")
    if starts_at.tzinfo is None:
        raise refusal(_("Choose a pick-up time from the list."), code="invalid_time", field="starts_at")
    day = local_day(starts_at)
    window = services.check_bookable_day(session, dealer=dealer, day=day)
    first_pickup = local_datetime(day, window.opens)
    offset = starts_at - first_pickup
    if offset < dt.timedelta(0) or offset % PICKUP_STEP or starts_at > local_datetime(day, window.closes) - PICKUP_STEP:
        raise refusal(_("Pick-up times are on the hour within opening hours (%(opens)s–%(closes)s).",
                        opens=window.opens.strftime("%H:%M"), closes=window.closes.strftime("%H:%M")),
                      code="outside_hours", field="starts_at")
    if starts_at < clock.now() + services.BOOKING_LEAD:
        raise refusal(_("That pick-up time is too soon. Choose a later time."), code="too_soon", field="starts_at")
    ends_at = starts_at + dt.timedelta(days=days)
    if not _return_fits(services.window_on(session, dealer=dealer, day=local_day(ends_at)), ends_at):
        raise refusal(_("The car would be due back when the showroom is closed. Choose another day or length."),
                      code="return_closed", field="days")

    expire_unpaid(session, dealer_id=dealer.id)
    expire_unpaid(session, user_id=shopper.id)
    current = session.scalar(
        select(TestDriveBooking).where(
            TestDriveBooking.user_id == shopper.id, TestDriveBooking.kind == TestDriveKind.SELF_SERVICE,
            TestDriveBooking.status.in_(ACTIVE_STATUSES),
        )
    )
    if current is not None:
        raise refusal(
            _("You already have self-service drive %(reference)s. One at a time: finish or cancel it first.",
              reference=current.reference),
            code="one_self_service", kind=ConflictError,
        )
    cars = kiosk_cars(session, dealer_id=dealer.id, car_model_id=car_model.id)
    if not cars:
        raise refusal(_("This kiosk has no demo car of this model."), code="not_offered")
    busy = {vid for vid, _s, _e in _busy_ranges(session, [c.id for c in cars], starts_at, ends_at)}
    hold_until = clock.now() + max(dt.timedelta(minutes=HOLD_MINUTES), payments.minimum_window())
    booking: TestDriveBooking | None = None
    for car in (c for c in cars if c.id not in busy):
        candidate = TestDriveBooking(
            reference=services.new_reference(session), kind=TestDriveKind.SELF_SERVICE,
            status=BookingStatus.PENDING_PAYMENT, user_id=shopper.id, dealer_id=dealer.id,
            car_model_id=car_model.id, vehicle_id=car.id, starts_at=starts_at, ends_at=ends_at, days=days,
            contact_name=name, mobile=phone, licence_confirmed=True, deposit_cny=DEPOSIT_CNY,
            hold_expires_at=hold_until,
        )
        try:
            with session.begin_nested():
                services.flush_checked(session, candidate)
                if _car_double_booked(session, candidate):
                    raise _CarTaken
        except _CarTaken:
            continue
        except ConflictError as error:
            if error.code == "car_taken":  # another shopper got this car a moment ago: try the next one
                continue
            raise
        booking = candidate
        break
    if booking is None:
        raise refusal(_("All demo cars of this model are out at that time. Choose another day."),
                      code="no_car_free", kind=ConflictError)
    payment = payments.start_payment(
        session, purpose=PaymentPurpose.TEST_DRIVE_DEPOSIT, subject_id=booking.id, amount=DEPOSIT_CNY,
        description=f"Test-drive deposit {booking.reference} (refundable)", customer_email=shopper.email,
        success_url=return_url(booking.reference), cancel_url=return_url(booking.reference), expires_at=hold_until,
        idempotency_key=f"test-drive-deposit-{booking.reference}",
    )
    booking.payment_id = payment.id
    session.flush()
    record_event(session, FunnelStep.TEST_DRIVE, car_model_id=car_model.id, dealer_id=dealer.id,
                 city_id=dealer.city_id, visit_key=visit_key, kind=TestDriveKind.SELF_SERVICE.value, days=days)
    return booking, payment


class _CarTaken(Exception):
    pass


def _car_double_booked(session: Session, booking: TestDriveBooking) -> bool:
    return session.scalar(
        select(TestDriveBooking.id).where(
            TestDriveBooking.vehicle_id == booking.vehicle_id, TestDriveBooking.id != booking.id,
            TestDriveBooking.status.in_(ACTIVE_STATUSES),
            TestDriveBooking.starts_at < booking.ends_at, TestDriveBooking.ends_at > booking.starts_at,
        ).limit(1)
    ) is not None


def new_pickup_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# --- payment hooks (registered with the payments area) --------------------------------------------------------------


def _booking_for(session: Session, payment: Payment) -> TestDriveBooking | None:
    return session.scalar(
        select(TestDriveBooking).where(TestDriveBooking.id == payment.subject_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_booking(session: Session, payment: Payment) -> None:
    _booking_for(session, payment)


def on_deposit_paid(session: Session, payment: Payment) -> None:
    """Deposit arrived: confirm the drive with a pick-up code; too late (expired/cancelled) -> refund at once."""
    from storefront.payments import services as payments

    booking = _booking_for(session, payment)
    if booking is None:
        return
    if booking.status is BookingStatus.PENDING_PAYMENT:
        booking.confirm(pickup_code=new_pickup_code())
        booking.payment_id = payment.id
        session.flush()
        services.mail_booking(session, booking, "confirmed")
        return
    if booking.status in (BookingStatus.EXPIRED, BookingStatus.CANCELLED) and payment.refundable_amount > 0:
        payments.refund_payment(session, payment=payment, reason="test drive hold ended before the deposit arrived")
        booking.deposit_released_at = clock.now()
        session.flush()


def on_deposit_failed(session: Session, payment: Payment) -> None:
    booking = _booking_for(session, payment)
    if booking is not None and booking.status is BookingStatus.PENDING_PAYMENT:
        booking.expire()
        session.flush()


def on_deposit_refunded(session: Session, payment: Payment) -> None:
    """A refund made outside the app (e.g. Stripe dashboard): record that the deposit went back."""
    booking = _booking_for(session, payment)
    if booking is not None and booking.deposit_released_at is None:
        booking.deposit_released_at = clock.now()
        session.flush()


def register_payment_hooks() -> None:
    from storefront.payments import services as payments

    payments.register_fulfilment(
        PaymentPurpose.TEST_DRIVE_DEPOSIT, on_paid=on_deposit_paid, on_failed=on_deposit_failed,
        on_refunded=on_deposit_refunded, lock_subject=lock_booking,
    )
    # A self-service test drive takes a security deposit: 押金, never 订金 or 定金.
    payments.register_heading(PaymentPurpose.TEST_DRIVE_DEPOSIT,
                              lambda session, payment: pgettext("security deposit 押金", "Pay the deposit"))


# --- cancel, pick-up, return ----------------------------------------------------------------------------------------


def release_deposit(session: Session, *, booking: TestDriveBooking, reason: str) -> bool:
    """Give the whole deposit back (cancelled or returned), or drop the unpaid payment; True if money moved."""
    from storefront.payments import services as payments

    payment = _payment(session, booking)
    if payment is None:
        return False
    if payment.refundable_amount > 0:
        payments.refund_payment(session, payment=payment, reason=reason)
        booking.deposit_released_at = clock.now()
        session.flush()
        return True
    payments.abandon_payment(session, payment=payment, close_at_provider=False)
    return False


def _self_service(booking: TestDriveBooking) -> None:
    if not booking.is_self_service:
        raise refusal(_("This is not a self-service drive."), code="wrong_kind")


def hand_over(session: Session, *, booking: TestDriveBooking, actor: User, pickup_code: str) -> TestDriveBooking:
    """Staff give the car to the shopper who shows the right pick-up code, on or after the pick-up day."""
    services.require_staff_of(actor, booking.dealer_id)
    _self_service(booking)
    if booking.status is not BookingStatus.BOOKED:
        raise refusal(_("This drive cannot be picked up (it is %(status)s).", status=services.status_label(booking)),
                      code="invalid_transition", kind=ConflictError)
    if not booking.pickup_code or not hmac.compare_digest(booking.pickup_code, (pickup_code or "").strip()):
        raise refusal(_("That pick-up code is not right."), code="wrong_code", field="pickup_code")
    at = clock.now()
    if local_day(at) < local_day(booking.starts_at):
        raise refusal(_("The car can be picked up from %(day)s.", day=local_day(booking.starts_at).isoformat()),
                      code="too_early", kind=ConflictError)
    if at >= booking.ends_at:
        raise refusal(_("This drive has already ended."), code="too_late", kind=ConflictError)
    before = {"status": booking.status.value}
    booking.check_in(at=at)
    session.flush()
    record_audit(session, actor=actor, action="test_drive.pick_up", entity_type="test_drive_booking",
                 entity_id=booking.reference, before=before, after={"status": booking.status.value,
                                                                    "vehicle_id": booking.vehicle_id})
    return booking


def check_in_return(session: Session, *, booking: TestDriveBooking, actor: User, note: str = "") -> TestDriveBooking:
    """Staff take the car back: the drive is complete and the whole deposit is refunded."""
    services.require_staff_of(actor, booking.dealer_id)
    _self_service(booking)
    before = {"status": booking.status.value}
    try:
        booking.complete(at=clock.now())
    except InvalidTransition as error:
        raise refusal(_("Only a car that was picked up can be checked in."), code="invalid_transition",
                      kind=ConflictError) from error
    refunded = release_deposit(session, booking=booking, reason="test drive car returned")
    session.flush()
    record_audit(session, actor=actor, action="test_drive.return", entity_type="test_drive_booking",
                 entity_id=booking.reference, before=before,
                 after={"status": booking.status.value, "deposit_refunded": refunded}, note=note)
    services.mail_booking(session, booking, "returned", attach=False)
    return booking
