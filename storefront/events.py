"""Funnel events: one cheap INSERT in the same transaction as the action it describes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import Event, FunnelStep
from storefront.clock import now

# Built once, on the table: skips the ORM's bulk-insert planning, most of the Python cost of a one-row insert.
INSERT_EVENT = insert(Event.metadata.tables[Event.__tablename__])


def record_event(
    session: Session,
    step: FunnelStep,
    *,
    car_model_id: int | None = None,
    dealer_id: int | None = None,
    city_id: int | None = None,
    visit_key: str = "",
    **props: Any,
) -> None:
    """Record a funnel step. Never pass personal data (names, phones, emails, user ids) in props.

    A Core INSERT (no ORM object) keeps it to one statement, flushed with the caller's transaction,
    so a rolled-back action leaves no event behind.
    """
    session.execute(
        INSERT_EVENT,
        event_row(step, car_model_id=car_model_id, dealer_id=dealer_id, city_id=city_id, visit_key=visit_key,
                  **props),
    )


def event_row(
    step: FunnelStep,
    *,
    car_model_id: int | None = None,
    dealer_id: int | None = None,
    city_id: int | None = None,
    visit_key: str = "",
    **props: Any,
) -> dict[str, Any]:
    """The values of one event row, stamped with the store clock now; props are stored as strings."""
    return {
        "step": step,
        "occurred_at": now(),
        "car_model_id": car_model_id,
        "dealer_id": dealer_id,
        "city_id": city_id,
        "visit_key": visit_key[:32],
        "props": {key: str(value) for key, value in props.items()},
    }
