"""Launch-day presale (预售): a campaign of numbered launch editions, shoppers' orders and the launch numbers.

A campaign sells `edition_size` cars numbered 1..N. Each number is a row of `launch_numbers`; an order holds a
number by writing its id into that row, so the database itself says which order a number belongs to and no
number can belong to two orders (a UNIQUE column). An order that finds no free number waits in line; when a
hold lapses or a paid order is cancelled, its number goes to the oldest order still waiting.

Order states:  held -> paid -> locked -> completed,  with the exits expired (deposit not paid in time),
cancelled (by the shopper while the deposit is still refundable; refunded in full) and forfeited (the balance
was not paid in its window: the binding deposit is lost). waitlisted -> held when a number comes back.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Money, utcnow
from models.catalog import enum_column
from models.reservations import DepositKind

if TYPE_CHECKING:
    from models.accounts import User
    from models.catalog import CarModel, Trim

# The law caps a binding deposit (定金) at 20% of the price (Civil Code art. 586); Tmall's presale rules do too.
BINDING_DEPOSIT_CAP = Decimal("0.20")


class PresaleError(Exception):
    """An illegal move of a presale order (the service turns it into a ConflictError)."""


class PresaleOrderStatus(enum.Enum):
    WAITLISTED = "waitlisted"  # no number free when the shopper ordered; first in line gets the next one back
    HELD = "held"  # a launch number is held until the deposit is paid (hold_expires_at)
    PAID = "paid"  # deposit paid, still refundable (订金) until refundable_until
    LOCKED = "locked"  # deposit now binding (定金): counts as `deposit_credit` off the balance
    COMPLETED = "completed"  # balance paid
    EXPIRED = "expired"  # the deposit was not paid in time; the number went back
    CANCELLED = "cancelled"  # cancelled while refundable; deposit refunded in full
    FORFEITED = "forfeited"  # balance not paid in its window; the binding deposit is kept


# Orders that own their launch number (or, waitlisted, their place in line).
NUMBER_OWNING = (PresaleOrderStatus.HELD, PresaleOrderStatus.PAID, PresaleOrderStatus.LOCKED,
                 PresaleOrderStatus.COMPLETED)


class PresaleCampaign(Base):
    """A presale for one model (optionally one trim): edition size, price, deposit and the windows around them."""

    __tablename__ = "presale_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    car_model_id: Mapped[int] = mapped_column(ForeignKey("car_models.id"))
    trim_id: Mapped[int | None] = mapped_column(ForeignKey("trims.id"))
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    edition_size: Mapped[int]
    presale_price: Mapped[Money]
    deposit_amount: Mapped[Money]
    # What the deposit counts for when the balance is paid (定金膨胀): e.g. ¥999 counted as ¥5,000.
    deposit_credit: Mapped[Money]
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    deposit_window_minutes: Mapped[int] = mapped_column(default=30)
    # Days after paying in which the deposit is still refundable (订金); then it locks (定金). 0 = binding at once.
    refundable_days: Mapped[int] = mapped_column(default=7)
    balance_window_days: Mapped[int] = mapped_column(default=30)
    benefits_en: Mapped[str] = mapped_column(Text, default="")
    benefits_zh: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    car_model: Mapped[CarModel] = relationship()
    trim: Mapped[Trim | None] = relationship()

    __table_args__ = (
        CheckConstraint("edition_size > 0 AND edition_size <= 100000", name="edition_size_range"),
        CheckConstraint("presale_price > 0", name="price_positive"),
        CheckConstraint("deposit_amount > 0", name="deposit_positive"),
        CheckConstraint("deposit_credit >= deposit_amount", name="credit_covers_deposit"),
        CheckConstraint("deposit_credit <= presale_price", name="credit_within_price"),
        CheckConstraint("deposit_amount * 5 <= presale_price", name="deposit_within_cap"),  # ≤ 20%
        CheckConstraint("closes_at > opens_at", name="window_order"),
        CheckConstraint("deposit_window_minutes BETWEEN 1 AND 1440", name="deposit_window_range"),
        CheckConstraint("refundable_days BETWEEN 0 AND 365", name="refundable_days_range"),
        CheckConstraint("balance_window_days BETWEEN 1 AND 365", name="balance_window_range"),
    )

    @property
    def balance_due(self) -> Decimal:
        """What a shopper with a locked deposit still pays: the presale price less the inflated deposit."""
        return self.presale_price - self.deposit_credit

    @property
    def deposit_kind(self) -> DepositKind:
        """The word a shopper sees before paying: 订金 while a refundable period follows, 定金 when binding at once."""
        return DepositKind.BINDING if self.refundable_days == 0 else DepositKind.REFUNDABLE

    def is_open(self, at: dt.datetime) -> bool:
        return self.opens_at <= at < self.closes_at

    def __repr__(self) -> str:
        return f"<PresaleCampaign {self.slug} {self.edition_size}>"


class PresaleOrder(Base):
    """One shopper's order in one campaign (one per shopper: a retry finds this row instead of a new one)."""

    __tablename__ = "presale_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("presale_campaigns.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The mainland mobile the order was placed with: one order per mobile per campaign, whatever the account.
    mobile: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[PresaleOrderStatus] = mapped_column(enum_column(PresaleOrderStatus))
    launch_number: Mapped[int | None]
    # Frozen from the campaign when the order is placed: later edits never change what the shopper agreed to.
    deposit_amount: Mapped[Money]
    deposit_credit: Mapped[Money]
    presale_price: Mapped[Money]
    refundable_days: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    held_at: Mapped[dt.datetime | None]
    hold_expires_at: Mapped[dt.datetime | None]
    paid_at: Mapped[dt.datetime | None]
    refundable_until: Mapped[dt.datetime | None]
    locked_at: Mapped[dt.datetime | None]
    balance_due_by: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]

    campaign: Mapped[PresaleCampaign] = relationship()
    user: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id", name="uq_presale_orders_campaign_user"),
        UniqueConstraint("campaign_id", "mobile", name="uq_presale_orders_campaign_mobile"),
        # A number belongs to one live order at most, whatever the code does.
        Index(
            "uq_presale_orders_live_number",
            "campaign_id",
            "launch_number",
            unique=True,
            postgresql_where=text("status IN ('held', 'paid', 'locked', 'completed')"),
            sqlite_where=text("status IN ('held', 'paid', 'locked', 'completed')"),
        ),
        Index("ix_presale_orders_campaign_status", "campaign_id", "status", "id"),
        CheckConstraint(
            "(status IN ('held', 'paid', 'locked', 'completed')) = (launch_number IS NOT NULL)",
            name="number_iff_live",
        ),
    )

    @property
    def is_refundable(self) -> bool:
        return self.status is PresaleOrderStatus.PAID

    @property
    def deposit_kind(self) -> DepositKind:
        """订金 (refundable) while the shopper may still cancel for a full refund, 定金 (binding) once locked."""
        if self.status in (PresaleOrderStatus.LOCKED, PresaleOrderStatus.COMPLETED, PresaleOrderStatus.FORFEITED):
            return DepositKind.BINDING
        return DepositKind.BINDING if self.refundable_days == 0 else DepositKind.REFUNDABLE

    # --- transitions --------------------------------------------------------------------------------------
    def _require(self, *allowed: PresaleOrderStatus, action: str) -> None:
        if self.status not in allowed:
            raise PresaleError(f"cannot {action} a presale order that is {self.status.value}")

    def hold(self, *, number: int, at: dt.datetime, minutes: int) -> None:
        self._require(PresaleOrderStatus.WAITLISTED, action="hold")
        self.status = PresaleOrderStatus.HELD
        self.launch_number = number
        self.held_at = at
        self.hold_expires_at = at + dt.timedelta(minutes=minutes)

    def pay(self, *, at: dt.datetime, balance_window_days: int) -> None:
        """The deposit arrived: refundable for `refundable_days`, then binding; binding at once when that is 0."""
        self._require(PresaleOrderStatus.HELD, action="pay")
        self.status = PresaleOrderStatus.PAID
        self.paid_at = at
        self.refundable_until = at + dt.timedelta(days=self.refundable_days)
        if self.refundable_days == 0:
            self.lock(at=at, balance_window_days=balance_window_days)

    def lock(self, *, at: dt.datetime, balance_window_days: int) -> None:
        """The deposit becomes binding (the shopper chose so, or the refundable period ended)."""
        self._require(PresaleOrderStatus.PAID, action="lock")
        self.status = PresaleOrderStatus.LOCKED
        self.locked_at = at
        self.balance_due_by = at + dt.timedelta(days=balance_window_days)

    def complete(self, *, at: dt.datetime) -> None:
        self._require(PresaleOrderStatus.LOCKED, action="complete")
        self.status = PresaleOrderStatus.COMPLETED
        self.completed_at = at

    def expire(self, *, at: dt.datetime) -> None:
        self._require(PresaleOrderStatus.HELD, action="expire")
        self._end(PresaleOrderStatus.EXPIRED, at)

    def cancel(self, *, at: dt.datetime) -> None:
        self._require(PresaleOrderStatus.PAID, PresaleOrderStatus.WAITLISTED, action="cancel")
        self._end(PresaleOrderStatus.CANCELLED, at)

    def forfeit(self, *, at: dt.datetime) -> None:
        self._require(PresaleOrderStatus.LOCKED, action="forfeit")
        self._end(PresaleOrderStatus.FORFEITED, at)

    def _end(self, status: PresaleOrderStatus, at: dt.datetime) -> None:
        self.status = status
        self.launch_number = None
        self.ended_at = at

    def __repr__(self) -> str:
        return f"<PresaleOrder {self.id} {self.status.value} #{self.launch_number}>"


class LaunchNumber(Base):
    """Launch edition number `number` of a campaign, and the order that holds it (NULL = free)."""

    __tablename__ = "launch_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("presale_campaigns.id", ondelete="CASCADE"))
    number: Mapped[int]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("presale_orders.id"), unique=True)

    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_launch_numbers_campaign_number"),
        # Free numbers, lowest first: what every order looks for.
        Index("ix_launch_numbers_free", "campaign_id", "number", postgresql_where=text("order_id IS NULL"),
              sqlite_where=text("order_id IS NULL")),
    )
