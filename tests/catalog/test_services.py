"""Catalog services and seed: idempotent, deterministic, valid VINs, stock answers."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from models import CarModel, Dealer, Powertrain, Trim, Vehicle, VehicleStatus
from storefront.catalog import seed, services
from storefront.catalog.queries import ListingFilters, list_models
from storefront.catalog.vin import check_digit, vin_problem, with_check_digit


def test_seed_loads_a_believable_lineup_and_is_idempotent(db):
    first = seed.seed_catalog(db)
    second = seed.seed_catalog(db)
    assert first == second
    assert first.brands == 3 and first.trims == 40 and first.cities >= 6 and first.dealers >= 10
    assert first.vehicles >= 300
    kadjar = db.scalar(select(CarModel).where(CarModel.slug == "kadjar"))
    assert any(f["code"] == "alibaba-connect" for f in kadjar.features)
    assert kadjar.price_from == Decimal("160000.00")
    renault_ev = db.scalar(select(CarModel).where(CarModel.slug == "city-k-ze"))
    assert renault_ev.powertrain is Powertrain.BEV
    ford_models = db.scalar(select(func.count(CarModel.id)).join(CarModel.brand).where(CarModel.brand.has(slug="ford")))
    assert ford_models >= 6


def test_seeded_vins_are_valid_and_unique(db):
    seed.seed_catalog(db)
    vins = list(db.scalars(select(Vehicle.vin)))
    assert len(vins) == len(set(vins))
    assert all(vin_problem(v) is None for v in vins)


def test_seeded_stock_spreads_over_showrooms(db):
    seed.seed_catalog(db)
    per_dealer = db.execute(select(Vehicle.dealer_id, func.count()).group_by(Vehicle.dealer_id)).all()
    assert len(per_dealer) == db.scalar(select(func.count(Dealer.id)))
    assert all(count >= 20 for _, count in per_dealer)


def test_seed_scale_adds_deterministic_vehicles_once(db):
    seed.seed_catalog(db)
    before = db.scalar(select(func.count(Vehicle.id)))
    assert seed.seed_scale(db, count=500) == 500
    assert seed.seed_scale(db, count=500) == 0
    assert db.scalar(select(func.count(Vehicle.id))) == before + 500


def test_vin_check_digit():
    assert vin_problem("1M8GDM9AXKP042788") is None  # a published valid example
    assert check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_problem("1M8GDM9A1KP042788") == "The VIN check digit (9th character) does not match."
    assert vin_problem("1M8GDM9AXKP04278") == "A VIN has exactly 17 characters."
    assert "I, O and Q" in vin_problem("1M8GDM9AXKP04278O")
    assert vin_problem(with_check_digit("LFMA1BC20LS000001")) is None


def test_refresh_price_from_follows_cheapest_active_trim(db, catalog):
    kadjar = catalog.car_models[0]
    catalog.trims[0].is_active = False
    services.refresh_price_from(db, kadjar)
    assert kadjar.price_from == Decimal("200000")


def test_stock_by_dealer_counts_only_in_stock_units(db, catalog):
    kadjar, shanghai = catalog.car_models[0], catalog.cities[0]
    rows = services.stock_by_dealer(db, car_model_id=kadjar.id, city_id=shanghai.id)
    assert {dealer.code: units for dealer, units in rows} == {"SH-1": 2, "SH-2": 1}
    catalog.vehicles[1].status = VehicleStatus.SOLD
    db.flush()
    rows = services.stock_by_dealer(db, car_model_id=kadjar.id, city_id=shanghai.id)
    assert {dealer.code: units for dealer, units in rows} == {"SH-1": 2}


def test_listing_combines_filters(db, catalog):
    page = list_models(db, ListingFilters(brand="ford", powertrain="nev", city="beijing"), page=1, per_page=10)
    assert [m.slug for m in page.items] == ["mustang-mach-e"]
    assert page.total == 1 and page.pages == 1


def test_listing_page_out_of_range_is_clamped(db, catalog):
    page = list_models(db, ListingFilters(), page=99, per_page=2)
    assert page.page == 2 and len(page.items) == 1


def test_trim_prices_are_decimal(db, catalog):
    assert all(isinstance(t.msrp_cny, Decimal) for t in db.scalars(select(Trim)))
