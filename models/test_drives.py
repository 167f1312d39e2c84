"""Test drives: showroom schedules, per-slot capacity counters and the bookings that use them.

Two kinds of booking share one table. A *showroom* drive takes one place in a slot (a counter row per
showroom, model and start time; its capacity is the number of demo cars of that model). A *self-service*
drive at a kiosk showroom keeps one physical demo car (a Vehicle) for one or three days against a refundable
deposit. The database refuses overbooking: the slot counter has CHECK (booked <= capacity) and is only
raised by a conditional UPDATE; on PostgreSQL two exclusion constraints keep a shopper's active bookings and
a demo car's active self-service drives from overlapping in time.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Time,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.catalog import enum_column

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import CarModel, Dealer, Vehicle


class TestDriveKind(enum.Enum):
    __test__ = False  # an enum, not a pytest test class

    SHOWROOM = "showroom"  # an accompanied drive in one slot at the showroom
    SELF_SERVICE = "self_service"  # the shopper keeps a kiosk demo car for 1 or 3 days


class BookingStatus(enum.Enum):
    """One status machine for both kinds; for self-service, checked_in = car picked up, completed = returned.

    pending_payment -> booked -> checked_in -> completed, with exits cancelled / no_show / expired.
    """

    PENDING_PAYMENT = "pending_payment"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Statuses that hold a slot place, a demo car and the shopper's time.
ACTIVE_STATUSES = (BookingStatus.PENDING_PAYMENT, BookingStatus.BOOKED, BookingStatus.CHECKED_IN)
_ACTIVE_SQL = "status IN ('pending_payment', 'booked', 'checked_in')"


class InvalidTransition(Exception):  # noqa: N818 - reads as "raise InvalidTransition"
    """A booking was asked to move to a status its current status does not allow."""


class TestDriveSchedule(Base):
    """How one showroom runs test drives: opening hours per weekday and the slot length."""

    __tablename__ = "test_drive_schedules"
    __test__ = False  # a model, not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"), unique=True)
    # Same shape as Dealer.opening_hours: {"mon": ["09:00", "18:00"], ..., "sun": null}; null = closed.
    weekly_hours: Mapped[dict[str, list[str] | None]] = mapped_column(JSON, default=dict)
    slot_minutes: Mapped[int] = mapped_column(default=45)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    dealer: Mapped[Dealer] = relationship()

    __table_args__ = (CheckConstraint("slot_minutes BETWEEN 15 AND 240", name="slot_minutes_range"),)

    def __repr__(self) -> str:
        return f"<TestDriveSchedule dealer={self.dealer_id} {self.slot_minutes}min>"


class TestDriveFleet(Base):
    """How many demo cars of one model a showroom has for accompanied drives: the capacity of each slot."""

    __tablename__ = "test_drive_fleet"
    __test__ = False  # a model, not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id", ondelete="CASCADE"), index=True)
    demo_cars: Mapped[int] = mapped_column(default=1)

    dealer: Mapped[Dealer] = relationship()
    car_model: Mapped[CarModel] = relationship()

    __table_args__ = (
        UniqueConstraint("dealer_id", "car_model_id", name="uq_test_drive_fleet_dealer_model"),
        CheckConstraint("demo_cars BETWEEN 0 AND 50", name="demo_cars_range"),
    )


class TestDriveException(Base):
    """A date on which a showroom is closed or keeps special hours (holidays, events)."""

    __tablename__ = "test_drive_exceptions"
    __test__ = False  # a model, not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)  # a calendar day in Asia/Shanghai
    closed: Mapped[bool] = mapped_column(default=True)
    opens: Mapped[dt.time | None] = mapped_column(Time)
    closes: Mapped[dt.time | None] = mapped_column(Time)
    note: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (
        UniqueConstraint("dealer_id", "day", name="uq_test_drive_exceptions_dealer_day"),
        CheckConstraint(
            "closed OR (opens IS NOT NULL AND closes IS NOT NULL AND opens < closes)", name="hours_when_open"
        ),
    )


class TestDriveSlot(Base):
    """The place counter of one slot (showroom, model, start time); created on the slot's first booking.

    `booked` only moves through conditional UPDATEs (booked < capacity) and the CHECK backs them up, so
    concurrent bookings can never overfill a slot, on SQLite or PostgreSQL.
    """

    __tablename__ = "test_drive_slots"
    __test__ = False  # a model, not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id", ondelete="CASCADE"))
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("dealer_id", "car_model_id", "starts_at", name="uq_test_drive_slots_dealer_model_start"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        CheckConstraint("booked <= capacity", name="booked_within_capacity"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
    )

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.booked)


class TestDriveBooking(Base):
    """One shopper's test drive: a showroom slot, or a self-service pick-up of a kiosk demo car."""

    __tablename__ = "test_drive_bookings"
    __test__ = False  # a model, not a pytest test class

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)  # "T-7KQ2MX", what shopper and staff quote
    kind: Mapped[TestDriveKind] = mapped_column(enum_column(TestDriveKind), default=TestDriveKind.SHOWROOM)
    status: Mapped[BookingStatus] = mapped_column(enum_column(BookingStatus), default=BookingStatus.BOOKED)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id"), index=True)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("test_drive_slots.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    days: Mapped[int | None]  # self-service: 1 or 3
    contact_name: Mapped[str] = mapped_column(String(80))
    mobile: Mapped[str] = mapped_column(String(11))
    licence_confirmed: Mapped[bool] = mapped_column(default=False)
    # iCalendar SEQUENCE: raised on every change the shopper's calendar must pick up (reschedule, cancel).
    sequence: Mapped[int] = mapped_column(default=0)
    reminder_sent_at: Mapped[dt.datetime | None]
    # Self-service only: the refundable deposit, its payment, the code shown at pick-up.
    deposit_cny: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    pickup_code: Mapped[str | None] = mapped_column(String(6))
    hold_expires_at: Mapped[dt.datetime | None]
    deposit_released_at: Mapped[dt.datetime | None]
    checked_in_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    dealer: Mapped[Dealer] = relationship()
    car_model: Mapped[CarModel] = relationship()
    slot: Mapped[TestDriveSlot | None] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()

    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint(
            "(kind = 'showroom' AND slot_id IS NOT NULL AND vehicle_id IS NULL)"
            " OR (kind = 'self_service' AND slot_id IS NULL AND vehicle_id IS NOT NULL AND days IN (1, 3))",
            name="kind_fields",
        ),
        CheckConstraint("deposit_cny IS NULL OR deposit_cny >= 0", name="deposit_not_negative"),
        Index("ix_test_drive_bookings_dealer_start", "dealer_id", "starts_at"),
        Index("ix_test_drive_bookings_status_start", "status", "starts_at"),
        # One active self-service drive per shopper (partial unique index: SQLite and PostgreSQL).
        Index(
            "uq_test_drive_bookings_one_self_service",
            "user_id",
            unique=True,
            sqlite_where=text(f"kind = 'self_service' AND {_ACTIVE_SQL}"),
            postgresql_where=text(f"kind = 'self_service' AND {_ACTIVE_SQL}"),
        ),
        # PostgreSQL: a shopper's active bookings never overlap; a demo car is never out twice at once.
        ExcludeConstraint(
            (text("user_id"), "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            name="ex_test_drive_bookings_user_overlap",
            using="gist",
            where=text(_ACTIVE_SQL),
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            (text("vehicle_id"), "="),
            (text("tstzrange(starts_at, ends_at)"), "&&"),
            name="ex_test_drive_bookings_vehicle_overlap",
            using="gist",
            where=text(f"vehicle_id IS NOT NULL AND {_ACTIVE_SQL}"),
        ).ddl_if(dialect="postgresql"),
    )

    # -- predicates -------------------------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_self_service(self) -> bool:
        return self.kind is TestDriveKind.SELF_SERVICE

    def belongs_to(self, user: Any) -> bool:
        return user is not None and getattr(user, "id", None) == self.user_id

    def changeable_until(self, cutoff: dt.timedelta) -> dt.datetime:
        return self.starts_at - cutoff

    def can_change(self, *, at: dt.datetime, cutoff: dt.timedelta) -> bool:
        """The shopper may still move or cancel it: confirmed (or awaiting payment) and before the cut-off."""
        return self.status in (BookingStatus.BOOKED, BookingStatus.PENDING_PAYMENT) and at < self.starts_at - cutoff

    # -- transitions (the caller passes the time; models never read a clock or the request) -------------------
    def _move(self, allowed: tuple[BookingStatus, ...], target: BookingStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"{self.status.value} -> {target.value}")
        self.status = target

    def confirm(self, *, pickup_code: str | None = None) -> None:
        self._move((BookingStatus.PENDING_PAYMENT,), BookingStatus.BOOKED)
        self.pickup_code = pickup_code
        self.hold_expires_at = None

    def check_in(self, *, at: dt.datetime) -> None:
        self._move((BookingStatus.BOOKED,), BookingStatus.CHECKED_IN)
        self.checked_in_at = at

    def complete(self, *, at: dt.datetime) -> None:
        self._move((BookingStatus.CHECKED_IN,), BookingStatus.COMPLETED)
        self.completed_at = at

    def mark_no_show(self, *, at: dt.datetime) -> None:
        if at < self.starts_at:
            raise InvalidTransition("no-show before the start")
        self._move((BookingStatus.BOOKED,), BookingStatus.NO_SHOW)

    def cancel(self, *, at: dt.datetime, reason: str = "") -> None:
        self._move((BookingStatus.PENDING_PAYMENT, BookingStatus.BOOKED), BookingStatus.CANCELLED)
        self.cancelled_at = at
        self.cancel_reason = reason[:200]
        self.sequence += 1

    def expire(self) -> None:
        self._move((BookingStatus.PENDING_PAYMENT,), BookingStatus.EXPIRED)

    def move_to(self, *, slot: TestDriveSlot) -> None:
        """Reschedule a showroom drive into another slot (the caller moved the slot counters)."""
        if self.status is not BookingStatus.BOOKED or self.kind is not TestDriveKind.SHOWROOM:
            raise InvalidTransition(f"reschedule from {self.status.value}")
        self.slot_id = slot.id
        self.slot = slot
        self.starts_at = slot.starts_at
        self.ends_at = slot.ends_at
        self.sequence += 1
        self.reminder_sent_at = None  # a new time deserves a new reminder

    def __repr__(self) -> str:
        return f"<TestDriveBooking {self.reference} {self.kind.value} {self.status.value}>"


# The exclusion constraints compare user_id/vehicle_id with "=" in a GiST index: PostgreSQL needs btree_gist.
event.listen(
    TestDriveBooking.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(  # type: ignore[no-untyped-call]
        dialect="postgresql"
    ),
)
