"""Catalog rules: keeping derived prices right and answering where a car is in stock."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import CarModel, City, Dealer, DepositKind, DepositPolicy, Trim, Vehicle, VehicleStatus


def refresh_price_from(session: Session, car_model: CarModel) -> None:
    """Keep CarModel.price_from equal to its cheapest active trim (listings sort and filter on it)."""
    lowest = session.scalar(
        select(func.min(Trim.msrp_cny)).where(Trim.car_model_id == car_model.id, Trim.is_active.is_(True))
    )
    if lowest is not None:
        car_model.price_from = lowest


def stock_by_dealer(session: Session, *, car_model_id: int, city_id: int | None = None) -> list[tuple[Dealer, int]]:
    """Showrooms with in-stock units of a model (optionally in one city), with how many each has."""
    count = func.count(Vehicle.id).label("units")
    query = (
        select(Dealer, count)
        .join(Vehicle, Vehicle.dealer_id == Dealer.id)
        .join(Trim, Trim.id == Vehicle.trim_id)
        .where(Trim.car_model_id == car_model_id, Vehicle.status == VehicleStatus.IN_STOCK, Dealer.is_active.is_(True))
        .group_by(Dealer.id)
        .order_by(Dealer.city_id, Dealer.name_en)
    )
    if city_id is not None:
        query = query.where(Dealer.city_id == city_id)
    return [(row[0], row[1]) for row in session.execute(query)]


def cities_with_stock(session: Session, *, car_model_id: int) -> list[tuple[City, int]]:
    """Cities where the model is in stock, with the number of showrooms holding it."""
    showrooms = func.count(func.distinct(Dealer.id)).label("showrooms")
    query = (
        select(City, showrooms)
        .join(Dealer, Dealer.city_id == City.id)
        .join(Vehicle, Vehicle.dealer_id == Dealer.id)
        .join(Trim, Trim.id == Vehicle.trim_id)
        .where(Trim.car_model_id == car_model_id, Vehicle.status == VehicleStatus.IN_STOCK)
        .group_by(City.id)
        .order_by(City.sort_order)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def deposit_kind_of(session: Session, *, car_model_id: int) -> DepositKind | None:
    """The kind of deposit the model is reserved with (订金 or 定金), so the page can name it; None: not online."""
    return session.scalar(select(DepositPolicy.kind).where(DepositPolicy.car_model_id == car_model_id,
                                                           DepositPolicy.is_active.is_(True)))
