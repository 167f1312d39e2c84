"""Payments taken online (reservation and test-drive deposits) and the provider events already applied."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Money, utcnow
from models.catalog import enum_column


class PaymentPurpose(enum.Enum):
    """What the money is for; each purpose registers its own fulfilment in storefront.payments."""

    RESERVATION_DEPOSIT = "reservation_deposit"
    TEST_DRIVE_DEPOSIT = "test_drive_deposit"
    PRESALE_DEPOSIT = "presale_deposit"


class PaymentStatus(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class PaymentProvider(enum.Enum):
    STRIPE = "stripe"
    DEMO = "demo"  # no money moves; used when no Stripe keys are configured


# Statuses in which money has reached us (a refund may have returned some or all of it).
MONEY_RECEIVED = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


class Payment(Base):
    """One attempt to take money for one subject (a reservation, a test-drive booking).

    `subject_id` is the id of the row `purpose` names; no foreign key, so every area can use payments
    without payments knowing its tables. Amounts are CNY with two decimals; Stripe gets fen.
    """

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[PaymentPurpose] = mapped_column(enum_column(PaymentPurpose))
    subject_id: Mapped[int]
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider))
    # Stripe: the Checkout Session id (cs_...); demo: the token in the demo page URL.
    provider_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Stripe: the PaymentIntent id (pi_...), known once paid; refunds and charge events refer to it.
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), index=True)
    amount: Mapped[Money]
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus), default=PaymentStatus.PENDING)
    refunded_amount: Mapped[Money] = mapped_column(default=Decimal("0"))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    customer_email: Mapped[str] = mapped_column(String(254), default="")
    redirect_url: Mapped[str] = mapped_column(String(2000), default="")
    success_url: Mapped[str] = mapped_column(String(2000), default="")
    cancel_url: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime]
    refunded_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_payments_purpose_subject", "purpose", "subject_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
    )

    @property
    def money_received(self) -> bool:
        return self.status in MONEY_RECEIVED

    @property
    def refundable_amount(self) -> Decimal:
        """What can still be given back: what was paid minus what was already refunded."""
        return self.amount - self.refunded_amount if self.money_received else Decimal("0")

    @property
    def amount_fen(self) -> int:
        """The amount in fen (the smallest CNY unit), exactly; Stripe counts in fen."""
        return to_fen(self.amount)

    # State changes. Each returns True when it changed something, False when it was already done,
    # so applying the same provider result twice is harmless.
    def mark_paid(self, *, at: dt.datetime, provider_payment_id: str | None = None) -> bool:
        """Money arrived. Also from failed/expired: a late payment is still money we hold and must handle."""
        if self.money_received:
            return False
        self.status = PaymentStatus.PAID
        self.paid_at = at
        if provider_payment_id:
            self.provider_payment_id = provider_payment_id
        return True

    def mark_unpaid(self, status: PaymentStatus) -> bool:
        """Failed or expired. Only a pending payment can end unpaid: an expiry after payment changes nothing."""
        if status not in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
            raise ValueError(f"{status} is not an unpaid outcome")
        if self.status is not PaymentStatus.PENDING:
            return False
        self.status = status
        return True

    def record_refund(self, *, refunded_total: Decimal, at: dt.datetime) -> bool:
        """The provider says `refunded_total` has been given back in all. Never goes down; never above amount."""
        if not self.money_received:
            raise ValueError("nothing was paid, so nothing can be refunded")
        if refunded_total > self.amount:
            raise ValueError("refund larger than the payment")
        if refunded_total <= self.refunded_amount:
            return False
        self.refunded_amount = refunded_total
        self.refunded_at = at
        self.status = PaymentStatus.REFUNDED if refunded_total == self.amount else PaymentStatus.PARTIALLY_REFUNDED
        return True

    def __repr__(self) -> str:
        return f"<Payment {self.id} {self.purpose.value} {self.status.value} {self.amount}>"


def to_fen(amount: Decimal) -> int:
    """¥5,000.00 -> 500000. Refuses fractions of a fen instead of rounding money silently."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


class WebhookEvent(Base):
    """A provider event we have seen. The UNIQUE event id makes each event apply once, however often it comes."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider), default=PaymentProvider.STRIPE)
    provider_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    # What we did with it: "applied", "ignored", "unknown_payment", "amount_mismatch"...
    result: Mapped[str] = mapped_column(String(60), default="")

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.provider_event_id} {self.type}>"
