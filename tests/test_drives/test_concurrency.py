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
    # Same model, same day: the per-shopper cap refuses them before the overlap rule would.
    assert collections.Counter(results) == {"booked": 1, "one_per_model_day": 9}, results
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


# --- one change per booking: concurrent cancel, reschedule, staff marks, self-service cancel and return ----------


ROUNDS = 4
UPCOMING_CAP = 3  # the README: at most three upcoming accompanied drives per shopper


def _tuesday_at(frozen_now: dt.datetime, hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    day = frozen_now.astimezone(clock.STORE_TZ).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.STORE_TZ)


def _staff(engine: sa.Engine, committed: dict[str, object]) -> int:
    with Session(engine) as session:
        staff = User(email="staff-racer@example.com", password_hash="x", name="Staff", role=Role.STAFF)
        staff.dealers.append(session.get_one(models.Dealer, committed["dealer"]))
        session.add(staff)
        session.commit()
        return staff.id


def _book_committed(app: Flask, engine: sa.Engine, committed: dict[str, object], user_id: int,
                    starts_at: dt.datetime) -> int:
    with app.test_request_context("/"), Session(engine) as session:
        booking = services.book_showroom_drive(
            session, shopper=session.get_one(User, user_id), dealer=session.get_one(models.Dealer, committed["dealer"]),
            car_model=session.get_one(models.CarModel, committed["model"]), starts_at=starts_at,
            contact_name="Racer", mobile="13800138000", licence_confirmed=True)
        session.commit()
        return booking.id


Act = Callable[[Session, TestDriveBooking, User], object]


def _acting(app: Flask, engine: sa.Engine, booking_id: int, actor_id: int,
            act: Act) -> Callable[[threading.Barrier], str]:
    """One request: load the booking and the actor (as a route does), wait for the others, then act and commit."""
    def job(barrier: threading.Barrier) -> str:
        with app.test_request_context("/"), Session(engine) as session:
            booking = session.get_one(TestDriveBooking, booking_id)
            actor = session.get_one(User, actor_id)
            _ = booking.dealer, booking.car_model, booking.user, actor.dealers  # what the route had loaded
            barrier.wait()
            try:
                act(session, booking, actor)
                session.commit()
                return "ok"
            except ConflictError:
                session.rollback()
                return "409"
    return job


def _cancel(session: Session, booking: TestDriveBooking, actor: User) -> object:
    return services.cancel_booking(session, booking=booking, actor=actor, reason="race")


def _counters_match_bookings(engine: sa.Engine) -> list[tuple[int, int, int]]:
    """(slot id, booked, bookings holding a place) for every slot whose counter is wrong; [] when all agree."""
    holding = sa.func.count(TestDriveBooking.id).filter(
        TestDriveBooking.status.not_in([models.BookingStatus.CANCELLED, models.BookingStatus.EXPIRED]))
    with Session(engine) as session:
        rows = session.execute(
            sa.select(TestDriveSlot.id, TestDriveSlot.booked, holding)
            .outerjoin(TestDriveBooking, TestDriveBooking.slot_id == TestDriveSlot.id)
            .group_by(TestDriveSlot.id, TestDriveSlot.booked)
        ).all()
    return [(slot_id, booked, held) for slot_id, booked, held in rows if booked != held]


def _count(engine: sa.Engine, query: sa.Select[tuple[int]]) -> int:
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def _mails(engine: sa.Engine, kind: str, reference: str) -> int:
    return _count(engine, sa.select(sa.func.count(models.OutboxMessage.id)).where(
        models.OutboxMessage.kind == f"test_drives/{kind}", models.OutboxMessage.body_text.contains(reference)))


def _audits(engine: sa.Engine, reference: str) -> int:
    return _count(engine, sa.select(sa.func.count(models.AuditLog.id)).where(models.AuditLog.entity_id == reference))


def _reference(engine: sa.Engine, booking_id: int) -> str:
    with Session(engine) as session:
        return session.get_one(TestDriveBooking, booking_id).reference


@pytest.mark.parametrize("who", ["shopper+shopper", "shopper+staff", "staff+staff"])
def test_cancelling_one_booking_twice_at_once_gives_its_place_back_once(app, engine, committed, frozen_now, who):
    staff_id = _staff(engine, committed)
    shoppers: list[int] = committed["shoppers"]  # type: ignore[assignment]
    for round_no in range(ROUNDS):
        starts_at = _tuesday_at(frozen_now, 9) + dt.timedelta(minutes=90 * round_no)  # 09:00, 10:30 ...
        mine = _book_committed(app, engine, committed, shoppers[2 * round_no], starts_at)
        _book_committed(app, engine, committed, shoppers[2 * round_no + 1], starts_at)  # the slot holds 2
        actors = [shoppers[2 * round_no] if part == "shopper" else staff_id for part in who.split("+")]
        results, _seconds = run_together(app, [_acting(app, engine, mine, actor, _cancel) for actor in actors])
        reference = _reference(engine, mine)
        print(f"\n{who} round {round_no + 1}: {collections.Counter(results)}")
        assert sorted(results) == ["409", "ok"], results
        assert _counters_match_bookings(engine) == []
        assert _mails(engine, "cancelled", reference) == 1
        audits = _audits(engine, reference)  # staff cancels are audited, the shopper's own are not
        assert audits == {"shopper+shopper": 0, "staff+staff": 1}.get(who, audits) and audits <= 1


def test_rescheduling_one_booking_to_two_slots_at_once_moves_it_once(app, engine, committed, frozen_now):
    shoppers: list[int] = committed["shoppers"]  # type: ignore[assignment]
    for round_no in range(ROUNDS):
        day = round_no + 1
        old = _tuesday_at(frozen_now, 9, days=day)
        mine = _book_committed(app, engine, committed, shoppers[2 * round_no], old)
        _book_committed(app, engine, committed, shoppers[2 * round_no + 1], old)
        targets = [_tuesday_at(frozen_now, 12, days=day), _tuesday_at(frozen_now, 15, days=day)]

        def move(to: dt.datetime) -> Act:
            return lambda session, booking, actor: services.reschedule_booking(
                session, booking=booking, actor=actor, starts_at=to)

        results, _seconds = run_together(
            app, [_acting(app, engine, mine, shoppers[2 * round_no], move(to)) for to in targets])
        reference = _reference(engine, mine)
        print(f"\nreschedule round {round_no + 1}: {collections.Counter(results)}")
        assert sorted(results) == ["409", "ok"], results
        assert _counters_match_bookings(engine) == []
        assert _mails(engine, "rescheduled", reference) == 1


@pytest.mark.parametrize("actions", [("check_in", "check_in"), ("check_in", "cancel"), ("cancel", "cancel_shopper")])
def test_staff_marks_racing_each_other_or_a_cancel_change_the_booking_once(app, engine, committed, frozen_now,
                                                                           actions):
    staff_id = _staff(engine, committed)
    shoppers: list[int] = committed["shoppers"]  # type: ignore[assignment]
    for round_no in range(ROUNDS):
        starts_at = _tuesday_at(frozen_now, 10, 30, days=round_no + 1)
        mine = _book_committed(app, engine, committed, shoppers[round_no], starts_at)

        def job(action: str, booking_id: int, owner: int) -> Callable[[threading.Barrier], str]:
            if action == "check_in":
                return _acting(app, engine, booking_id, staff_id, lambda s, b, a: services.mark_booking(
                    s, booking=b, actor=a, action="check_in"))
            return _acting(app, engine, booking_id, owner if action == "cancel_shopper" else staff_id, _cancel)

        results, _seconds = run_together(app, [job(action, mine, shoppers[round_no]) for action in actions])
        reference = _reference(engine, mine)
        assert sorted(results) == ["409", "ok"], results
        assert _counters_match_bookings(engine) == []
        assert _audits(engine, reference) <= 1
        assert _mails(engine, "cancelled", reference) <= 1


def _self_service_drive(app: Flask, engine: sa.Engine, committed: dict[str, object], user_id: int,
                        starts_at: dt.datetime, *, picked_up_by: int | None = None) -> int:
    from storefront.payments import services as payments

    with app.test_request_context("/"), Session(engine) as session:
        booking, payment = self_service.start_self_service(
            session, shopper=session.get_one(User, user_id), dealer=session.get_one(models.Dealer, committed["dealer"]),
            car_model=session.get_one(models.CarModel, committed["model"]), starts_at=starts_at, days=1,
            contact_name="Racer", mobile="13800138000", licence_confirmed=True, return_url=lambda ref: "/")
        payments.settle_demo_payment(session, payment=payment, pay=True)
        if picked_up_by is not None:
            booking.check_in(at=clock.now())  # handed over (the pick-up day rule is tested elsewhere)
        session.commit()
        return booking.id


@pytest.mark.parametrize("change", ["cancel", "return"])
def test_self_service_cancel_or_return_twice_at_once_refunds_once(app, engine, committed, frozen_now, change):
    staff_id = _staff(engine, committed)
    shoppers: list[int] = committed["shoppers"]  # type: ignore[assignment]
    for round_no in range(ROUNDS):
        starts_at = _tuesday_at(frozen_now, 10, days=2 * round_no + 1)
        mine = _self_service_drive(app, engine, committed, shoppers[round_no], starts_at,
                                   picked_up_by=staff_id if change == "return" else None)
        if change == "cancel":
            jobs = [_acting(app, engine, mine, shoppers[round_no], _cancel),
                    _acting(app, engine, mine, staff_id, _cancel)]
        else:
            jobs = [_acting(app, engine, mine, staff_id, lambda s, b, a: self_service.check_in_return(
                s, booking=b, actor=a)) for _ in range(2)]
        results, _seconds = run_together(app, jobs)
        reference = _reference(engine, mine)
        assert sorted(results) == ["409", "ok"], results
        assert _mails(engine, "cancelled" if change == "cancel" else "returned", reference) == 1
        assert _audits(engine, reference) <= 1
        with Session(engine) as session:
            payment = session.get_one(models.Payment, session.get_one(TestDriveBooking, mine).payment_id)
            assert payment.refunded_amount == payment.amount  # refunded once, in full, never twice


# --- per-shopper caps under concurrency -----------------------------------------------------------------------------


def test_ten_parallel_bookings_of_one_model_on_one_day_keep_one(app, engine, committed, frozen_now):
    shopper = committed["shoppers"][0]  # type: ignore[index]
    times = [_tuesday_at(frozen_now, 9) + dt.timedelta(minutes=45 * i) for i in range(10)]  # 09:00 ... 15:45
    results, _seconds = run_together(app, [_booker(engine, committed, shopper, t) for t in times])
    print(f"\nten slots of one day, one shopper: {collections.Counter(results)}")
    assert collections.Counter(results) == {"booked": 1, "one_per_model_day": 9}, results
    assert _counters_match_bookings(engine) == []


def test_ten_parallel_bookings_on_ten_days_keep_three(app, engine, committed, frozen_now):
    shopper = committed["shoppers"][0]  # type: ignore[index]
    times = [_tuesday_at(frozen_now, 10, 30, days=1 + i) for i in range(10)]
    results, _seconds = run_together(app, [_booker(engine, committed, shopper, t) for t in times])
    print(f"\nten days, one shopper: {collections.Counter(results)}")
    assert collections.Counter(results) == {"booked": UPCOMING_CAP, "too_many_drives": 10 - UPCOMING_CAP}, results
    assert _counters_match_bookings(engine) == []
