"""Two staff saving at the same moment, with real commits and row locks (PostgreSQL only)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import models
from models import AuditLog, Role, TrimPrice, User, Vehicle
from storefront.errors import ConflictError
from storefront.staff import services
from tests import factories

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(database_url: str, is_postgres: bool, app) -> Iterator[sa.Engine]:
    """An engine of our own that really commits; every table is emptied again afterwards."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (TEST_DATABASE_URL=postgresql://...)")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=4)
    yield engine
    tables = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def committed(engine) -> dict[str, int]:
    with Session(engine) as session:
        catalog = factories.small_catalog(session)
        admin = factories.make_user(session, email="admin@example.com", role=Role.ADMIN)
        staff = factories.make_user(session, email="staff@example.com", role=Role.STAFF)
        staff.dealers.append(catalog.dealers[0])
        session.commit()
        return {"vehicle": catalog.vehicles[0].id, "admin": admin.id, "staff": staff.id,
                "trim": catalog.trims[0].id}


def run_together(*jobs) -> list[object]:  # type: ignore[no-untyped-def]
    """Start every job at the same instant on its own thread; returns what each returned or raised."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            results[index] = jobs[index](barrier)
        except Exception as error:  # the test inspects whatever happened
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_staff_saving_the_same_vehicle_at_once_one_wins_one_is_told(engine, committed):
    def save(actor_key: str, *, colour: str | None = None, trim_index: int = 0):  # type: ignore[no-untyped-def]
        def job(barrier: threading.Barrier) -> str:
            with Session(engine) as session:
                actor = session.get_one(User, committed[actor_key])
                vehicle = session.get_one(Vehicle, committed["vehicle"])
                trims = session.scalars(sa.select(models.Trim).order_by(models.Trim.id)).all()
                _ = actor.dealers, vehicle.trim, vehicle.dealer  # both forms were opened at version 1
                barrier.wait()
                try:
                    services.update_vehicle(session, actor=actor, vehicle=vehicle, expected_version=1,
                                            vin=vehicle.vin, trim=trims[trim_index], dealer=vehicle.dealer,
                                            colour_code=colour or vehicle.colour_code)
                    session.commit()
                    return actor_key
                except ConflictError:
                    session.rollback()
                    return "refused"
        return job

    # The admin recolours the car while the staff member corrects its trim, from forms opened at version 1.
    results = run_together(save("admin", colour="flame-red"), save("staff", trim_index=1))
    assert sorted(map(str, results)) in (["admin", "refused"], ["refused", "staff"])
    winner = next(r for r in results if r != "refused")
    with Session(engine) as session:
        vehicle = session.get_one(Vehicle, committed["vehicle"])
        trims = session.scalars(sa.select(models.Trim.id).order_by(models.Trim.id)).all()
        expected = ("flame-red", trims[0]) if winner == "admin" else ("pearl-white", trims[1])
        assert (vehicle.version, vehicle.colour_code, vehicle.trim_id) == (2, *expected)
        updates = session.scalars(sa.select(AuditLog).where(AuditLog.action == "vehicle.update")).all()
        assert len(updates) == 1 and updates[0].actor_id == committed[winner]


def test_a_due_price_is_applied_once_when_cron_and_a_page_read_race(engine, committed):
    with Session(engine) as session:
        session.add(TrimPrice(trim_id=committed["trim"], price=Decimal("150000"),
                              effective_from=dt.date(2026, 1, 1)))
        session.commit()

    def apply(barrier: threading.Barrier) -> int:
        with Session(engine) as session:
            barrier.wait()
            applied = services.apply_due_prices(session, today=dt.date(2026, 1, 2))
            session.commit()
            return len(applied)

    assert sorted(run_together(apply, apply, apply)) == [0, 0, 1]  # type: ignore[type-var]
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "price.apply")) == 1
        assert session.get_one(models.Trim, committed["trim"]).msrp_cny == Decimal("150000.00")
