"""Test-drive rules: schedules, free slots, booking / moving / cancelling a drive, staff marks, reminders.

Self-service drives (kiosk showrooms, refundable deposit) live in `storefront.test_drives.self_service`.
Every function flushes and never commits; the route or CLI command that calls it owns the transaction.

Rules decided here (also in the README):
- a slot can be booked until BOOKING_LEAD (1 hour) before it starts, at most BOOKING_HORIZON_DAYS (90) ahead;
- the shopper can move or cancel a drive until CHANGE_CUTOFF (2 hours) before it starts; staff can cancel any
  upcoming drive of their showroom (audited);
- one slot place per demo car: the slot counter row is raised only by a conditional UPDATE (booked < capacity);
- a shopper's active bookings never overlap (PostgreSQL: exclusion constraint; both: a check after the insert,
  made while the transaction already holds the write lock on SQLite);
- per shopper: one upcoming accompanied drive per model per (Shanghai) day, and at most MAX_UPCOMING_DRIVES (3)
  upcoming drives in all, counted while the shopper's row is locked, so parallel forms cannot beat them;
- a booking changes state once: every change locks the booking row and reads it again first, so of two
  concurrent changes (double click, shopper and staff) one wins and the other gets a 409; locks are always
  taken in one order: the shopper's row, the booking row, then slot counters in id order;
- the reminder goes out once, the day before (Asia/Shanghai calendar day), claimed by a conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flask import has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import CursorResult, Update, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload

from models import (
    BookingStatus,
    CarModel,
    Dealer,
    FunnelStep,
    TestDriveBooking,
    TestDriveException,
    TestDriveFleet,
    TestDriveKind,
    TestDriveSchedule,
    TestDriveSlot,
    User,
)
from models.test_drives import ACTIVE_STATUSES, InvalidTransition
from storefront import clock
from storefront.audit import record_audit
from storefront.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError
from storefront.events import record_event
from storefront.i18n import localised, place
from storefront.outbox import public_url, queue_mail
from storefront.test_drives import calendar
from storefront.test_drives.slots import (
    SlotTime,
    Window,
    day_window,
    local_datetime,
    local_day,
    slot_times,
    validate_weekly_hours,
)

BOOKING_HORIZON_DAYS = 90
BOOKING_LEAD = dt.timedelta(hours=1)
CHANGE_CUTOFF = dt.timedelta(hours=2)
MAX_UPCOMING_DRIVES = 3  # per shopper, both kinds: nobody holds every demo car of a week
DEFAULT_SLOT_MINUTES = 45
MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read out over the phone
REFERENCE_LENGTH = 6  # characters after "T-"
REFERENCE_PATTERN = re.compile(rf"^T-[A-Z2-9]{{{REFERENCE_LENGTH}}}$")

StaffAction = Literal["check_in", "no_show", "complete"]


# --- errors with a machine-readable code (the API shows it) ---------------------------------------------------------


def refusal(
    message: str, *, code: str, field: str | None = None, kind: type[DomainError] = DomainError
) -> DomainError:
    error = kind(message, field=field)
    error.code = code
    return error


# --- schedules ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotView:
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    booked: int

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(clock.STORE_TZ)

    @property
    def local_end(self) -> dt.datetime:
        return self.ends_at.astimezone(clock.STORE_TZ)


def schedule_for(session: Session, *, dealer: Dealer) -> TestDriveSchedule:
    """The showroom's schedule; an unsaved default (its opening hours, 45-minute slots) when none is stored."""
    schedule = session.scalar(select(TestDriveSchedule).where(TestDriveSchedule.dealer_id == dealer.id))
    if schedule is not None:
        return schedule
    return TestDriveSchedule(
        dealer_id=dealer.id, weekly_hours=dict(dealer.opening_hours or {}), slot_minutes=DEFAULT_SLOT_MINUTES
    )


def exceptions_between(
    session: Session, *, dealer_id: int, first: dt.date, last: dt.date
) -> dict[dt.date, TestDriveException]:
    rows = session.scalars(
        select(TestDriveException).where(
            TestDriveException.dealer_id == dealer_id, TestDriveException.day.between(first, last)
        )
    )
    return {row.day: row for row in rows}


def windows_between(
    session: Session, *, dealer: Dealer, first: dt.date, last: dt.date, schedule: TestDriveSchedule | None = None
) -> dict[dt.date, Window | None]:
    """Opening hours of every day from `first` to `last` (two queries, whatever the range)."""
    schedule = schedule or schedule_for(session, dealer=dealer)
    exceptions = exceptions_between(session, dealer_id=dealer.id, first=first, last=last)
    result: dict[dt.date, Window | None] = {}
    day = first
    while day <= last:
        exception = exceptions.get(day)
        result[day] = day_window(
            schedule.weekly_hours, day,
            closed=exception.closed if exception else None,
            opens=exception.opens if exception else None,
            closes=exception.closes if exception else None,
        )
        day += dt.timedelta(days=1)
    return result


def window_on(session: Session, *, dealer: Dealer, day: dt.date) -> Window | None:
    return windows_between(session, dealer=dealer, first=day, last=day)[day]


def demo_cars(session: Session, *, dealer_id: int, car_model_id: int) -> int:
    """How many demo cars of the model the showroom has for accompanied drives (0 = not offered there)."""
    return session.scalar(
        select(TestDriveFleet.demo_cars).where(
            TestDriveFleet.dealer_id == dealer_id, TestDriveFleet.car_model_id == car_model_id
        )
    ) or 0


def today() -> dt.date:
    return local_day(clock.now())


def check_bookable_day(session: Session, *, dealer: Dealer, day: dt.date) -> Window:
    """The day's hours, or a refusal saying why nobody can book that day."""
    first = today()
    if day < first:
        raise refusal(_("That day is in the past. Choose today or a later day."), code="past_date", field="date")
    if day > first + dt.timedelta(days=BOOKING_HORIZON_DAYS):
        raise refusal(
            _("Test drives can be booked up to %(days)d days ahead. Choose an earlier day.",
              days=BOOKING_HORIZON_DAYS),
            code="too_far_ahead", field="date",
        )
    window = window_on(session, dealer=dealer, day=day)
    if window is None:
        raise refusal(_("The showroom is closed on that day. Choose another day."), code="closed_day", field="date")
    return window


def check_offered(session: Session, *, dealer: Dealer, car_model: CarModel) -> int:
    """The number of demo cars (the slot capacity); refuses models the showroom does not demo."""
    if not dealer.is_active or not dealer.offers_test_drive:
        raise refusal(_("This showroom does not offer test drives."), code="not_offered")
    if not car_model.is_active:
        raise refusal(_("This model is no longer offered for test drives."), code="not_offered")
    cars = demo_cars(session, dealer_id=dealer.id, car_model_id=car_model.id)
    if cars <= 0:
        raise refusal(_("This showroom has no demo car of this model. Choose another showroom."), code="not_offered")
    return cars


def available_slots(session: Session, *, dealer: Dealer, car_model: CarModel, day: dt.date) -> list[SlotView]:
    """Slots of the day that can still be booked, with their capacity and places left (three queries)."""
    window = window_on(session, dealer=dealer, day=day)
    cars = demo_cars(session, dealer_id=dealer.id, car_model_id=car_model.id)
    schedule = schedule_for(session, dealer=dealer)
    earliest = clock.now() + BOOKING_LEAD
    times = [s for s in slot_times(day, window, schedule.slot_minutes) if s.starts_at >= earliest]
    if not times or cars <= 0:
        return []
    counters = {
        row.starts_at: row
        for row in session.scalars(
            select(TestDriveSlot).where(
                TestDriveSlot.dealer_id == dealer.id,
                TestDriveSlot.car_model_id == car_model.id,
                TestDriveSlot.starts_at.between(times[0].starts_at, times[-1].starts_at),
            )
        )
    }
    views = []
    for slot in times:
        row = counters.get(slot.starts_at)
        views.append(SlotView(slot.starts_at, slot.ends_at, row.capacity if row else cars, row.booked if row else 0))
    return views


def slot_at(session: Session, *, dealer: Dealer, starts_at: dt.datetime) -> SlotTime:
    """The showroom slot starting at `starts_at`, or a refusal (past, closed, outside the hours, too soon)."""
    if starts_at.tzinfo is None:
        raise refusal(_("Choose a time from the list."), code="invalid_time", field="starts_at")
    window = check_bookable_day(session, dealer=dealer, day=local_day(starts_at))
    schedule = schedule_for(session, dealer=dealer)
    match = next(
        (s for s in slot_times(local_day(starts_at), window, schedule.slot_minutes) if s.starts_at == starts_at),
        None,
    )
    if match is None:
        raise refusal(
            _("That time is not one of the showroom's test-drive slots (it opens %(opens)s–%(closes)s).",
              opens=window.opens.strftime("%H:%M"), closes=window.closes.strftime("%H:%M")),
            code="outside_hours", field="starts_at",
        )
    if match.starts_at < clock.now() + BOOKING_LEAD:
        raise refusal(
            _("That slot starts too soon to book online. Choose a later time."), code="too_soon", field="starts_at"
        )
    return match


# --- locks: the shopper's row, then the booking row, then slot counters in id order ---------------------------------


def _take_write_turn(session: Session, statement: Update) -> None:
    """SQLite has no row locks but lets one writer in at a time: a write to the row takes that turn now.

    When another request wrote since this one began reading, SQLite refuses at once ("database is locked"):
    that request changed what this one saw, so it is a conflict, not a server error.
    """
    try:
        session.execute(statement.execution_options(synchronize_session=False))
    except OperationalError as error:
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            raise refusal(
                _("This test drive was changed at the same moment. Please reload the page and try again."),
                code="busy", kind=ConflictError,
            ) from error
        raise


def lock_shopper(session: Session, shopper_id: int) -> None:
    """Hold the shopper's row until commit, so one request at a time counts and changes their bookings.

    FOR NO KEY UPDATE on PostgreSQL: rows that merely reference the user (KEY SHARE) are not held up.
    """
    if session.get_bind().dialect.name == "sqlite":
        _take_write_turn(session, update(User).where(User.id == shopper_id).values(id=User.id))
        return
    session.execute(select(User.id).where(User.id == shopper_id).with_for_update(key_share=True))


def lock_booking(session: Session, booking: TestDriveBooking) -> TestDriveBooking:
    """Lock the booking row and read it again: of two concurrent changes, the second sees what the first did.

    Every change of a booking starts here, before it touches a slot counter, a payment or the outbox.
    """
    if session.get_bind().dialect.name == "sqlite":
        _take_write_turn(session, update(TestDriveBooking).where(TestDriveBooking.id == booking.id)
                         .values(id=TestDriveBooking.id))
    locked = session.scalar(
        select(TestDriveBooking).where(TestDriveBooking.id == booking.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise refusal(_("That booking does not exist."), code="not_found", kind=NotFoundError)
    return locked


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = local_datetime(day, dt.time(0, 0)).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)


def check_shopper_caps(
    session: Session, *, shopper_id: int, car_model_id: int | None, starts_at: dt.datetime,
    moving: TestDriveBooking | None = None,
) -> None:
    """One upcoming accompanied drive per model per day, at most MAX_UPCOMING_DRIVES upcoming drives in all.

    The caller holds the shopper's lock (`lock_shopper`), so concurrent requests count one after another.
    `moving` is the booking being rescheduled: it does not count against itself, and moving adds no drive.
    `car_model_id` None (a self-service drive) checks the total only.
    """
    upcoming = select(TestDriveBooking.id).where(
        TestDriveBooking.user_id == shopper_id,
        TestDriveBooking.status.in_((BookingStatus.PENDING_PAYMENT, BookingStatus.BOOKED)),
        TestDriveBooking.starts_at > clock.now(),
    )
    if moving is not None:
        upcoming = upcoming.where(TestDriveBooking.id != moving.id)
    if car_model_id is not None:
        first, last = _day_bounds(local_day(starts_at))
        same_day = session.scalar(
            select(TestDriveBooking.reference).where(
                TestDriveBooking.id.in_(upcoming.scalar_subquery()), TestDriveBooking.kind == TestDriveKind.SHOWROOM,
                TestDriveBooking.car_model_id == car_model_id,
                TestDriveBooking.starts_at >= first, TestDriveBooking.starts_at < last,
            ).limit(1)
        )
        if same_day is not None:
            raise refusal(
                _("You already have a test drive of this model that day (%(reference)s). One a day per model: "
                  "move that one instead, or choose another day.", reference=same_day),
                code="one_per_model_day", field="starts_at", kind=ConflictError,
            )
    if moving is None:
        count = session.scalar(select(func.count()).select_from(upcoming.subquery())) or 0
        if count >= MAX_UPCOMING_DRIVES:
            raise refusal(
                _("You already have %(count)d upcoming test drives, the most one shopper can hold. "
                  "Cancel one, or book again after one of them.", count=count),
                code="too_many_drives", kind=ConflictError,
            )


# --- the slot counter -----------------------------------------------------------------------------------------------


def _insert_ignore(session: Session, values: dict[str, Any]) -> None:
    """INSERT the counter row unless it exists (ON CONFLICT DO NOTHING on both databases)."""
    keys = ["dealer_id", "car_model_id", "starts_at"]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(TestDriveSlot).values(**values).on_conflict_do_nothing(index_elements=keys))
    else:
        session.execute(sqlite_insert(TestDriveSlot).values(**values).on_conflict_do_nothing(index_elements=keys))


def _counter_id(session: Session, *, dealer_id: int, car_model_id: int, slot: SlotTime, capacity: int) -> int:
    _insert_ignore(session, {
        "dealer_id": dealer_id, "car_model_id": car_model_id, "starts_at": slot.starts_at,
        "ends_at": slot.ends_at, "capacity": capacity, "booked": 0,
    })
    return session.execute(
        select(TestDriveSlot.id).where(
            TestDriveSlot.dealer_id == dealer_id, TestDriveSlot.car_model_id == car_model_id,
            TestDriveSlot.starts_at == slot.starts_at,
        )
    ).scalar_one()


def _take_place(session: Session, slot_id: int) -> None:
    """booked + 1 only while booked < capacity: the row lock makes concurrent takers queue, the WHERE re-checks."""
    result = session.execute(
        update(TestDriveSlot)
        .where(TestDriveSlot.id == slot_id, TestDriveSlot.booked < TestDriveSlot.capacity)
        .values(booked=TestDriveSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise refusal(
            _("Sorry, that slot has just filled up. Please choose another time."),
            code="slot_full", field="starts_at", kind=ConflictError,
        )


def _give_back_place(session: Session, slot_id: int) -> None:
    session.execute(
        update(TestDriveSlot)
        .where(TestDriveSlot.id == slot_id, TestDriveSlot.booked > 0)
        .values(booked=TestDriveSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _constraint_of(error: IntegrityError) -> str:
    diag = getattr(error.orig, "diag", None)
    return str(getattr(diag, "constraint_name", "") or error.orig)


def _overlapping_booking(session: Session, booking: TestDriveBooking) -> TestDriveBooking | None:
    return session.scalar(
        select(TestDriveBooking).where(
            TestDriveBooking.user_id == booking.user_id,
            TestDriveBooking.id != booking.id,
            TestDriveBooking.status.in_(ACTIVE_STATUSES),
            TestDriveBooking.starts_at < booking.ends_at,
            TestDriveBooking.ends_at > booking.starts_at,
        ).limit(1)
    )


def overlap_refusal(other: TestDriveBooking | None = None) -> DomainError:
    message = (
        _("You already have test drive %(reference)s at that time. Move or cancel it first.",
          reference=other.reference)
        if other else _("You already have a test drive at that time. Move or cancel it first.")
    )
    return refusal(message, code="overlap", field="starts_at", kind=ConflictError)


def flush_checked(session: Session, booking: TestDriveBooking) -> None:
    """Write the booking in a savepoint and refuse overlaps.

    PostgreSQL's exclusion constraint catches even concurrent overlaps; the query after the write covers
    SQLite, where that write already holds the database's only write lock.
    """
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError as error:
        name = _constraint_of(error)
        if "vehicle_overlap" in name:
            raise refusal(_("That demo car has just been taken."), code="car_taken", kind=ConflictError) from error
        if "one_self_service" in name or "test_drive_bookings.user_id" in name:  # PostgreSQL / SQLite wording
            raise refusal(
                _("You already have a self-service test drive. Finish or cancel it before booking another."),
                code="one_self_service", kind=ConflictError,
            ) from error
        if "user_overlap" in name:
            raise overlap_refusal() from error
        raise
    other = _overlapping_booking(session, booking)
    if other is not None:
        raise overlap_refusal(other)


# --- references, contact details ------------------------------------------------------------------------------------


def new_reference(session: Session) -> str:
    for _attempt in range(10):
        code = "T-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if session.scalar(select(TestDriveBooking.id).where(TestDriveBooking.reference == code)) is None:
            return code
    raise RuntimeError("could not find a free booking reference")  # 32^6 codes: practically unreachable


def normalise_reference(code: str) -> str:
    """"t-7kq2mx", "T 7KQ2MX" and "7KQ2MX" all give "T-7KQ2MX". A bare code may itself start with T ("TGWP8Q"),
    so a leading T is taken as the prefix only when the code is one character longer than a bare code."""
    cleaned = re.sub(r"[\s\-]", "", (code or "").upper())
    if len(cleaned) == REFERENCE_LENGTH + 1 and cleaned.startswith("T"):
        cleaned = cleaned[1:]
    return f"T-{cleaned}"


def find_by_reference(session: Session, code: str) -> TestDriveBooking | None:
    """The booking with this reference ("T-7KQ2MX"; case, spaces and the dash do not matter), or None."""
    reference = normalise_reference(code)
    if not REFERENCE_PATTERN.match(reference):
        return None
    return session.scalar(
        select(TestDriveBooking).where(TestDriveBooking.reference == reference)
        .options(joinedload(TestDriveBooking.dealer), joinedload(TestDriveBooking.car_model),
                 joinedload(TestDriveBooking.user))
    )


def normalise_mobile(raw: str) -> str:
    """'138 0013-8000' or '+86 13800138000' -> '13800138000'; refuses anything else."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not MOBILE_PATTERN.match(digits):
        raise refusal(
            _("Enter an 11-digit mainland China mobile number, e.g. 13800138000."), code="invalid_mobile",
            field="mobile",
        )
    return digits


def check_contact(contact_name: str, mobile: str, licence_confirmed: bool) -> tuple[str, str]:
    name = " ".join((contact_name or "").split())
    if not name or len(name) > 80:
        raise refusal(_("Enter the name of the driver (up to 80 characters)."), code="invalid_name",
                      field="contact_name")
    phone = normalise_mobile(mobile)
    if not licence_confirmed:
        raise refusal(
            _("Please confirm that the driver holds a valid driving licence."), code="licence_required",
            field="licence_confirmed",
        )
    return name, phone


# --- booking, moving, cancelling a showroom drive -------------------------------------------------------------------


def book_showroom_drive(
    session: Session,
    *,
    shopper: User,
    dealer: Dealer,
    car_model: CarModel,
    starts_at: dt.datetime,
    contact_name: str,
    mobile: str,
    licence_confirmed: bool,
    visit_key: str = "",
) -> TestDriveBooking:
    """Take one place in a slot for the shopper; refusals leave nothing behind."""
    name, phone = check_contact(contact_name, mobile, licence_confirmed)
    cars = check_offered(session, dealer=dealer, car_model=car_model)
    slot = slot_at(session, dealer=dealer, starts_at=starts_at)
    lock_shopper(session, shopper.id)
    same = session.scalar(
        select(TestDriveBooking).where(
            TestDriveBooking.user_id == shopper.id, TestDriveBooking.dealer_id == dealer.id,
            TestDriveBooking.car_model_id == car_model.id, TestDriveBooking.starts_at == slot.starts_at,
            TestDriveBooking.status == BookingStatus.BOOKED,
        )
    )
    if same is not None:  # a second click on "Book": the same booking, not an error
        return same
    check_shopper_caps(session, shopper_id=shopper.id, car_model_id=car_model.id, starts_at=slot.starts_at)
    with session.begin_nested():
        slot_id = _counter_id(session, dealer_id=dealer.id, car_model_id=car_model.id, slot=slot, capacity=cars)
        _take_place(session, slot_id)
        booking = TestDriveBooking(
            reference=new_reference(session), kind=TestDriveKind.SHOWROOM, status=BookingStatus.BOOKED,
            user_id=shopper.id, dealer_id=dealer.id, car_model_id=car_model.id, slot_id=slot_id,
            starts_at=slot.starts_at, ends_at=slot.ends_at, contact_name=name, mobile=phone,
            licence_confirmed=True,
        )
        flush_checked(session, booking)
    record_event(
        session, FunnelStep.TEST_DRIVE, car_model_id=car_model.id, dealer_id=dealer.id, city_id=dealer.city_id,
        visit_key=visit_key, kind=TestDriveKind.SHOWROOM.value,
    )
    mail_booking(session, booking, "confirmed")
    return booking


def _require_changeable(booking: TestDriveBooking, actor: User) -> None:
    if not booking.belongs_to(actor):
        raise refusal(_("This is not your booking."), code="forbidden", kind=PermissionDeniedError)
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.PENDING_PAYMENT):
        raise refusal(_("This booking can no longer be changed."), code="not_changeable", kind=ConflictError)
    if not booking.can_change(at=clock.now(), cutoff=CHANGE_CUTOFF):
        raise refusal(
            _("Bookings can be moved or cancelled online until %(hours)d hours before the start. "
              "Please call the showroom.", hours=int(CHANGE_CUTOFF.total_seconds() // 3600)),
            code="past_cutoff", kind=ConflictError,
        )


def reschedule_booking(
    session: Session, *, booking: TestDriveBooking, actor: User, starts_at: dt.datetime,
    seen_sequence: int | None = None,
) -> TestDriveBooking:
    """Move a showroom drive to another slot of the same showroom and model (before the cut-off).

    `seen_sequence` is the booking's `sequence` on the page the shopper sent (default: as this request loaded
    it): when the booking has changed since, the move is refused (409), so two moves sent at once move it once.
    """
    seen = booking.sequence if seen_sequence is None else seen_sequence
    lock_shopper(session, booking.user_id)
    booking = lock_booking(session, booking)
    _require_changeable(booking, actor)
    if booking.sequence != seen:
        raise refusal(
            _("This test drive has just been changed; it is now at %(time)s. Check it and choose again.",
              time=booking.starts_at.astimezone(clock.STORE_TZ).strftime("%Y-%m-%d %H:%M")),
            code="changed", field="starts_at", kind=ConflictError,
        )
    if booking.kind is not TestDriveKind.SHOWROOM or booking.slot_id is None:
        raise refusal(_("A self-service drive cannot be moved; cancel it and book again."), code="not_changeable")
    if starts_at == booking.starts_at:
        raise refusal(_("That is already the time of your booking."), code="same_time", field="starts_at")
    dealer, car_model = booking.dealer, booking.car_model
    cars = check_offered(session, dealer=dealer, car_model=car_model)
    slot = slot_at(session, dealer=dealer, starts_at=starts_at)
    check_shopper_caps(session, shopper_id=booking.user_id, car_model_id=car_model.id, starts_at=slot.starts_at,
                       moving=booking)
    with session.begin_nested():
        new_id = _counter_id(session, dealer_id=dealer.id, car_model_id=car_model.id, slot=slot, capacity=cars)
        old_id = booking.slot_id
        for slot_id in sorted((old_id, new_id)):  # one lock order, so two opposite moves cannot deadlock
            if slot_id == new_id:
                _take_place(session, new_id)
            else:
                _give_back_place(session, old_id)
        new_slot = session.get(TestDriveSlot, new_id, populate_existing=True)
        assert new_slot is not None
        before = _snapshot(booking)
        try:
            booking.move_to(slot=new_slot)
        except InvalidTransition as error:
            raise refusal(_("This booking can no longer be changed."), code="not_changeable") from error
        flush_checked(session, booking)
    _audit_if_staff(session, actor, booking, "test_drive.reschedule", before)
    mail_booking(session, booking, "rescheduled")
    return booking


def cancel_booking(session: Session, *, booking: TestDriveBooking, actor: User, reason: str = "") -> TestDriveBooking:
    """Cancel: the shopper until the cut-off, staff of the showroom any time before it is over (audited)."""
    booking = lock_booking(session, booking)
    acting_as_staff = not booking.belongs_to(actor) and actor.is_staff and actor.works_at(booking.dealer_id)
    if acting_as_staff:
        if not booking.is_active or booking.status is BookingStatus.CHECKED_IN:
            raise refusal(_("This booking can no longer be cancelled."), code="not_changeable", kind=ConflictError)
    else:
        _require_changeable(booking, actor)
    before = _snapshot(booking)
    was_confirmed = booking.status is BookingStatus.BOOKED
    booking.cancel(at=clock.now(), reason=reason)
    if booking.slot_id is not None:
        _give_back_place(session, booking.slot_id)
    if booking.is_self_service:
        from storefront.test_drives import self_service

        self_service.release_deposit(session, booking=booking, reason="test drive cancelled")
    session.flush()
    if acting_as_staff:
        record_audit(session, actor=actor, action="test_drive.cancel", entity_type="test_drive_booking",
                     entity_id=booking.reference, before=before, after=_snapshot(booking), note=reason)
    if was_confirmed:
        mail_booking(session, booking, "cancelled")
    return booking


# --- staff ----------------------------------------------------------------------------------------------------------


def require_staff_of(actor: User, dealer_id: int) -> None:
    if not actor.is_staff or not actor.works_at(dealer_id):
        raise refusal(_("You do not work at this showroom."), code="forbidden", kind=PermissionDeniedError)


def _snapshot(booking: TestDriveBooking) -> dict[str, Any]:
    return {"status": booking.status.value, "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat()}


def _audit_if_staff(session: Session, actor: User, booking: TestDriveBooking, action: str,
                    before: dict[str, Any]) -> None:
    if not booking.belongs_to(actor) and actor.is_staff:
        record_audit(session, actor=actor, action=action, entity_type="test_drive_booking",
                     entity_id=booking.reference, before=before, after=_snapshot(booking))


def mark_booking(session: Session, *, booking: TestDriveBooking, actor: User, action: StaffAction) -> TestDriveBooking:
    """Staff mark a showroom drive: arrived (check-in), did not come (no-show, once it started) or done."""
    require_staff_of(actor, booking.dealer_id)
    booking = lock_booking(session, booking)
    if booking.is_self_service:
        raise refusal(_("Use pick-up and return for self-service drives."), code="wrong_kind")
    before = _snapshot(booking)
    at = clock.now()
    try:
        if action == "check_in":
            booking.check_in(at=at)
        elif action == "no_show":
            booking.mark_no_show(at=at)
        elif action == "complete":
            booking.complete(at=at)
        else:
            raise refusal(_("Unknown action."), code="invalid")
    except InvalidTransition as error:
        labels = {"check_in": _("checked in"), "no_show": _("no-show"), "complete": _("completed")}
        raise refusal(
            _("Booking %(reference)s cannot be marked %(action)s now (it is %(status)s).",
              reference=booking.reference, action=labels.get(action, action), status=status_label(booking)),
            code="invalid_transition", kind=ConflictError,
        ) from error
    session.flush()
    record_audit(session, actor=actor, action=f"test_drive.{action}", entity_type="test_drive_booking",
                 entity_id=booking.reference, before=before, after=_snapshot(booking))
    return booking


def status_label(booking: TestDriveBooking) -> str:
    self_service = booking.is_self_service
    labels = {
        BookingStatus.PENDING_PAYMENT: _("awaiting deposit"),
        BookingStatus.BOOKED: _("booked"),
        BookingStatus.CHECKED_IN: _("car picked up") if self_service else _("checked in"),
        BookingStatus.COMPLETED: _("car returned") if self_service else _("completed"),
        BookingStatus.NO_SHOW: _("no-show"),
        BookingStatus.CANCELLED: _("cancelled"),
        BookingStatus.EXPIRED: _("expired (deposit not paid)"),
    }
    return str(labels[booking.status])


def _future_showroom_bookings(session: Session, dealer_id: int) -> list[TestDriveBooking]:
    return list(session.scalars(
        select(TestDriveBooking).where(
            TestDriveBooking.dealer_id == dealer_id, TestDriveBooking.kind == TestDriveKind.SHOWROOM,
            TestDriveBooking.status == BookingStatus.BOOKED, TestDriveBooking.starts_at > clock.now(),
        ).order_by(TestDriveBooking.starts_at)
    ))


def bookings_outside_hours(session: Session, *, dealer: Dealer) -> list[TestDriveBooking]:
    """Upcoming bookings whose slot no longer fits the showroom's hours (after a change staff made)."""
    bookings = _future_showroom_bookings(session, dealer.id)
    if not bookings:
        return []
    schedule = schedule_for(session, dealer=dealer)
    days = windows_between(session, dealer=dealer, first=local_day(bookings[0].starts_at),
                           last=local_day(bookings[-1].starts_at), schedule=schedule)
    outside = []
    for booking in bookings:
        day = local_day(booking.starts_at)
        starts = {s.starts_at for s in slot_times(day, days[day], schedule.slot_minutes)}
        if booking.starts_at not in starts:
            outside.append(booking)
    return outside


def update_schedule(
    session: Session, *, dealer: Dealer, actor: User, weekly_hours: Mapping[str, object], slot_minutes: int
) -> TestDriveSchedule:
    """Change a showroom's weekly hours and slot length (audited).

    The slot length cannot change while drives are booked ahead: slots of two lengths would overlap and the
    same demo car could be promised twice.
    """
    require_staff_of(actor, dealer.id)
    try:
        hours = validate_weekly_hours(weekly_hours)
    except ValueError as error:
        weekday = str(error)
        raise refusal(_("Opening hours must be HH:MM, and the showroom must open before it closes."),
                      code="invalid_hours", field=f"{weekday}_opens") from error
    if not 15 <= slot_minutes <= 240 or slot_minutes % 5:
        raise refusal(_("A slot lasts between 15 and 240 minutes, in steps of 5."), code="invalid_slot_length",
                      field="slot_minutes")
    schedule = schedule_for(session, dealer=dealer)
    before = {"weekly_hours": dict(schedule.weekly_hours or {}), "slot_minutes": schedule.slot_minutes}
    if slot_minutes != schedule.slot_minutes and _future_showroom_bookings(session, dealer.id):
        raise refusal(
            _("The slot length cannot change while test drives are booked ahead. Change it when they are done."),
            code="bookings_ahead", field="slot_minutes", kind=ConflictError,
        )
    schedule.weekly_hours = hours
    schedule.slot_minutes = slot_minutes
    session.add(schedule)
    session.flush()
    record_audit(session, actor=actor, action="test_drive.schedule", entity_type="dealer", entity_id=dealer.id,
                 before=before, after={"weekly_hours": hours, "slot_minutes": slot_minutes})
    return schedule


def set_demo_cars(session: Session, *, dealer: Dealer, actor: User, counts: Mapping[int, int]) -> None:
    """Set demo cars per model (slot capacity). Upcoming slots follow, never below what they already hold."""
    require_staff_of(actor, dealer.id)
    existing = {
        row.car_model_id: row
        for row in session.scalars(select(TestDriveFleet).where(TestDriveFleet.dealer_id == dealer.id))
    }
    known_models = set(session.scalars(select(CarModel.id).where(CarModel.id.in_(list(counts)))))
    changes: dict[str, Any] = {}
    for car_model_id, count in counts.items():
        if car_model_id not in known_models:
            raise refusal(_("Unknown model."), code="not_found", kind=NotFoundError)
        if not 0 <= count <= 50:
            raise refusal(_("Demo cars per model: between 0 and 50."), code="invalid_count",
                          field=f"model_{car_model_id}")
        row = existing.get(car_model_id)
        old = row.demo_cars if row else 0
        if old == count:
            continue
        if row is None:
            session.add(TestDriveFleet(dealer_id=dealer.id, car_model_id=car_model_id, demo_cars=count))
        else:
            row.demo_cars = count
        session.execute(
            update(TestDriveSlot)
            .where(TestDriveSlot.dealer_id == dealer.id, TestDriveSlot.car_model_id == car_model_id,
                   TestDriveSlot.starts_at > clock.now())
            .values(capacity=case((TestDriveSlot.booked > count, TestDriveSlot.booked), else_=count))
            .execution_options(synchronize_session=False)
        )
        changes[str(car_model_id)] = [old, count]
    session.flush()
    if changes:
        record_audit(session, actor=actor, action="test_drive.demo_cars", entity_type="dealer", entity_id=dealer.id,
                     before={k: v[0] for k, v in changes.items()}, after={k: v[1] for k, v in changes.items()})


def save_exception(
    session: Session, *, dealer: Dealer, actor: User, day: dt.date, closed: bool,
    opens: dt.time | None = None, closes: dt.time | None = None, note: str = "",
) -> TestDriveException:
    """Close a date, or give it special hours (one exception per date; saving again replaces it)."""
    require_staff_of(actor, dealer.id)
    if day < today():
        raise refusal(_("That day is in the past."), code="past_date", field="day")
    if not closed and (opens is None or closes is None or opens >= closes):
        raise refusal(_("Give the special opening and closing times (opening before closing)."),
                      code="invalid_hours", field="opens")
    row = session.scalar(
        select(TestDriveException).where(TestDriveException.dealer_id == dealer.id, TestDriveException.day == day)
    )
    before = _exception_dict(row) if row else None
    if row is None:
        row = TestDriveException(dealer_id=dealer.id, day=day)
        session.add(row)
    row.closed = closed
    row.opens = None if closed else opens
    row.closes = None if closed else closes
    row.note = (note or "").strip()[:200]
    session.flush()
    record_audit(session, actor=actor, action="test_drive.exception", entity_type="dealer", entity_id=dealer.id,
                 before=before, after=_exception_dict(row))
    return row


def delete_exception(session: Session, *, dealer: Dealer, actor: User, exception_id: int) -> None:
    require_staff_of(actor, dealer.id)
    row = session.get(TestDriveException, exception_id)
    if row is None or row.dealer_id != dealer.id:
        raise refusal(_("That exception does not exist."), code="not_found", kind=NotFoundError)
    before = _exception_dict(row)
    session.execute(delete(TestDriveException).where(TestDriveException.id == row.id))
    session.flush()
    record_audit(session, actor=actor, action="test_drive.exception_delete", entity_type="dealer",
                 entity_id=dealer.id, before=before, after=None)


def _exception_dict(row: TestDriveException) -> dict[str, Any]:
    return {"day": row.day.isoformat(), "closed": row.closed,
            "opens": row.opens.strftime("%H:%M") if row.opens else None,
            "closes": row.closes.strftime("%H:%M") if row.closes else None, "note": row.note}


# --- reminders ------------------------------------------------------------------------------------------------------


def send_reminders(session: Session) -> int:
    """Queue one reminder per drive that starts tomorrow (Shanghai calendar day); returns how many.

    A conditional UPDATE (reminder_sent_at IS NULL) claims each booking, so two overlapping runs, or a run
    repeated the same day, never remind anyone twice.
    """
    at = clock.now()
    tomorrow = local_day(at) + dt.timedelta(days=1)
    start = local_datetime(tomorrow, dt.time(0, 0)).astimezone(dt.UTC)
    end = start + dt.timedelta(days=1)
    due = session.scalars(
        select(TestDriveBooking).where(
            TestDriveBooking.status == BookingStatus.BOOKED, TestDriveBooking.reminder_sent_at.is_(None),
            TestDriveBooking.starts_at >= start, TestDriveBooking.starts_at < end,
        ).options(joinedload(TestDriveBooking.user), joinedload(TestDriveBooking.dealer),
                  joinedload(TestDriveBooking.car_model)).order_by(TestDriveBooking.starts_at)
    ).all()
    sent = 0
    for booking in due:
        claimed = session.execute(
            update(TestDriveBooking)
            .where(TestDriveBooking.id == booking.id, TestDriveBooking.reminder_sent_at.is_(None))
            .values(reminder_sent_at=at)
            .execution_options(synchronize_session=False)
        )
        if isinstance(claimed, CursorResult) and claimed.rowcount == 1:
            booking.reminder_sent_at = at
            mail_booking(session, booking, "reminder", attach=False)
            sent += 1
    session.flush()
    return sent


# --- mail and calendar ----------------------------------------------------------------------------------------------


MAIL_SUBJECTS = {
    "confirmed": "Your test drive is booked",
    "rescheduled": "Your test drive has moved",
    "cancelled": "Your test drive is cancelled",
    "reminder": "Reminder: your test drive is tomorrow",
    "returned": "Car returned: your deposit is on its way back",
}


def _mail_locale() -> str:
    if has_request_context():
        locale = get_locale()
        if locale is not None:
            return str(locale)
    return "zh_Hans_CN"


def calendar_text(booking: TestDriveBooking, *, method: str, attendee_email: str = "") -> str:
    """The .ics of the booking in the current language."""
    model_name = f"{localised(booking.car_model.brand, 'name')} {localised(booking.car_model, 'name')}"
    summary = (_("Self-service test drive: %(model)s", model=model_name) if booking.is_self_service
               else _("Test drive: %(model)s", model=model_name))
    lines = [_("Booking reference: %(reference)s", reference=booking.reference),
             f"{localised(booking.dealer, 'name')} · {booking.dealer.phone}"]
    lines.append(public_url("test_drives.detail", reference=booking.reference))
    return calendar.booking_calendar(
        booking, method=method, summary=summary,
        location=place(booking.dealer),
        description="\n".join(lines), stamp=clock.now(), attendee_email=attendee_email,
    )


def mail_booking(session: Session, booking: TestDriveBooking, kind: str, *, attach: bool = True) -> None:
    """Queue the shopper's mail; confirmations and changes carry the .ics (CANCEL for a cancellation)."""
    locale = _mail_locale()
    attachments = []
    if attach:
        method = "CANCEL" if kind == "cancelled" else "REQUEST"
        with force_locale(locale):
            text = calendar_text(booking, method=method, attendee_email=booking.user.email)
        attachments.append({"filename": calendar.filename(booking), "content_type": calendar.CONTENT_TYPE,
                            "content": text})
    queue_mail(
        session, to=booking.user.email, template=f"test_drives/{kind}", subject=MAIL_SUBJECTS[kind], locale=locale,
        attachments=attachments, booking=booking,
        booking_url=public_url("test_drives.detail", reference=booking.reference),
        ics_url=public_url("test_drives.calendar_file", reference=booking.reference),
        cutoff_hours=int(CHANGE_CUTOFF.total_seconds() // 3600),
    )


# --- read helpers used by routes and the API ------------------------------------------------------------------------


def booking_days(session: Session, *, dealer: Dealer, first: dt.date, count: int) -> list[tuple[dt.date, bool]]:
    """The next `count` days from `first`, each with whether the showroom runs test drives that day."""
    last = first + dt.timedelta(days=count - 1)
    windows = windows_between(session, dealer=dealer, first=first, last=last)
    return [(day, windows[day] is not None) for day in sorted(windows)]
