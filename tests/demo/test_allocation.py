"""The guided tour's own Koleos: seeded once, chosen first by step 5, back on sale after a tour."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

import models
from models import Vehicle, VehicleStatus
from storefront.demo import allocation
from tests import factories


def tour_world(db):  # type: ignore[no-untyped-def]
    catalog = factories.small_catalog(db)
    koleos = models.CarModel(brand=catalog.brands[0], slug="koleos", name_en="Koleos", name_zh="科雷傲",
                             body_type=models.BodyType.SUV, powertrain=models.Powertrain.ICE, model_year=2019,
                             price_from=Decimal("180000"))
    trim = models.Trim(car_model=koleos, name_en="2.0L", model_year=2019, powertrain=models.Powertrain.ICE,
                       msrp_cny=Decimal("180000"), colours=factories.COLOURS)
    catalog.dealers[0].code = "SH-PD"
    db.add_all([koleos, trim])
    db.flush()
    return trim


def tour_vehicles(db) -> list[Vehicle]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(Vehicle).where(Vehicle.vin.like(f"{allocation.VIN_PREFIX}%"))))


def test_one_koleos_per_colour_at_pudong_seeded_once(db):
    trim = tour_world(db)
    assert "2 Koleos added" in allocation.seed_tour_allocation(db)
    assert allocation.seed_tour_allocation(db) == "tour allocation: already there"
    cars = tour_vehicles(db)
    assert sorted(v.colour_code for v in cars) == sorted(c["code"] for c in trim.colours)
    assert {v.dealer.code for v in cars} == {"SH-PD"} and all(v.status is VehicleStatus.IN_STOCK for v in cars)


def test_step_five_picks_a_car_on_sale_and_handed_over_cars_come_back(db):
    trim = tour_world(db)
    allocation.seed_tour_allocation(db)
    first, second = tour_vehicles(db)
    assert allocation.tour_choice(db) == (trim.id, min(first.colour_code, second.colour_code))
    first.status = second.status = VehicleStatus.SOLD
    db.flush()
    assert allocation.tour_choice(db) is None  # nothing on sale at the demo staff's showrooms
    assert allocation.restock(db) == 2
    db.expire_all()
    assert {v.status for v in tour_vehicles(db)} == {VehicleStatus.IN_STOCK}
    assert allocation.tour_choice(db) is not None
