"""Small factories for tests: build just the rows a test needs, with sensible defaults."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

import models
from storefront.accounts.passwords import hash_password
from storefront.catalog.vin import with_check_digit

_serial = itertools.count(1)
TEST_PASSWORD = "correct horse battery"  # noqa: S105 - test fixture


@dataclass
class Catalog:
    brands: list[models.Brand]
    car_models: list[models.CarModel]
    trims: list[models.Trim]
    cities: list[models.City]
    dealers: list[models.Dealer]
    vehicles: list[models.Vehicle]


def make_vin() -> str:
    return with_check_digit(f"LTEST0AB0LS{next(_serial):06d}")


@functools.cache
def test_password_hash() -> str:
    """One argon2id hash of TEST_PASSWORD per process: hashing costs ~50 ms by design, tests need it once."""
    return hash_password(TEST_PASSWORD)


def make_user(session: Session, *, email: str, role: models.Role = models.Role.CUSTOMER, **values: Any) -> models.User:
    user = models.User(
        email=email,
        password_hash=test_password_hash(),
        name=values.pop("name", email.split("@")[0].title()),
        role=role,
        session_token=values.pop("session_token", "t0"),
        **values,
    )
    session.add(user)
    session.flush()
    return user


def make_vehicle(session: Session, *, trim: models.Trim, dealer: models.Dealer, **values: Any) -> models.Vehicle:
    vehicle = models.Vehicle(
        vin=values.pop("vin", make_vin()),
        trim=trim,
        dealer=dealer,
        colour_code=values.pop("colour_code", trim.colours[0]["code"] if trim.colours else "white"),
        **values,
    )
    session.add(vehicle)
    session.flush()
    return vehicle


COLOURS = [
    {"code": "pearl-white", "name_en": "Pearl White", "name_zh": "珍珠白", "hex": "#F4F4F0"},
    {"code": "flame-red", "name_en": "Flame Red", "name_zh": "火焰红", "hex": "#B3261E"},
]


def small_catalog(session: Session) -> Catalog:
    renault = models.Brand(slug="renault", name_en="Renault", name_zh="雷诺", sort_order=0)
    ford = models.Brand(slug="ford", name_en="Ford", name_zh="福特", sort_order=1)
    kadjar = models.CarModel(
        brand=renault, slug="kadjar", name_en="Kadjar", name_zh="科雷嘉", body_type=models.BodyType.SUV,
        powertrain=models.Powertrain.ICE, model_year=2019, popularity=80, price_from=Decimal("160000"),
        features=[{"code": "alibaba-connect", "name_en": "Alibaba in-car system", "name_zh": "阿里巴巴车载系统"}],
    )
    mache = models.CarModel(
        brand=ford, slug="mustang-mach-e", name_en="Mustang Mach-E", name_zh="Mustang Mach-E",
        body_type=models.BodyType.SUV, powertrain=models.Powertrain.BEV, model_year=2021, popularity=95,
        price_from=Decimal("265000"),
    )
    focus = models.CarModel(
        brand=ford, slug="focus", name_en="Focus", name_zh="福克斯", body_type=models.BodyType.SEDAN,
        powertrain=models.Powertrain.ICE, model_year=2019, popularity=40, price_from=Decimal("120000"),
    )
    trims = [
        models.Trim(car_model=kadjar, name_en="2.0L CVT 2WD", model_year=2019, powertrain=models.Powertrain.ICE,
                    msrp_cny=Decimal("160000"), seats=5, colours=COLOURS),
        models.Trim(car_model=kadjar, name_en="2.0L CVT 4WD top", model_year=2019, powertrain=models.Powertrain.ICE,
                    msrp_cny=Decimal("200000"), seats=5, colours=COLOURS),
        models.Trim(car_model=mache, name_en="Standard Range RWD", model_year=2021, powertrain=models.Powertrain.BEV,
                    msrp_cny=Decimal("265000"), seats=5, range_km=430, colours=COLOURS),
        models.Trim(car_model=focus, name_en="1.5L 6AT sedan", model_year=2019, powertrain=models.Powertrain.ICE,
                    msrp_cny=Decimal("120000"), seats=5, colours=COLOURS),
    ]
    shanghai = models.City(slug="shanghai", name_en="Shanghai", name_zh="上海", sort_order=0)
    beijing = models.City(slug="beijing", name_en="Beijing", name_zh="北京", sort_order=1)
    hours = {day: ["09:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    dealers = [
        models.Dealer(code="SH-1", name_en="Shanghai One", name_zh="上海一店", city=shanghai, opening_hours=hours,
                      has_self_service_kiosk=True),
        models.Dealer(code="SH-2", name_en="Shanghai Two", name_zh="上海二店", city=shanghai, opening_hours=hours),
        models.Dealer(code="BJ-1", name_en="Beijing One", name_zh="北京一店", city=beijing, opening_hours=hours),
    ]
    session.add_all([renault, ford, kadjar, mache, focus, *trims, shanghai, beijing, *dealers])
    session.flush()
    vehicles = [
        make_vehicle(session, trim=trims[0], dealer=dealers[0]),
        make_vehicle(session, trim=trims[0], dealer=dealers[1]),
        make_vehicle(session, trim=trims[1], dealer=dealers[0]),
        make_vehicle(session, trim=trims[2], dealer=dealers[2]),
    ]
    return Catalog(
        brands=[renault, ford], car_models=[kadjar, mache, focus], trims=trims, cities=[shanghai, beijing],
        dealers=dealers, vehicles=vehicles,
    )


def small_catalog_model(session: Session, *, brand: models.Brand, slug: str) -> models.CarModel:
    """One more model with one trim (for tests that need many rows)."""
    car_model = models.CarModel(
        brand=brand, slug=slug, name_en=slug.title(), name_zh=slug, body_type=models.BodyType.SUV,
        powertrain=models.Powertrain.ICE, model_year=2020, popularity=10, price_from=Decimal("150000"),
    )
    trim = models.Trim(car_model=car_model, name_en="Base", model_year=2020, powertrain=models.Powertrain.ICE,
                       msrp_cny=Decimal("150000"), colours=COLOURS)
    session.add_all([car_model, trim])
    session.flush()
    return car_model
