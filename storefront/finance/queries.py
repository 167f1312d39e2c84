"""Read side of the finance pages: the trim being quoted and the cars to pick from."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from models import Brand, CarModel, Trim

MAX_ID = 2_147_483_647  # ids are 32-bit integers: a bigger number cannot exist (and would overflow PostgreSQL)


def find_trim(session: Session, trim_id: int) -> Trim | None:
    """An active trim of an active model, with its model and brand loaded (one query)."""
    if not 0 < trim_id <= MAX_ID:
        return None
    return session.scalar(
        select(Trim)
        .join(Trim.car_model)
        .where(Trim.id == trim_id, Trim.is_active.is_(True), CarModel.is_active.is_(True))
        .options(joinedload(Trim.car_model).joinedload(CarModel.brand))
    )


def trim_or_404(session: Session, trim_id: int) -> Trim:
    trim = find_trim(session, trim_id)
    if trim is None:
        abort(404)
    return trim


def models_by_brand(session: Session) -> list[tuple[Brand, list[CarModel]]]:
    """Active models with their trims, grouped by brand in the store's order (three queries)."""
    car_models = session.scalars(
        select(CarModel)
        .join(CarModel.brand)
        .where(CarModel.is_active.is_(True))
        .options(selectinload(CarModel.brand), selectinload(CarModel.trims))
        .order_by(Brand.sort_order, CarModel.sort_order, CarModel.id)
    )
    groups: dict[int, tuple[Brand, list[CarModel]]] = {}
    for car_model in car_models:
        groups.setdefault(car_model.brand_id, (car_model.brand, []))[1].append(car_model)
    return list(groups.values())
