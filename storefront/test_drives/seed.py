"""Seeding test-drive schedules: hours, slot length and demo cars for every showroom, holidays, kiosk cars.

Deterministic and idempotent: natural keys (showroom, model, date, VIN), no clock, no randomness.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    CarModel,
    Dealer,
    TestDriveException,
    TestDriveFleet,
    TestDriveSchedule,
    Trim,
    Vehicle,
    VehicleStatus,
)
from storefront.catalog.vin import with_check_digit

SLOT_MINUTES = 45
POPULAR = 90  # models at least this popular get two demo cars per showroom, the others one
# Spring Festival (春节) eve and day: every showroom closes for test drives.
HOLIDAYS = {
    dt.date(2026, 2, 16): "Spring Festival eve / 除夕",
    dt.date(2026, 2, 17): "Spring Festival / 春节",
    dt.date(2027, 2, 5): "Spring Festival eve / 除夕",
    dt.date(2027, 2, 6): "Spring Festival / 春节",
}
# Kiosk showrooms keep physical demo cars for self-service drives: two of each of these models.
KIOSK_MODELS = ("kadjar", "koleos", "explorer", "mustang-mach-e", "city-k-ze")
KIOSK_CARS_PER_MODEL = 2
KIOSK_VIN_PREFIX = "LVSHTD01"


@dataclass(frozen=True)
class TestDriveSeedReport:
    __test__ = False  # not a pytest class

    schedules: int
    fleet_rows: int
    closed_days: int
    kiosk_cars: int


def seed_test_drives(session: Session) -> TestDriveSeedReport:
    dealers = list(session.scalars(select(Dealer).order_by(Dealer.id)))
    car_models = list(session.scalars(select(CarModel).where(CarModel.is_active.is_(True)).order_by(CarModel.id)))
    schedules = {s.dealer_id for s in session.scalars(select(TestDriveSchedule))}
    fleet = {(row[0], row[1]) for row in session.execute(select(TestDriveFleet.dealer_id, TestDriveFleet.car_model_id))}
    closed = {(row[0], row[1]) for row in session.execute(select(TestDriveException.dealer_id, TestDriveException.day))}
    counts = [0, 0, 0, 0]
    for dealer in dealers:
        if dealer.id not in schedules:
            session.add(TestDriveSchedule(dealer_id=dealer.id, weekly_hours=dict(dealer.opening_hours or {}),
                                          slot_minutes=SLOT_MINUTES))
            counts[0] += 1
        if dealer.offers_test_drive:
            for car_model in car_models:
                if (dealer.id, car_model.id) not in fleet:
                    cars = 2 if car_model.popularity >= POPULAR else 1
                    session.add(TestDriveFleet(dealer_id=dealer.id, car_model_id=car_model.id, demo_cars=cars))
                    counts[1] += 1
        for day, note in HOLIDAYS.items():
            if (dealer.id, day) not in closed:
                session.add(TestDriveException(dealer_id=dealer.id, day=day, closed=True, note=note))
                counts[2] += 1
    counts[3] = _seed_kiosk_cars(session, [d for d in dealers if d.has_self_service_kiosk])
    session.flush()
    return TestDriveSeedReport(*counts)


def _seed_kiosk_cars(session: Session, kiosks: list[Dealer]) -> int:
    first_trims: dict[str, Trim] = {}
    for trim in session.scalars(select(Trim).join(CarModel).where(CarModel.slug.in_(KIOSK_MODELS))
                                .order_by(Trim.msrp_cny, Trim.id)):
        first_trims.setdefault(trim.car_model.slug, trim)
    existing = set(session.scalars(select(Vehicle.vin).where(Vehicle.vin.like(f"{KIOSK_VIN_PREFIX[:8]}%"))))
    added = 0
    for kiosk in kiosks:
        for model_index, slug in enumerate(KIOSK_MODELS):
            model_trim = first_trims.get(slug)
            if model_trim is None:
                continue
            for n in range(KIOSK_CARS_PER_MODEL):
                # Three digits of the showroom's id keep the VIN at 17 characters whatever the id has grown to
                # (a database whose id sequence is past 999, as a long-lived test database's is).
                vin = with_check_digit(f"{KIOSK_VIN_PREFIX}0LS{kiosk.id % 1000:03d}{model_index}{n:02d}")
                if vin in existing:
                    continue
                colours = model_trim.colours
                colour = colours[n % len(colours)]["code"] if colours else "white"
                session.add(Vehicle(vin=vin, trim_id=model_trim.id, dealer_id=kiosk.id, colour_code=colour,
                                    status=VehicleStatus.DEMO_FLEET))
                added += 1
    return added
