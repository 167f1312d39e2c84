"""The test-drive seeder: a schedule and demo cars for every showroom, cars for kiosks; a second run adds nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from models import CarModel, Dealer, TestDriveException, TestDriveFleet, TestDriveSchedule, Vehicle, VehicleStatus
from storefront.catalog.seed import seed_catalog
from storefront.catalog.vin import vin_problem
from storefront.test_drives.seed import KIOSK_CARS_PER_MODEL, KIOSK_MODELS, seed_test_drives


def test_seed_is_complete_deterministic_and_idempotent(db):
    seed_catalog(db, vehicles_per_dealer=2)
    first = seed_test_drives(db)
    dealers = db.scalars(select(Dealer)).all()
    assert first.schedules == len(dealers) == db.scalar(select(func.count(TestDriveSchedule.id)))
    kiosks = [d for d in dealers if d.has_self_service_kiosk]
    assert first.kiosk_cars == len(kiosks) * len(KIOSK_MODELS) * KIOSK_CARS_PER_MODEL
    pudong = next(d for d in dealers if d.code == "SH-PD")
    schedule = db.scalar(select(TestDriveSchedule).where(TestDriveSchedule.dealer_id == pudong.id))
    assert schedule.weekly_hours == pudong.opening_hours and schedule.slot_minutes == 45
    kadjar = db.scalar(select(CarModel).where(CarModel.slug == "kadjar"))
    assert db.scalar(select(TestDriveFleet.demo_cars).where(TestDriveFleet.dealer_id == pudong.id,
                                                            TestDriveFleet.car_model_id == kadjar.id)) == 2
    assert db.scalar(select(func.count(TestDriveException.id))) == 4 * len(dealers)
    vins = sorted(db.scalars(select(Vehicle.vin).where(Vehicle.status == VehicleStatus.DEMO_FLEET,
                                                       Vehicle.vin.like("LVSHTD01%"))))
    assert vins and all(vin_problem(vin) is None for vin in vins)
    again = seed_test_drives(db)
    assert (again.schedules, again.fleet_rows, again.closed_days, again.kiosk_cars) == (0, 0, 0, 0)
    assert sorted(db.scalars(select(Vehicle.vin).where(Vehicle.vin.like("LVSHTD01%")))) == vins
