"""Every periodic job is safe on every host at once: three processes run it at the same moment on PostgreSQL
and every effect happens exactly once.

The systemd timers (deploy/systemd) start `flask reservations expire`, `flask test-drives remind`,
`flask test-drives expire`, `flask outbox send`, `flask staff apply-prices`, `flask presale expire` and
`flask presale lock` on every app host at the same
second. Here three spawned processes, each with its own production app, run the real CLI commands. To be sure
they race rather than take turns, the test holds an EXCLUSIVE lock on the table each job claims rows in,
releases it only once all three are queued behind it, and then checks the database: each due row changed
once, one mail per change, and the three reports add up to the number of rows.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

import models
from models.base import utcnow
from storefront import database
from storefront.extensions import db as flask_db
from storefront.reservations import services as reservations
from tests import factories
from tests.conftest import make_app, throwaway_database

pytestmark = pytest.mark.slow

DUE = 8  # rows due per job
PROCESSES = 3
SHANGHAI = dt.timezone(dt.timedelta(hours=8))

# (CLI arguments, the table whose rows the job claims, the pattern of the count it prints)
JOBS = {
    "reservations expire": ("vehicles", r"released (\d+) expired"),
    "test-drives remind": ("test_drive_bookings", r"queued (\d+) reminder"),
    "test-drives expire": ("test_drive_bookings", r"expired (\d+) unpaid"),
    "staff apply-prices": ("trim_prices", r"price changes applied: (\d+)"),
    "presale expire": ("presale_orders", r"presale holds expired: (\d+)"),
    "presale lock": ("presale_orders", r"presale deposits locked: (\d+)"),
    "outbox send": ("outbox_messages", r"sent (\d+),"),  # last: it sends what the others queued
}


@pytest.fixture(scope="module")
def jobs_database_url() -> Iterator[str]:
    raw = os.environ.get("TEST_DATABASE_URL", "")
    if not raw.startswith("postgres"):
        pytest.skip("the periodic jobs race on PostgreSQL (set TEST_DATABASE_URL)")
    with throwaway_database(sqlite_url="", prefix="flagship_jobs", postgres_url=raw) as url:
        database.upgrade(url)
        yield url


def _worker(url: str, start: Any, done: Any, out: Any) -> None:
    """One app host: a production app running each job when the test says go."""
    os.environ.update(APP_ENV="production", DATABASE_URL=url, SECRET_KEY=secrets.token_hex(16), MAIL_SERVER="",
                      PUBLIC_BASE_URL="https://flagship.test",
                      LOG_LEVEL="ERROR", REDIS_URL="")
    from storefront import create_app

    app = create_app("production")
    runner = app.test_cli_runner()
    for job in JOBS:
        start.wait(timeout=120)
        with app.app_context():  # as the `flask` command line does for every command
            result = runner.invoke(args=job.split())
        out.put((job, result.exit_code, result.output, repr(result.exception)))
        done.wait(timeout=120)


def _pending_mail(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.text("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")) or 0)


def _waiting_on(connection: sa.Connection, table: str) -> int:
    return int(connection.scalar(sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE NOT l.granted AND c.relname = :table AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"), {"table": table}) or 0)


def test_each_periodic_job_run_three_times_at_once_does_its_work_once(jobs_database_url):
    app = make_app(jobs_database_url)
    expected = _make_due_work(app)
    context = multiprocessing.get_context("spawn")
    start, done, out = context.Barrier(PROCESSES + 1), context.Barrier(PROCESSES + 1), context.Queue()
    workers = [context.Process(target=_worker, args=(jobs_database_url, start, done, out)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    gate = sa.create_engine(jobs_database_url)
    reports: dict[str, list[int]] = {}
    queued: dict[str, int] = {}
    try:
        for job, (table, pattern) in JOBS.items():
            if job == "outbox send":  # everything queued so far: the messages made above and the jobs' mail
                expected[job] = _pending_mail(gate)
            with gate.connect() as connection, connection.begin():
                connection.execute(sa.text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
                start.wait(timeout=120)
                deadline = time.monotonic() + 60
                while _waiting_on(connection, table) < PROCESSES and time.monotonic() < deadline:
                    time.sleep(0.05)
                queued[job] = _waiting_on(connection, table)
            answers = [out.get(timeout=120) for _ in range(PROCESSES)]
            done.wait(timeout=120)
            for _job, code, output, error in answers:
                assert code == 0, f"{job}: {output} {error}"
            reports[job] = [int(re.search(pattern, output).group(1)) for *_, output, _error in answers]  # type: ignore[union-attr]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.terminate()
        gate.dispose()

    # All three were queued behind the gate each time: they raced for the same rows.
    assert queued == dict.fromkeys(JOBS, PROCESSES)
    # Together the three runs report each effect once, however they shared the work.
    assert {job: sum(counts) for job, counts in reports.items()} == expected
    _check_effects_happened_once(app, expected)
    with app.app_context():
        flask_db.engine.dispose()


# --- the work that is due ----------------------------------------------------------------------------------------


def _make_due_work(app: Flask) -> dict[str, int]:
    """DUE expired reservation holds, drives tomorrow, unpaid self-service holds and scheduled prices; plus the
    mail they will queue. Returns how many effects each job must have in total."""
    tag = uuid.uuid4().hex[:6]
    with app.app_context():
        session = flask_db.session
        catalog = factories.small_catalog(session)
        kadjar = catalog.car_models[0]
        session.add(models.DepositPolicy(car_model_id=kadjar.id, amount=Decimal("5000.00"),
                                         kind=models.DepositKind.REFUNDABLE, refund_window_days=0,
                                         price_credit=Decimal("5000.00")))
        users = [factories.make_user(session, email=f"u{i}-{tag}@jobs.test") for i in range(3 * DUE)]
        cars = [factories.make_vehicle(session, trim=catalog.trims[0], dealer=catalog.dealers[0])
                for _ in range(2 * DUE)]
        session.commit()
        with app.test_request_context():
            for user, car in zip(users[:DUE], cars[:DUE], strict=True):
                reservations.reserve(session, user=user, vehicle_id=car.id, idempotency_key=secrets.token_hex(12),
                                     return_urls=lambda r: ("http://store.test/paid", "http://store.test/back"))
        session.execute(sa.update(models.Reservation).values(
            hold_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        _add_drives(session, catalog, users[DUE:2 * DUE], tag)
        _add_unpaid_self_service(session, catalog, users[2 * DUE:], cars[DUE:], tag)
        yesterday = dt.datetime.now(SHANGHAI).date() - dt.timedelta(days=1)
        session.add_all(models.TrimPrice(trim_id=catalog.trims[i % len(catalog.trims)].id, effective_from=yesterday,
                                         price=Decimal("150000") + i) for i in range(DUE))
        session.add_all(models.OutboxMessage(to_address=f"o{i}-{tag}@jobs.test", subject="s", body_text="t",
                                             body_html="<p>t</p>", kind="test") for i in range(DUE))
        _add_presale_orders(session, catalog, tag)
        session.commit()
    # outbox send: the messages above, the reservations' mail and the jobs' own (counted before it runs)
    return {"reservations expire": DUE, "test-drives remind": DUE, "test-drives expire": DUE,
            "staff apply-prices": DUE, "presale expire": DUE, "presale lock": DUE, "outbox send": 0}


def _add_presale_orders(session: Session, catalog: factories.Catalog, tag: str) -> None:
    """An edition of 2 x DUE numbers: DUE holds that lapsed, DUE paid deposits whose refundable period ended, and
    DUE shoppers waiting in line for the numbers the lapsed holds give back."""
    from storefront.presale import services as presale

    now = dt.datetime.now(dt.UTC)
    campaign = presale.create_campaign(session, actor=None, terms=presale.CampaignTerms(
        slug=f"jobs-{tag}", car_model_id=catalog.car_models[0].id, name_en="Launch", name_zh="首发",
        edition_size=2 * DUE, presale_price=Decimal("200000.00"), deposit_amount=Decimal("999.00"),
        deposit_credit=Decimal("5000.00"), opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(days=1)))
    shoppers = [factories.make_user(session, email=f"p{i}-{tag}@jobs.test", phone=f"139{i:08d}",
                                    phone_verified_at=utcnow()) for i in range(3 * DUE)]
    orders = [presale.place_order(session, campaign=campaign, user=shopper, at=now) for shopper in shoppers]
    lapsed, paid = orders[:DUE], orders[DUE:2 * DUE]
    for order in lapsed:
        order.hold_expires_at = now - dt.timedelta(minutes=1)
    for order in paid:
        order.status = models.PresaleOrderStatus.PAID
        order.paid_at = now - dt.timedelta(days=8)
        order.refundable_until = now - dt.timedelta(minutes=1)
    session.flush()


def _add_drives(session: Session, catalog: factories.Catalog, users: list[models.User], tag: str) -> None:
    tomorrow = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=1)
    starts = dt.datetime.combine(tomorrow, dt.time(10, 0), SHANGHAI).astimezone(dt.UTC)
    slot = models.TestDriveSlot(dealer_id=catalog.dealers[0].id, car_model_id=catalog.car_models[0].id,
                                starts_at=starts, ends_at=starts + dt.timedelta(hours=1), capacity=DUE,
                                booked=len(users))
    session.add(slot)
    session.flush()
    session.add_all(
        models.TestDriveBooking(reference=f"R{tag[:4]}{i:03d}"[:8], kind=models.TestDriveKind.SHOWROOM,
                                status=models.BookingStatus.BOOKED, user_id=user.id, dealer_id=slot.dealer_id,
                                car_model_id=slot.car_model_id, slot_id=slot.id, starts_at=slot.starts_at,
                                ends_at=slot.ends_at, contact_name="Li Lei", mobile="13800000000")
        for i, user in enumerate(users)
    )


def _add_unpaid_self_service(session: Session, catalog: factories.Catalog, users: list[models.User],
                             cars: list[models.Vehicle], tag: str) -> None:
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    session.add_all(
        models.TestDriveBooking(reference=f"S{tag[:4]}{i:03d}"[:8], kind=models.TestDriveKind.SELF_SERVICE,
                                status=models.BookingStatus.PENDING_PAYMENT, user_id=user.id,
                                dealer_id=catalog.dealers[0].id, car_model_id=catalog.car_models[0].id,
                                vehicle_id=car.id, days=1, starts_at=starts, ends_at=starts + dt.timedelta(days=1),
                                contact_name="Han Meimei", mobile="13900000000", deposit_cny=Decimal("1000.00"),
                                hold_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        for i, (user, car) in enumerate(zip(users, cars, strict=True))
    )


# --- what the database must show -----------------------------------------------------------------------------


def _check_effects_happened_once(app: Flask, expected: dict[str, int]) -> None:
    with app.app_context():
        session = flask_db.session
        statuses = Counter(session.scalars(sa.select(models.Reservation.status)))
        assert statuses == {models.ReservationStatus.EXPIRED: DUE}
        held = session.scalar(sa.select(sa.func.count()).select_from(models.Vehicle)
                              .where(models.Vehicle.status == models.VehicleStatus.ON_HOLD))
        assert held == 0

        bookings = session.scalars(sa.select(models.TestDriveBooking)).all()
        reminded = [b for b in bookings if b.kind is models.TestDriveKind.SHOWROOM]
        assert all(b.reminder_sent_at is not None for b in reminded) and len(reminded) == DUE
        unpaid = [b for b in bookings if b.kind is models.TestDriveKind.SELF_SERVICE]
        assert {b.status for b in unpaid} == {models.BookingStatus.EXPIRED} and len(unpaid) == DUE

        assert session.scalar(sa.select(sa.func.count()).select_from(models.TrimPrice)
                              .where(models.TrimPrice.applied_at.is_(None))) == 0
        audits = Counter(session.scalars(sa.select(models.AuditLog.entity_id)
                                         .where(models.AuditLog.action == "price.apply")))
        assert audits and max(audits.values()) == 1  # each trim's price was carried over once

        mail = session.execute(sa.select(models.OutboxMessage.to_address, models.OutboxMessage.kind,
                                         models.OutboxMessage.status, models.OutboxMessage.attempts)).all()
        assert len(mail) == expected["outbox send"]
        per_address_and_kind = Counter((to, kind) for to, kind, _status, _attempts in mail)
        assert max(per_address_and_kind.values()) == 1  # e.g. one expiry mail, one reminder per shopper
        kinds = Counter(kind for _to, kind, _status, _attempts in mail)
        assert kinds["test"] == DUE and sum(1 for k in kinds.elements() if "remind" in k) == DUE
        assert {(status, attempts) for *_, status, attempts in mail} == {(models.OutboxStatus.SENT, 1)}

        # Presale: each lapsed hold expired once and its number went to one waiting shopper; each due deposit
        # locked once; no number is held twice.
        presale = Counter(session.scalars(sa.select(models.PresaleOrder.status)))
        assert presale == {models.PresaleOrderStatus.EXPIRED: DUE, models.PresaleOrderStatus.HELD: DUE,
                           models.PresaleOrderStatus.LOCKED: DUE}
        numbers = session.scalars(sa.select(models.PresaleOrder.launch_number)
                                  .where(models.PresaleOrder.launch_number.is_not(None))).all()
        assert sorted(numbers) == list(range(1, 2 * DUE + 1))
