"""Many shoppers at the same instant, real threads, separate sessions, real commits (PostgreSQL only).

Run with TEST_DATABASE_URL=postgresql://127.0.0.1:5432/test; `-s` prints what each round measured.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

import models
from models import Role, TestDriveBooking, TestDriveFleet, TestDriveSlot, User, VehicleStatus
from storefront import clock
from storefront.accounts.passwords import hash_password
from storefront.errors import ConflictError
from storefront.test_drives import self_service, services
from storefront.test_drives.slots import WEEKDAYS
from tests import factories

pytestmark = pytest.mark.postgres

SHOPPERS = 50
CAPACITY = 3


@pytest.fixture
def engine(database_url: str, is_postgres: bool, app: Flask) -> Iterator[sa.Engine]:
    """An engine of our own that really commits, one connection per thread; every table is emptied afterwards."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (TEST_DATABASE_URL=postgresql://...)")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                              pool_size=SHOPPERS, max_overflow=0, pool_timeout=60)
    yield engine
    tables = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Monday 10:00 Beijing time, a week or two ahead (every thread reads the same store clock)."""
    today = dt.datetime.now(clock.STORE_TZ).date()
    monday = today + dt.timedelta(days=14 - today.weekday())
    moment = dt.datetime(monday.year, monday.month, monday.day, 10, 0, tzinfo=clock.STORE_TZ).astimezone(dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    return moment


@pytest.fixture
def committed(engine: sa.Engine, frozen_now: dt.datetime) -> dict[str, object]:
    with Session(engine) as session:
        catalog = factories.small_catalog(session)
        kadjar, dealer = catalog.car_models[0], catalog.dealers[0]
        session.add(TestDriveFleet(dealer_id=dealer.id, car_model_id=kadjar.id, demo_cars=CAPACITY))
        password_hash = hash_password(factories.TEST_PASSWORD)  # argon2 once, not fifty times
        shoppers = [User(email=f"racer{i}@example.com", password_hash=password_hash, name=f"Racer {i}",
                         role=Role.CUSTOMER) for i in range(SHOPPERS)]
        session.add_all(shoppers)
        cars = [factories.make_vehicle(session, trim=catalog.trims[0], dealer=dealer, status=VehicleStatus.DEMO_FLEET)
                for _ in range(2)]
        session.commit()
        return {"dealer": dealer.id, "model": kadjar.id, "shoppers": [u.id for u in shoppers],
                "cars": [c.id for c in cars]}


def run_together(app: Flask, jobs: list[Callable[[threading.Barrier], str]]) -> tuple[list[str], float]:
    """Start every job at the same instant on its own thread (app context each); returns outcomes and seconds."""
    barrier = threading.Barrier(len(jobs))
    results: list[str] = [""] * len(jobs)

    def run(index: int) -> None:
        with app.app_context():
            try:
                results[index] = jobs[index](barrier)
            except Exception as error:  # reported by the test, never swallowed silently
                results[index] = f"error: {type(error).__name__}: {error}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, time.perf_counter() - started


def _booker(engine: sa.Engine, committed: dict[str, object], user_id: int, starts_at: dt.datetime,
            dealer_key: str = "dealer") -> Callable[[threading.Barrier], str]:
    def job(barrier: threading.Barrier) -> str:
        with Session(engine) as session:
            shopper = session.get_one(User, user_id)
            dealer = session.get_one(models.Dealer, committed[dealer_key])
            car_model = session.get_one(models.CarModel, committed["model"])
            barrier.wait()
            try:
                services.book_showroom_drive(session, shopper=shopper, dealer=dealer, car_model=car_model,
                                             starts_at=starts_at, contact_name="Racer", mobile="13800138000",
                                             licence_confirmed=True)
                session.commit()
                return "booked"
            except ConflictError as refused:
                session.rollback()
                return refused.code
    return job


@pytest.mark.parametrize("round_no", [1, 2, 3])
def test_fifty_shoppers_race_for_a_slot_of_three(app, engine, committed, frozen_now, round_no):
    tuesday = frozen_now.astimezone(clock.STORE_TZ).date() + dt.timedelta(days=1)
    starts_at = dt.datetime(tuesday.year, tuesday.month, tuesday.day, 10, 30, tzinfo=clock.STORE_TZ)
    jobs = [_booker(engine, committed, user_id, starts_at) for user_id in committed["shoppers"]]  # type: ignore[attr-defined]
    results, seconds = run_together(app, jobs)
    outcome = collections.Counter(results)
    print(f"\nround {round_no}: {SHOPPERS} shoppers, capacity {CAPACITY}: {dict(outcome)} in {seconds:.2f} s")
    assert outcome == {"booked": CAPACITY, "slot_full": SHOPPERS - CAPACITY}
    with Session(engine) as session:
        slot = session.scalar(sa.select(TestDriveSlot))
        assert (slot.booked, slot.capacity) == (CAPACITY, CAPACITY)
        assert session.scalar(sa.select(sa.func.count(TestDriveBooking.id))) == CAPACITY
        mails = session.scalar(sa.select(sa.func.count(models.OutboxMessage.id)))
        assert mails == CAPACITY  # refused shoppers left nothing behind


def test_one_shopper_clicking_ten_showrooms_at_once_holds_one_drive(app, engine, committed, frozen_now):
    with Session(engine) as session:  # ten showrooms, each with the model, all at the same time
        city = session.scalar(sa.select(models.City))
        extra = []
        for i in range(10):
            dealer = models.Dealer(code=f"RACE-{i}", name_en=f"Race {i}", name_zh=f"赛{i}", city_id=city.id,
                                   opening_hours={d: ["09:00", "18:00"] for d in WEEKDAYS})
            session.add(dealer)
            session.flush()
            session.add(TestDriveFleet(dealer_id=dealer.id, car_model_id=committed["model"], demo_cars=1))
            extra.append(dealer.id)
        session.commit()
    tuesday = frozen_now.astimezone(clock.STORE_TZ).date() + dt.timedelta(days=1)
    starts_at = dt.datetime(tuesday.year, tuesday.month, tuesday.day, 10, 30, tzinfo=clock.STORE_TZ)
    shopper = committed["shoppers"][0]  # type: ignore[index]
    jobs = []
    for dealer_id in extra:
        committed[f"d{dealer_id}"] = dealer_id
        jobs.append(_booker(engine, committed, shopper, starts_at, dealer_key=f"d{dealer_id}"))
    results, _seconds = run_together(app, jobs)
    assert collections.Counter(results) == {"booked": 1, "overlap": 9}, results
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count(TestDriveBooking.id))) == 1
        assert session.scalar(sa.select(sa.func.sum(TestDriveSlot.booked))) == 1  # the losers gave their place back


def test_twenty_shoppers_race_for_two_kiosk_cars(app, engine, committed, frozen_now):
    tuesday = frozen_now.astimezone(clock.STORE_TZ).date() + dt.timedelta(days=1)
    starts_at = dt.datetime(tuesday.year, tuesday.month, tuesday.day, 10, 0, tzinfo=clock.STORE_TZ)

    def hold(user_id: int) -> Callable[[threading.Barrier], str]:
        def job(barrier: threading.Barrier) -> str:
            with app.test_request_context("/"), Session(engine) as session:
                shopper = session.get_one(User, user_id)
                dealer = session.get_one(models.Dealer, committed["dealer"])
                car_model = session.get_one(models.CarModel, committed["model"])
                barrier.wait()
                try:
                    self_service.start_self_service(
                        session, shopper=shopper, dealer=dealer, car_model=car_model, starts_at=starts_at, days=3,
                        contact_name="Racer", mobile="13800138000", licence_confirmed=True,
                        return_url=lambda ref: "/")
                    session.commit()
                    return "held"
                except ConflictError as refused:
                    session.rollback()
                    return refused.code
        return job

    results, _seconds = run_together(app, [hold(u) for u in committed["shoppers"][:20]])  # type: ignore[index]
    assert collections.Counter(results) == {"held": 2, "no_car_free": 18}, results
    with Session(engine) as session:
        cars = session.scalars(sa.select(TestDriveBooking.vehicle_id)).all()
        assert sorted(cars) == sorted(committed["cars"])  # type: ignore[arg-type]
        assert session.scalar(sa.select(sa.func.count(models.Payment.id))) == 2
