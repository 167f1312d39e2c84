"""Read-side queries for catalog pages: the filtered, sorted, paginated model listing and its unit counts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from models import BodyType, Brand, CarModel, City, Dealer, Powertrain, Trim, Vehicle, VehicleStatus
from storefront.pagination import Page, count_and_clamp

SORTS = {
    "popular": (CarModel.popularity.desc(), CarModel.id),
    "price_asc": (CarModel.price_from.asc(), CarModel.id),
    "price_desc": (CarModel.price_from.desc(), CarModel.id),
    "newest": (CarModel.model_year.desc(), CarModel.created_at.desc(), CarModel.id),
}
NEW_ENERGY = "nev"  # powertrain filter value for "new energy" (PHEV + BEV)


@dataclass(frozen=True)
class ListingFilters:
    brand: str | None = None
    body_type: BodyType | None = None
    powertrain: str | None = None  # a Powertrain value or NEW_ENERGY
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    seats: int | None = None
    city: str | None = None
    q: str | None = None
    sort: str = "popular"


def _filtered(filters: ListingFilters) -> Select[tuple[CarModel]]:
    query = select(CarModel).join(Brand, Brand.id == CarModel.brand_id).where(CarModel.is_active.is_(True))
    if filters.brand:
        query = query.where(Brand.slug == filters.brand)
    if filters.body_type:
        query = query.where(CarModel.body_type == filters.body_type)
    if filters.powertrain:
        wanted = (
            [Powertrain.PHEV, Powertrain.BEV] if filters.powertrain == NEW_ENERGY else [Powertrain(filters.powertrain)]
        )
        query = query.where(
            exists().where(Trim.car_model_id == CarModel.id, Trim.is_active.is_(True), Trim.powertrain.in_(wanted))
        )
    if filters.min_price is not None or filters.max_price is not None or filters.seats:
        trim_match = exists().where(Trim.car_model_id == CarModel.id, Trim.is_active.is_(True))
        if filters.min_price is not None:
            trim_match = trim_match.where(Trim.msrp_cny >= filters.min_price)
        if filters.max_price is not None:
            trim_match = trim_match.where(Trim.msrp_cny <= filters.max_price)
        if filters.seats:
            trim_match = trim_match.where(Trim.seats >= filters.seats)
        query = query.where(trim_match)
    if filters.city:
        # Driven from the model's trims so the (status, trim_id, dealer_id) index answers each probe.
        city_dealers = select(Dealer.id).join(City, City.id == Dealer.city_id).where(City.slug == filters.city)
        query = query.where(
            exists().where(
                Trim.car_model_id == CarModel.id,
                Vehicle.trim_id == Trim.id,
                Vehicle.status == VehicleStatus.IN_STOCK,
                Vehicle.dealer_id.in_(city_dealers),
            )
        )
    if filters.q:
        needle = f"%{filters.q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(CarModel.name_en).like(needle),
                CarModel.name_zh.like(f"%{filters.q.strip()}%"),
                func.lower(Brand.name_en).like(needle),
                Brand.name_zh.like(f"%{filters.q.strip()}%"),
                exists().where(Trim.car_model_id == CarModel.id, func.lower(Trim.name_en).like(needle)),
            )
        )
    return query


def list_models(session: Session, filters: ListingFilters, *, page: int, per_page: int) -> Page[CarModel]:
    """One page of models with their brands and the total, in one statement (a window COUNT beside the rows).
    Only a page past the end costs a second: the COUNT that finds the last page."""
    base = _filtered(filters)
    page = max(page, 1)
    for _attempt in range(2):
        rows = session.execute(
            base.add_columns(func.count().over().label("total"))
            .options(contains_eager(CarModel.brand))
            .order_by(*SORTS.get(filters.sort, SORTS["popular"]))
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        if rows or page == 1:
            break
        total, last = count_and_clamp(session, base, page=page, per_page=per_page)
        if not total or last == page:
            break
        page = last
    total = rows[0][1] if rows else 0
    return Page(items=[row[0] for row in rows], total=total, page=page if rows else 1, per_page=per_page)


def units_in_stock(session: Session, car_model_ids: list[int]) -> dict[int, int]:
    """In-stock unit count per model, in one grouped query."""
    if not car_model_ids:
        return {}
    query = (
        select(Trim.car_model_id, func.count(Vehicle.id))
        .join(Vehicle, Vehicle.trim_id == Trim.id)
        .where(Trim.car_model_id.in_(car_model_ids), Vehicle.status == VehicleStatus.IN_STOCK)
        .group_by(Trim.car_model_id)
    )
    return {row[0]: row[1] for row in session.execute(query)}
