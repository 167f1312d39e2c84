"""No oversell, no double reservation, no double fulfilment: proven with real threads and processes and real
commits on PostgreSQL (row locks), and on SQLite through the conditional-UPDATE path.

PostgreSQL tests build their own engine on `database_url`, commit for real, and delete their rows afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import models
from models import (
    DepositKind,
    OutboxMessage,
    Payment,
    PaymentProvider,
    Reservation,
    ReservationStatus,
    Vehicle,
    VehicleStatus,
    WebhookEvent,
)
from storefront.errors import ConflictError, DomainError
from storefront.reservations import services
from tests.payments import stripe_fake
from tests.payments.stripe_fake import WEBHOOK_SECRET, completed_session, sign

COLOUR = "pearl-white"


@dataclass
class Store:
    """Rows one concurrency test made (and will delete)."""

    engine: sa.Engine
    make_session: sessionmaker[Session]
    tag: str
    trim_id: int = 0
    dealer_id: int = 0
    car_model_id: int = 0
    vehicle_ids: list[int] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)

    def add_vehicles(self, n: int) -> list[int]:
        with self.make_session() as s:
            made = [Vehicle(vin=f"C{self.tag}{len(self.vehicle_ids) + i:06d}"[:17], trim_id=self.trim_id,
                            dealer_id=self.dealer_id, colour_code=COLOUR) for i in range(n)]
            s.add_all(made)
            s.commit()
            ids = [v.id for v in made]
        self.vehicle_ids += ids
        return ids

    def add_users(self, n: int) -> list[int]:
        with self.make_session() as s:
            made = [models.User(email=f"u{len(self.user_ids) + i}-{self.tag}@race.test", password_hash="x",
                                session_token="t") for i in range(n)]
            s.add_all(made)
            s.commit()
            ids = [u.id for u in made]
        self.user_ids += ids
        return ids


@pytest.fixture
def pg_store(app: Flask, database_url: str, is_postgres: bool) -> Iterator[Store]:
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (set TEST_DATABASE_URL)")
    engine = sa.create_engine(database_url, pool_size=25, max_overflow=5)
    store = _make_store(engine)
    try:
        yield store
    finally:
        _delete_store(store)
        engine.dispose()


def _make_store(engine: sa.Engine) -> Store:
    tag = uuid.uuid4().hex[:8].upper()
    store = Store(engine=engine, make_session=sessionmaker(engine, expire_on_commit=False), tag=tag)
    with store.make_session() as s:
        brand = models.Brand(slug=f"race-{tag}", name_en="Race", name_zh="竞速")
        car_model = models.CarModel(brand=brand, slug=f"race-{tag}", name_en="Koleos", name_zh="科雷傲",
                                    body_type=models.BodyType.SUV, powertrain=models.Powertrain.ICE, model_year=2019,
                                    price_from=Decimal("180000"))
        trim = models.Trim(car_model=car_model, name_en="2.0L CVT 2WD", model_year=2019,
                           powertrain=models.Powertrain.ICE, msrp_cny=Decimal("180000"),
                           colours=[{"code": COLOUR, "name_en": "Pearl White", "name_zh": "珍珠白", "hex": "#F4F4F0"}])
        city = models.City(slug=f"race-{tag}", name_en="Race City", name_zh="竞速城")
        dealer = models.Dealer(code=f"R{tag}", name_en="Race Showroom", name_zh="竞速展厅", city=city)
        s.add_all([brand, car_model, trim, city, dealer])
        s.flush()
        s.add(models.DepositPolicy(car_model_id=car_model.id, amount=Decimal("5000.00"), kind=DepositKind.REFUNDABLE,
                                   refund_window_days=0, price_credit=Decimal("5000.00")))
        s.commit()
        store.trim_id, store.dealer_id, store.car_model_id = trim.id, dealer.id, car_model.id
    return store


def _delete_store(store: Store) -> None:
    with store.make_session() as s:
        reservation_ids = list(s.scalars(
            sa.select(Reservation.id).where(Reservation.car_model_id == store.car_model_id)))
        references = list(s.scalars(
            sa.select(Reservation.reference).where(Reservation.car_model_id == store.car_model_id)))
        payment_ids = list(s.scalars(sa.select(Payment.id).where(
            Payment.purpose == models.PaymentPurpose.RESERVATION_DEPOSIT, Payment.subject_id.in_(reservation_ids))))
        s.execute(sa.delete(WebhookEvent).where(WebhookEvent.provider_event_id.like(f"evt_{store.tag}%")))
        s.execute(sa.delete(OutboxMessage).where(OutboxMessage.to_address.like(f"%-{store.tag}@race.test")))
        s.execute(sa.delete(models.Event).where(models.Event.car_model_id == store.car_model_id))
        s.execute(sa.delete(Payment).where(Payment.id.in_(payment_ids)))
        s.execute(sa.delete(Reservation).where(Reservation.id.in_(reservation_ids)))
        s.execute(sa.delete(models.DepositPolicy).where(models.DepositPolicy.car_model_id == store.car_model_id))
        s.execute(sa.delete(Vehicle).where(Vehicle.trim_id == store.trim_id))
        s.execute(sa.delete(models.AuditLog).where(models.AuditLog.entity_type == "reservation",
                                                   models.AuditLog.entity_id.in_(references)))
        s.execute(sa.delete(models.User).where(models.User.email.like(f"%-{store.tag}@race.test")))
        s.execute(sa.delete(models.Trim).where(models.Trim.id == store.trim_id))
        s.execute(sa.delete(models.CarModel).where(models.CarModel.id == store.car_model_id))
        s.execute(sa.delete(models.Dealer).where(models.Dealer.id == store.dealer_id))
        s.execute(sa.delete(models.City).where(models.City.slug == f"race-{store.tag}"))
        s.execute(sa.delete(models.Brand).where(models.Brand.slug == f"race-{store.tag}"))
        s.commit()


def attempt(app: Flask, store: Store, user_id: int, key: str, **target: Any) -> tuple[str, int | None]:
    """One shopper's reserve request in its own transaction: ("ok", reservation id) or ("conflict", None)."""
    with app.test_request_context(), store.make_session() as session:
        user = session.get(models.User, user_id)
        try:
            reservation = services.reserve(
                session, user=user, idempotency_key=key,
                return_urls=lambda r: (f"http://t/{r.reference}?paid=1", f"http://t/{r.reference}"), **target)
            session.commit()
            return "ok", reservation.id
        except ConflictError:
            session.rollback()
            return "conflict", None
        except DomainError as error:  # pragma: no cover - would be a bug: show it in the counts
            session.rollback()
            return f"domain: {error.user_message}", None


def race(jobs: list[Callable[[], tuple[str, int | None]]], workers: int) -> list[tuple[str, int | None]]:
    """Start every job at the same moment (a barrier per worker batch) and collect the answers."""
    gate = threading.Barrier(min(workers, len(jobs)))

    def run(job: Callable[[], tuple[str, int | None]]) -> tuple[str, int | None]:
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, jobs))


def held(store: Store) -> Counter[VehicleStatus]:
    with store.make_session() as s:
        return Counter(s.scalars(sa.select(Vehicle.status).where(Vehicle.id.in_(store.vehicle_ids))))


def live_reservations(store: Store) -> list[Reservation]:
    with store.make_session() as s:
        return list(s.scalars(sa.select(Reservation).where(
            Reservation.car_model_id == store.car_model_id,
            Reservation.status.in_([ReservationStatus.PENDING_PAYMENT, ReservationStatus.CONFIRMED]))))


@pytest.mark.postgres
def test_twenty_shoppers_race_for_the_same_car(app, pg_store):
    [car] = pg_store.add_vehicles(1)
    users = pg_store.add_users(20)
    jobs = [lambda u=u: attempt(app, pg_store, u, uuid.uuid4().hex, vehicle_id=car) for u in users]
    answers = race(jobs, workers=20)
    outcomes = Counter(a for a, _ in answers)
    assert outcomes == {"ok": 1, "conflict": 19}
    assert held(pg_store) == {VehicleStatus.ON_HOLD: 1}
    assert len(live_reservations(pg_store)) == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_hundred_attempts_on_five_units_ten_rounds(app, pg_store, record_property):
    """Any unit of a trim and colour at one showroom (SELECT ... FOR UPDATE SKIP LOCKED): 5 holds, 95 refusals."""
    users = pg_store.add_users(100)
    target = {"trim_id": pg_store.trim_id, "colour_code": COLOUR, "dealer_id": pg_store.dealer_id}
    timings = []
    for _round in range(10):
        units = pg_store.add_vehicles(5)
        jobs = [lambda u=u: attempt(app, pg_store, u, uuid.uuid4().hex, **target) for u in users]
        started = time.perf_counter()
        answers = race(jobs, workers=20)
        timings.append(time.perf_counter() - started)
        assert Counter(a for a, _ in answers) == {"ok": 5, "conflict": 95}
        with pg_store.make_session() as s:
            statuses = Counter(s.scalars(sa.select(Vehicle.status).where(Vehicle.id.in_(units))))
            held_ids = set(s.scalars(sa.select(Reservation.vehicle_id).where(
                Reservation.id.in_([rid for a, rid in answers if a == "ok"]))))
        assert statuses == {VehicleStatus.ON_HOLD: 5} and held_ids == set(units)  # 5 different cars, none twice
        with pg_store.make_session() as s:  # shoppers' holds end so the same 100 can race again next round
            s.execute(sa.update(Reservation).where(Reservation.car_model_id == pg_store.car_model_id,
                                                   Reservation.status == ReservationStatus.PENDING_PAYMENT)
                      .values(status=ReservationStatus.CANCELLED))
            s.commit()
    record_property("round_seconds", [round(t, 3) for t in timings])
    print(f"\n100 attempts on 5 units, 20 connections: rounds took {', '.join(f'{t:.2f}' for t in timings)} s")


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["vehicle", "any_unit"])
def test_double_clicked_reserve_makes_one_reservation(app, pg_store, mode):
    units = pg_store.add_vehicles(3)
    [user] = pg_store.add_users(1)
    key = uuid.uuid4().hex
    target: dict[str, Any] = {"vehicle_id": units[0]} if mode == "vehicle" else {
        "trim_id": pg_store.trim_id, "colour_code": COLOUR, "dealer_id": pg_store.dealer_id}
    answers = race([lambda: attempt(app, pg_store, user, key, **target) for _ in range(6)], workers=6)
    assert {a for a, _ in answers} == {"ok"}
    assert len({rid for _, rid in answers}) == 1
    assert len(live_reservations(pg_store)) == 1
    assert held(pg_store)[VehicleStatus.ON_HOLD] == 1
    with pg_store.make_session() as s:
        assert s.scalar(sa.select(sa.func.count(Payment.id)).where(
            Payment.subject_id == answers[0][1], Payment.purpose == models.PaymentPurpose.RESERVATION_DEPOSIT)) == 1


@pytest.mark.postgres
def test_ten_parallel_reserve_forms_from_one_shopper_hold_three_cars(app, pg_store):
    """The per-shopper cap (three live reservations) holds when ten forms arrive at once, round after round."""
    for round_no in range(5):
        units = pg_store.add_vehicles(10)
        [user] = pg_store.add_users(1)
        answers = race([lambda v=v, u=user: attempt(app, pg_store, u, uuid.uuid4().hex, vehicle_id=v)
                        for v in units], workers=10)
        outcomes = Counter(a for a, _ in answers)
        print(f"\nround {round_no + 1}: ten forms from one shopper: {dict(outcomes)}")
        assert outcomes == {"ok": services.MAX_LIVE_RESERVATIONS_PER_SHOPPER,
                            "conflict": 10 - services.MAX_LIVE_RESERVATIONS_PER_SHOPPER}, answers
        with pg_store.make_session() as s:
            live = s.scalar(sa.select(sa.func.count(Reservation.id)).where(
                Reservation.user_id == user,
                Reservation.status.in_([ReservationStatus.PENDING_PAYMENT, ReservationStatus.CONFIRMED])))
            on_hold = s.scalar(sa.select(sa.func.count(Vehicle.id)).where(
                Vehicle.id.in_(units), Vehicle.status == VehicleStatus.ON_HOLD))
        assert live == on_hold == services.MAX_LIVE_RESERVATIONS_PER_SHOPPER


def _staff_of(store: Store) -> int:
    with store.make_session() as s:
        staff = models.User(email=f"staff-{store.tag}@race.test", password_hash="x", session_token="t",
                            role=models.Role.STAFF)
        staff.dealers.append(s.get(models.Dealer, store.dealer_id))
        s.add(staff)
        s.commit()
        return staff.id


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["shopper+shopper", "shopper+staff"])
def test_cancelling_one_reservation_twice_at_once_refunds_and_mails_once(app, pg_store, who):
    staff = _staff_of(pg_store)
    for _round in range(3):
        [car] = pg_store.add_vehicles(1)
        [user] = pg_store.add_users(1)
        outcome, reservation_id = attempt(app, pg_store, user, uuid.uuid4().hex, vehicle_id=car)
        assert outcome == "ok"

        def cancel(actor: int, reservation_id: int = reservation_id) -> tuple[str, int | None]:
            with app.test_request_context(), pg_store.make_session() as s:
                reservation = s.get(Reservation, reservation_id)
                try:
                    services.cancel(s, reservation=reservation, by=s.get(models.User, actor), reason="race")
                    s.commit()
                    return "ok", None
                except ConflictError:
                    s.rollback()
                    return "conflict", None

        actors = [user if part == "shopper" else staff for part in who.split("+")]
        answers = race([lambda a=a: cancel(a) for a in actors], workers=2)
        assert sorted(a for a, _ in answers) == ["conflict", "ok"]
        with pg_store.make_session() as s:
            reservation = s.get(Reservation, reservation_id)
            assert reservation.status is ReservationStatus.CANCELLED
            assert s.get(Vehicle, car).status is VehicleStatus.IN_STOCK
            assert s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.kind == "reservations/cancelled",
                OutboxMessage.to_address.like(f"%-{pg_store.tag}@race.test"),
                OutboxMessage.body_text.contains(reservation.reference))) == 1
            assert s.scalar(sa.select(sa.func.count(models.AuditLog.id)).where(
                models.AuditLog.entity_id == reservation.reference)) <= 1


@pytest.mark.postgres
@pytest.mark.parametrize("pair", [("pickup", "pickup"), ("pickup", "cancel")])
def test_staff_pickup_racing_a_pickup_or_a_cancel_changes_the_reservation_once(app, pg_store, pair):
    from storefront.payments import services as payments

    staff = _staff_of(pg_store)
    for _round in range(3):
        [car] = pg_store.add_vehicles(1)
        [user] = pg_store.add_users(1)
        outcome, reservation_id = attempt(app, pg_store, user, uuid.uuid4().hex, vehicle_id=car)
        assert outcome == "ok"
        with app.test_request_context(), pg_store.make_session() as s:  # the deposit is paid: confirmed
            payments.settle_demo_payment(s, payment=services.payment_of(s, s.get(Reservation, reservation_id)),
                                         pay=True)
            s.commit()

        def act(what: str, reservation_id: int = reservation_id, shopper: int = user) -> tuple[str, int | None]:
            with app.test_request_context(), pg_store.make_session() as s:
                reservation = s.get(Reservation, reservation_id)
                try:
                    if what == "pickup":
                        services.complete(s, reservation=reservation, by=s.get(models.User, staff))
                    else:
                        services.cancel(s, reservation=reservation, by=s.get(models.User, shopper), reason="")
                    s.commit()
                    return "ok", None
                except ConflictError:
                    s.rollback()
                    return "conflict", None

        answers = race([lambda w=w: act(w) for w in pair], workers=2)
        assert sorted(a for a, _ in answers) == ["conflict", "ok"], answers
        with pg_store.make_session() as s:
            reservation = s.get(Reservation, reservation_id)
            assert s.scalar(sa.select(sa.func.count(models.AuditLog.id)).where(
                models.AuditLog.entity_id == reservation.reference)) <= 1
            vehicle = s.get(Vehicle, car)
            assert (reservation.status, vehicle.status) in {
                (ReservationStatus.COMPLETED, VehicleStatus.SOLD),
                (ReservationStatus.CANCELLED, VehicleStatus.IN_STOCK),
                (ReservationStatus.REFUNDED, VehicleStatus.IN_STOCK)}


def _stripe_reservation(app: Flask, store: Store) -> tuple[Reservation, Payment]:
    [car] = store.add_vehicles(1)
    [user] = store.add_users(1)
    outcome, reservation_id = attempt(app, store, user, uuid.uuid4().hex, vehicle_id=car)
    assert outcome == "ok"
    with store.make_session() as s:
        payment = s.scalar(sa.select(Payment).where(Payment.subject_id == reservation_id,
                                                    Payment.purpose == models.PaymentPurpose.RESERVATION_DEPOSIT))
        payment.provider = PaymentProvider.STRIPE  # as if Stripe Checkout had opened it
        payment.provider_session_id = f"cs_{store.tag}_{reservation_id}"
        s.commit()
        return s.get(Reservation, reservation_id), payment


def _deliver(app: Flask, body: bytes) -> tuple[int, str]:
    reply = app.test_client().post("/payments/webhook", data=body,
                                   headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"})
    return reply.status_code, (reply.get_json() or {}).get("result", "")


@pytest.mark.postgres
def test_webhook_delivered_ten_times_concurrently_fulfils_once(app, pg_store, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    reservation, payment = _stripe_reservation(app, pg_store)
    body = stripe_fake.event(f"evt_{pg_store.tag}_1", "checkout.session.completed", completed_session(payment))
    replies = race([lambda: _deliver(app, body) for _ in range(10)], workers=10)  # type: ignore[misc]
    assert [status for status, _ in replies] == [200] * 10
    assert Counter(result for _, result in replies) == {"applied": 1, "duplicate": 9}
    replies = [_deliver(app, body) for _ in range(10)]  # and ten more, one after another
    assert Counter(result for _, result in replies) == {"duplicate": 10}
    with pg_store.make_session() as s:
        assert s.get(Reservation, reservation.id).status is ReservationStatus.CONFIRMED
        assert s.scalar(sa.select(sa.func.count(WebhookEvent.id)).where(
            WebhookEvent.provider_event_id == f"evt_{pg_store.tag}_1")) == 1
        assert s.scalar(sa.select(sa.func.count(Payment.id)).where(Payment.subject_id == reservation.id)) == 1
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.kind == "reservations/confirmed",
            OutboxMessage.to_address.like(f"%-{pg_store.tag}@race.test"))) == 1


@pytest.mark.postgres
def test_completed_and_expired_racing_end_paid(app, pg_store, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    reservation, payment = _stripe_reservation(app, pg_store)
    completed = stripe_fake.event(f"evt_{pg_store.tag}_c", "checkout.session.completed", completed_session(payment))
    expired = stripe_fake.event(f"evt_{pg_store.tag}_e", "checkout.session.expired", completed_session(payment))
    race([lambda: _deliver(app, completed), lambda: _deliver(app, expired)] * 3, workers=6)  # type: ignore[misc]
    with pg_store.make_session() as s:
        # Whichever came first, money that arrived is never undone; if the expiry won, the still-free car is
        # taken again for the shopper who paid.
        assert s.get(Reservation, reservation.id).status is ReservationStatus.CONFIRMED
        assert s.get(Vehicle, reservation.vehicle_id).status is VehicleStatus.RESERVED


@pytest.mark.postgres
def test_expiry_racing_payment_never_releases_a_paid_car(app, pg_store, monkeypatch):
    """The cron sweeper and the webhook hit the same reservation at once: it ends confirmed, car reserved."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    reservation, payment = _stripe_reservation(app, pg_store)
    body = stripe_fake.event(f"evt_{pg_store.tag}_s", "checkout.session.completed", completed_session(payment))

    def sweep() -> tuple[str, int | None]:
        with app.test_request_context(), pg_store.make_session() as s:
            released = services.release_expired_holds(s, at=reservation.hold_expires_at + dt.timedelta(seconds=1))
            s.commit()
            return "swept", released

    race([sweep, lambda: _deliver(app, body)], workers=2)  # type: ignore[list-item]
    with pg_store.make_session() as s:
        assert s.get(Reservation, reservation.id).status is ReservationStatus.CONFIRMED
        assert s.get(Vehicle, reservation.vehicle_id).status is VehicleStatus.RESERVED


def _process_worker(database_url: str, user_ids: list[int], target: dict[str, Any], start: Any, out: Any) -> None:
    """A separate OS process, like another gunicorn worker: its own app, engine and connections."""
    from tests.conftest import make_app

    app = make_app(database_url)
    with app.app_context():
        from storefront.extensions import db

        engine = db.engine
    store = Store(engine=engine, make_session=sessionmaker(engine, expire_on_commit=False), tag="")
    start.wait(120)
    for user_id in user_ids:
        out.put(attempt(app, store, user_id, uuid.uuid4().hex, **target)[0])


@pytest.mark.postgres
@pytest.mark.slow
def test_three_processes_race_for_five_units(app, pg_store, database_url):
    pg_store.add_vehicles(5)
    users = pg_store.add_users(36)
    target = {"trim_id": pg_store.trim_id, "colour_code": COLOUR, "dealer_id": pg_store.dealer_id}
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(3), context.Queue()  # all three race once all three apps are built
    workers = [context.Process(target=_process_worker, args=(database_url, users[i::3], target, start, out))
               for i in range(3)]
    for worker in workers:
        worker.start()
    answers = [out.get(timeout=120) for _ in users]
    for worker in workers:
        worker.join(timeout=60)
    assert Counter(answers) == {"ok": 5, "conflict": 31}
    assert held(pg_store) == {VehicleStatus.ON_HOLD: 5}
    assert len(live_reservations(pg_store)) == 5


# --- SQLite: the conditional UPDATE ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_file_app(tmp_path) -> Iterator[tuple[Flask, Store]]:
    """A SQLite *file* (so several connections see one database), with the same small race store."""
    from tests.conftest import make_app

    url = f"sqlite:///{tmp_path / 'race.db'}"
    app = make_app(url)
    with app.app_context():
        from storefront.extensions import db

        models.Base.metadata.create_all(db.engine)
        engine = db.engine
    store = _make_store(engine)
    yield app, store
    engine.dispose()


def test_sqlite_conditional_update_refuses_a_stale_read(sqlite_file_app):
    app, store = sqlite_file_app
    [car] = store.add_vehicles(1)
    first, second = store.add_users(2)
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    with app.test_request_context(), store.make_session() as slow:
        stale = slow.get(Vehicle, car)  # this shopper saw the car in stock...
        assert stale.status is VehicleStatus.IN_STOCK
        slow.commit()  # (no lock held while they read the terms)
        assert attempt(app, store, first, uuid.uuid4().hex, vehicle_id=car)[0] == "ok"  # ...someone else won
        with pytest.raises(ConflictError):
            services.reserve(slow, user=slow.get(models.User, second), idempotency_key=uuid.uuid4().hex,
                             vehicle_id=car, return_urls=lambda r: ("http://t/a", "http://t/b"))
        slow.rollback()
    conditional = [s for s in statements if s.lstrip().upper().startswith("UPDATE VEHICLES")]
    assert conditional and all("status = ?" in s and "version" in s for s in conditional)
    assert held(store) == {VehicleStatus.ON_HOLD: 1} and len(live_reservations(store)) == 1


def test_sqlite_threads_race_for_one_car(sqlite_file_app):
    app, store = sqlite_file_app
    [car] = store.add_vehicles(1)
    users = store.add_users(8)
    answers = race([lambda u=u: attempt(app, store, u, uuid.uuid4().hex, vehicle_id=car) for u in users], workers=8)
    assert Counter(a for a, _ in answers) == {"ok": 1, "conflict": 7}
    assert held(store) == {VehicleStatus.ON_HOLD: 1} and len(live_reservations(store)) == 1
