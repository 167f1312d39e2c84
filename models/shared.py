"""Cross-cutting records: the audit log (staff changes), the mail outbox, funnel events, store settings."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.catalog import enum_column


class AuditLog(Base):
    """Who changed what, when, with the values before and after (staff and admin actions)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)  # e.g. "vehicle.update", "reservation.cancel"
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)


class OutboxStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; kept for staff to see, never deleted


class OutboxMessage(Base):
    """An email written in the same transaction as the change that causes it; sent after commit."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # [{"filename": "test-drive.ics", "content_type": "text/calendar", "content": "<text>"}]
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class FunnelStep(enum.Enum):
    VIEW = "view"
    QUOTE = "quote"
    TEST_DRIVE = "test_drive"
    RESERVE = "reserve"
    PAY = "pay"
    PICKUP = "pickup"


class Event(Base):
    """A funnel event. Privacy-aware: no user id, name, phone or email — only what and where."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[FunnelStep] = mapped_column(enum_column(FunnelStep))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    car_model_id: Mapped[int | None] = mapped_column(ForeignKey("car_models.id", ondelete="SET NULL"))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id", ondelete="SET NULL"))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="SET NULL"))
    # Anonymous visit key (random per browser session), so steps of one journey can be linked without identity.
    visit_key: Mapped[str] = mapped_column(String(32), default="")
    # Small, non-personal details: {"finance_kind": "lease_to_own", "amount_cny": "5000.00"}.
    props: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_events_step_time", "step", "occurred_at"),)


class StoreSetting(Base):
    """Small key/value settings shared by every instance (e.g. the demo clock offset)."""

    __tablename__ = "store_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
