"""Read-side queries of the inventory API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models import Trim, Vehicle, VehicleStatus
from storefront.pagination import Page


def list_vehicles(
    session: Session,
    *,
    dealer_ids: list[int],
    status: VehicleStatus | None,
    updated_since: dt.datetime | None,
    page: int,
    per_page: int,
) -> Page[Vehicle]:
    """The showrooms' vehicles, least recently changed first (a system syncing with updated_since reads on)."""
    query = select(Vehicle).where(Vehicle.dealer_id.in_(dealer_ids))
    if status is not None:
        query = query.where(Vehicle.status == status)
    if updated_since is not None:
        query = query.where(Vehicle.updated_at >= updated_since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Vehicle.trim).load_only(Trim.car_model_id), selectinload(Vehicle.dealer))
        .order_by(Vehicle.updated_at, Vehicle.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(rows), total=total, page=page, per_page=per_page)
