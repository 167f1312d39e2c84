"""Fixtures for test drives: a frozen store clock, demo cars per showroom and a booking helper."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy.orm import Session

import models
from storefront import clock
from storefront.test_drives import services
from tests import factories

_emails = itertools.count(1)


class FreshGClient(FlaskClient):
    """Every request starts with a fresh `flask.g`, as in production.

    The `db` fixture keeps one app context pushed for the whole test, so requests would otherwise share `g`,
    where Flask-Login caches the user and Flask-Babel the language of the first request.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask, db: Session) -> FlaskClient:
    return FreshGClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def english(db: Session):  # type: ignore[no-untyped-def]
    """Service messages in English (outside a request the store's default language, Chinese, applies)."""
    with force_locale("en"):
        yield


@dataclass
class StoreClock:
    """The store clock, frozen; `monday` is a Monday at least a week after the real date (so payments,
    which read the real clock, still see their deadlines ahead)."""

    monday: dt.date
    current: dt.datetime

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.STORE_TZ)

    def day(self, offset: int) -> dt.date:
        return self.monday + dt.timedelta(days=offset)

    def set(self, moment: dt.datetime) -> None:
        self.current = moment.astimezone(dt.UTC)


@pytest.fixture
def store_clock(monkeypatch: pytest.MonkeyPatch) -> StoreClock:
    real_today = dt.datetime.now(clock.STORE_TZ).date()
    monday = real_today + dt.timedelta(days=14 - real_today.weekday())
    frozen = StoreClock(monday=monday, current=dt.datetime(monday.year, monday.month, monday.day, 2, 0,
                                                           tzinfo=dt.UTC))  # Monday 10:00 in Shanghai
    monkeypatch.setattr(clock, "now", lambda: frozen.current)
    return frozen


@dataclass
class TestDriveWorld:
    __test__ = False

    catalog: factories.Catalog
    kadjar: models.CarModel
    mache: models.CarModel
    focus: models.CarModel
    sh1: models.Dealer  # Shanghai, self-service kiosk, 2 Kadjar demo cars for showroom drives
    sh2: models.Dealer  # Shanghai, 1 Kadjar, 1 Focus
    bj1: models.Dealer  # Beijing, 1 Mach-E
    kiosk_cars: list[models.Vehicle]


@pytest.fixture
def world(db: Session, catalog: factories.Catalog, store_clock: StoreClock) -> TestDriveWorld:
    kadjar, mache, focus = catalog.car_models
    sh1, sh2, bj1 = catalog.dealers
    db.add_all([
        models.TestDriveFleet(dealer=sh1, car_model=kadjar, demo_cars=2),
        models.TestDriveFleet(dealer=sh2, car_model=kadjar, demo_cars=1),
        models.TestDriveFleet(dealer=sh2, car_model=focus, demo_cars=1),
        models.TestDriveFleet(dealer=bj1, car_model=mache, demo_cars=1),
        models.TestDriveSchedule(dealer=sh1, weekly_hours=dict(sh1.opening_hours), slot_minutes=45),
    ])
    cars = [factories.make_vehicle(db, trim=catalog.trims[0], dealer=sh1, status=models.VehicleStatus.DEMO_FLEET)
            for _ in range(2)]
    db.flush()
    return TestDriveWorld(catalog, kadjar, mache, focus, sh1, sh2, bj1, cars)


@pytest.fixture
def make_shopper(db: Session) -> Callable[..., models.User]:
    def _make(**values: Any) -> models.User:
        return factories.make_user(db, email=f"driver{next(_emails)}@example.com", role=models.Role.CUSTOMER,
                                   **values)

    return _make


@pytest.fixture
def book(db: Session, world: TestDriveWorld) -> Callable[..., models.TestDriveBooking]:
    """Book a showroom drive with valid contact details (override any argument)."""

    def _book(shopper: models.User, starts_at: dt.datetime, **overrides: Any) -> models.TestDriveBooking:
        values: dict[str, Any] = {"dealer": world.sh1, "car_model": world.kadjar, "contact_name": "Li Lei",
                                  "mobile": "13800138000", "licence_confirmed": True}
        values.update(overrides)
        return services.book_showroom_drive(db, shopper=shopper, starts_at=starts_at, **values)

    return _book
