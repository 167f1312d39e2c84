"""Reservations: one shopper holds one vehicle with a deposit until pick-up; deposit policies per car model."""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Money, utcnow
from models.catalog import VehicleStatus, enum_column

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import CarModel, Dealer, Vehicle


class ReservationError(Exception):
    """An illegal move of the reservation state machine (the service turns it into a ConflictError)."""


class ReservationStatus(enum.Enum):
    PENDING_PAYMENT = "pending_payment"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


# A vehicle has at most one reservation in these states (a partial unique index says so in the database).
ACTIVE_STATUSES = (ReservationStatus.PENDING_PAYMENT, ReservationStatus.CONFIRMED)


class DepositKind(enum.Enum):
    """The legal difference shoppers in China know: 订金 is an advance payment, 定金 a binding deposit."""

    REFUNDABLE = "refundable"  # 订金
    BINDING = "binding"  # 定金


class DepositPolicy(Base):
    """How much a model's deposit is and what happens to it; set by admins, frozen into each reservation."""

    __tablename__ = "deposit_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[Money]
    kind: Mapped[DepositKind] = mapped_column(enum_column(DepositKind), default=DepositKind.REFUNDABLE)
    # Refundable: days after paying in which a cancellation is refunded in full (0 = until pick-up).
    # Binding: a cooling-off period in which it is still refunded (0 = none).
    refund_window_days: Mapped[int] = mapped_column(default=0)
    # How much comes off the car's price at pick-up; more than `amount` is a "定金膨胀" offer.
    price_credit: Mapped[Money]
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    car_model: Mapped[CarModel] = relationship()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("price_credit >= amount", name="credit_covers_amount"),
        CheckConstraint("refund_window_days >= 0 AND refund_window_days <= 365", name="window_range"),
    )

    def __repr__(self) -> str:
        return f"<DepositPolicy model={self.car_model_id} {self.amount} {self.kind.value}>"


REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: easy to read out over the phone


def new_reference() -> str:
    """A short code a shopper can read to staff, e.g. R-7K3Q9M (31^6 ≈ 887 million codes)."""
    return "R-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


class Reservation(Base):
    """A shopper's hold on one vehicle. Moves only through the methods below, which refuse illegal moves.

    pending_payment -> confirmed -> completed, with the exits cancelled, expired and refunded.
    The deposit terms are copied from the policy when the reservation starts, so a later policy change
    never changes what the shopper agreed to.
    """

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True, default=new_reference)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id"))
    status: Mapped[ReservationStatus] = mapped_column(
        enum_column(ReservationStatus), default=ReservationStatus.PENDING_PAYMENT
    )
    # From the reserve form: the same form sent twice (double click, retry) finds this row instead of a new one.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    deposit_amount: Mapped[Money]
    deposit_kind: Mapped[DepositKind] = mapped_column(enum_column(DepositKind))
    refund_window_days: Mapped[int] = mapped_column(default=0)
    price_credit: Mapped[Money]
    vehicle_price: Mapped[Money]
    hold_expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]
    refunded_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    vehicle: Mapped[Vehicle] = relationship()
    dealer: Mapped[Dealer] = relationship()
    car_model: Mapped[CarModel] = relationship()

    __table_args__ = (
        # The database itself refuses a second live reservation of one car, whatever the code does.
        Index(
            "uq_reservations_active_vehicle",
            "vehicle_id",
            unique=True,
            postgresql_where=text("status IN ('pending_payment', 'confirmed')"),
            sqlite_where=text("status IN ('pending_payment', 'confirmed')"),
        ),
        Index("ix_reservations_status_hold", "status", "hold_expires_at"),
        Index("ix_reservations_dealer_status", "dealer_id", "status"),
        CheckConstraint("deposit_amount > 0", name="deposit_positive"),
    )

    # --- reading ------------------------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def hold_has_passed(self, at: dt.datetime) -> bool:
        return self.status is ReservationStatus.PENDING_PAYMENT and at >= self.hold_expires_at

    def refund_due(self, at: dt.datetime) -> Decimal:
        """What a shopper who cancels a paid reservation at `at` gets back under the terms agreed."""
        if self.confirmed_at is None:
            return Decimal("0")
        days_since_paying = at - self.confirmed_at
        window = dt.timedelta(days=self.refund_window_days)
        if self.deposit_kind is DepositKind.REFUNDABLE:
            refundable = self.refund_window_days == 0 or days_since_paying <= window
        else:
            refundable = self.refund_window_days > 0 and days_since_paying <= window
        return self.deposit_amount if refundable else Decimal("0")

    # --- permissions --------------------------------------------------------------------------------------
    def can_view(self, user: User | None) -> bool:
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        return user.id == self.user_id or (user.is_staff and user.works_at(self.dealer_id))

    def can_cancel(self, user: User | None) -> bool:
        """The shopper, or staff of the showroom, while the reservation is still live."""
        return self.is_active and self.can_view(user)

    def can_complete(self, user: User | None) -> bool:
        """Only showroom staff hand a car over, and only once the deposit is paid."""
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        return self.status is ReservationStatus.CONFIRMED and user.is_staff and user.works_at(self.dealer_id)

    # --- transitions --------------------------------------------------------------------------------------
    def _require(self, *allowed: ReservationStatus, action: str) -> None:
        if self.status not in allowed:
            raise ReservationError(f"cannot {action} a reservation that is {self.status.value}")

    def confirm(self, *, at: dt.datetime) -> None:
        """The deposit is paid: the car moves from on hold to reserved."""
        self._require(ReservationStatus.PENDING_PAYMENT, action="confirm")
        if self.vehicle.status is not VehicleStatus.ON_HOLD:
            raise ReservationError(f"vehicle is {self.vehicle.status.value}, not on hold")
        self.status = ReservationStatus.CONFIRMED
        self.confirmed_at = at
        self.vehicle.status = VehicleStatus.RESERVED

    def confirm_late(self, *, at: dt.datetime) -> None:
        """The deposit arrived after the hold had run out, and the car was put on hold again for this shopper."""
        self._require(ReservationStatus.EXPIRED, action="confirm late")
        if self.vehicle.status is not VehicleStatus.ON_HOLD:
            raise ReservationError(f"vehicle is {self.vehicle.status.value}, not on hold")
        self.expired_at = None
        self.status = ReservationStatus.PENDING_PAYMENT
        self.confirm(at=at)

    def expire(self, *, at: dt.datetime) -> None:
        """The hold ended without payment (time ran out, or the payment failed): the car goes back on sale."""
        self._require(ReservationStatus.PENDING_PAYMENT, action="expire")
        self.status = ReservationStatus.EXPIRED
        self.expired_at = at
        self._release_vehicle()

    def cancel(self, *, by: User, reason: str, at: dt.datetime) -> None:
        """Shopper or staff calls it off before pick-up; the car goes back on sale. Refunds are the service's job."""
        self._require(*ACTIVE_STATUSES, action="cancel")
        self.status = ReservationStatus.CANCELLED
        self.cancelled_at = at
        self.cancelled_by_id = by.id
        self.cancel_reason = reason.strip()[:500]
        self._release_vehicle()

    def complete(self, *, by: User, at: dt.datetime) -> None:
        """The shopper picked the car up at the showroom: it is sold."""
        self._require(ReservationStatus.CONFIRMED, action="complete")
        if self.vehicle.status is not VehicleStatus.RESERVED:
            raise ReservationError(f"vehicle is {self.vehicle.status.value}, not reserved")
        self.status = ReservationStatus.COMPLETED
        self.completed_at = at
        self.completed_by_id = by.id
        self.vehicle.status = VehicleStatus.SOLD

    def mark_refunded(self, *, at: dt.datetime) -> None:
        """The deposit went back to the shopper (after a cancel, or a refund made at the provider)."""
        self._require(ReservationStatus.CONFIRMED, ReservationStatus.CANCELLED, action="refund")
        was_live = self.is_active
        self.status = ReservationStatus.REFUNDED
        self.refunded_at = at
        if was_live:  # after a cancel the car was released already and may be someone else's hold by now
            self._release_vehicle()

    def _release_vehicle(self) -> None:
        if self.vehicle.status in (VehicleStatus.ON_HOLD, VehicleStatus.RESERVED):
            self.vehicle.status = VehicleStatus.IN_STOCK

    def __repr__(self) -> str:
        return f"<Reservation {self.reference} {self.status.value}>"
