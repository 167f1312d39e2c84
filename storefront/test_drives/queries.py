"""Read side of test drives: what the booking pages, "my test drives" and the staff calendar show."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from models import (
    BookingStatus,
    CarModel,
    City,
    Dealer,
    TestDriveBooking,
    TestDriveFleet,
    Trim,
    User,
    Vehicle,
    VehicleStatus,
)


def offered_models(session: Session) -> Sequence[CarModel]:
    """Models some showroom has a demo car of, most popular first."""
    has_demo = exists().where(TestDriveFleet.car_model_id == CarModel.id, TestDriveFleet.demo_cars > 0)
    return session.scalars(
        select(CarModel).where(CarModel.is_active.is_(True), has_demo)
        .options(joinedload(CarModel.brand)).order_by(CarModel.popularity.desc(), CarModel.id)
    ).all()


def cities_offering(session: Session, *, car_model_id: int) -> Sequence[City]:
    return session.scalars(
        select(City).where(
            exists().where(
                Dealer.city_id == City.id, Dealer.is_active.is_(True), Dealer.offers_test_drive.is_(True),
                TestDriveFleet.dealer_id == Dealer.id, TestDriveFleet.car_model_id == car_model_id,
                TestDriveFleet.demo_cars > 0,
            )
        ).order_by(City.sort_order)
    ).all()


def all_cities(session: Session) -> Sequence[City]:
    return session.scalars(select(City).order_by(City.sort_order)).all()


def showrooms_offering(session: Session, *, car_model_id: int, city_id: int) -> list[tuple[Dealer, int]]:
    """Showrooms of the city with demo cars of the model, and how many."""
    rows = session.execute(
        select(Dealer, TestDriveFleet.demo_cars)
        .join(TestDriveFleet, TestDriveFleet.dealer_id == Dealer.id)
        .where(Dealer.city_id == city_id, Dealer.is_active.is_(True), Dealer.offers_test_drive.is_(True),
               TestDriveFleet.car_model_id == car_model_id, TestDriveFleet.demo_cars > 0)
        .order_by(Dealer.name_en)
    ).all()
    return [(dealer, int(cars)) for dealer, cars in rows]


def kiosks_offering(session: Session, *, car_model_id: int) -> list[tuple[Dealer, int]]:
    """Self-service kiosk showrooms with demo cars (vehicles in the demo fleet) of the model, and how many."""
    rows = session.execute(
        select(Dealer, func.count(Vehicle.id))
        .join(Vehicle, Vehicle.dealer_id == Dealer.id)
        .join(Trim, Trim.id == Vehicle.trim_id)
        .where(Dealer.has_self_service_kiosk.is_(True), Dealer.is_active.is_(True),
               Vehicle.status == VehicleStatus.DEMO_FLEET, Trim.car_model_id == car_model_id)
        .group_by(Dealer.id)
        .order_by(Dealer.city_id, Dealer.name_en)
        .options(joinedload(Dealer.city))
    ).all()
    return [(dealer, int(count)) for dealer, count in rows]


def my_bookings(session: Session, *, user_id: int) -> Sequence[TestDriveBooking]:
    return session.scalars(
        select(TestDriveBooking).where(TestDriveBooking.user_id == user_id)
        .options(joinedload(TestDriveBooking.dealer), joinedload(TestDriveBooking.car_model).joinedload(CarModel.brand))
        .order_by(TestDriveBooking.starts_at.desc()).limit(100)
    ).all()


def bookings_between(
    session: Session, *, dealer_id: int, start: dt.datetime, end: dt.datetime, include_cancelled: bool = True
) -> Sequence[TestDriveBooking]:
    """Every booking of the showroom overlapping [start, end), with shopper and model loaded (one query)."""
    query = (
        select(TestDriveBooking)
        .where(TestDriveBooking.dealer_id == dealer_id, TestDriveBooking.starts_at < end,
               TestDriveBooking.ends_at > start)
        .options(joinedload(TestDriveBooking.user), joinedload(TestDriveBooking.car_model).joinedload(CarModel.brand),
                 joinedload(TestDriveBooking.vehicle))
        .order_by(TestDriveBooking.starts_at, TestDriveBooking.id)
    )
    if not include_cancelled:
        query = query.where(TestDriveBooking.status.not_in((BookingStatus.CANCELLED, BookingStatus.EXPIRED)))
    return session.scalars(query).all()


def fleet_of(session: Session, *, dealer_id: int) -> list[tuple[CarModel, int]]:
    """Every active model with the showroom's demo-car count (0 where it has none), for the schedule page."""
    counts = dict(session.execute(
        select(TestDriveFleet.car_model_id, TestDriveFleet.demo_cars).where(TestDriveFleet.dealer_id == dealer_id)
    ).all())
    car_models = session.scalars(
        select(CarModel).where(CarModel.is_active.is_(True)).options(joinedload(CarModel.brand))
        .order_by(CarModel.brand_id, CarModel.sort_order, CarModel.id)
    ).all()
    return [(car_model, int(counts.get(car_model.id, 0))) for car_model in car_models]


def demo_models_at(session: Session, *, dealer_id: int) -> list[tuple[CarModel, int]]:
    rows = session.execute(
        select(CarModel, TestDriveFleet.demo_cars).join(TestDriveFleet, TestDriveFleet.car_model_id == CarModel.id)
        .where(TestDriveFleet.dealer_id == dealer_id, TestDriveFleet.demo_cars > 0)
        .options(joinedload(CarModel.brand)).order_by(CarModel.popularity.desc(), CarModel.id)
    ).all()
    return [(car_model, int(cars)) for car_model, cars in rows]


def staff_showrooms(session: Session, *, user: User) -> Sequence[Dealer]:
    """Admins see every showroom; staff the ones they work at."""
    query = select(Dealer).options(selectinload(Dealer.city)).order_by(Dealer.city_id, Dealer.name_en)
    if not user.is_admin:
        query = query.where(Dealer.id.in_([d.id for d in user.dealers]))
    return session.scalars(query).all()
