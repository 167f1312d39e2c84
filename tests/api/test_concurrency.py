"""Lost updates are refused under real concurrency: twenty showroom-system PUTs of one VIN based on the same
version, on threads against the Flask app with real commits on PostgreSQL: exactly one wins, the rest get 412."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask

import config
import models
from models import AuditLog, Role, Vehicle, VehicleStatus
from storefront import clock, create_app
from storefront.api import services
from storefront.extensions import db
from tests import factories

pytestmark = pytest.mark.postgres
RACERS = 20


@pytest.fixture
def race_app(app: Flask, database_url: str, is_postgres: bool) -> Iterator[Flask]:
    """An app of its own whose requests really commit, with a connection for every racer; emptied afterwards."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (TEST_DATABASE_URL=postgresql://...)")
    engines = {"default": {"url": database_url, "pool_size": RACERS + 2, "max_overflow": 0}}
    racing = create_app(config.TestingConfig(), SQLALCHEMY_ENGINES=engines)
    yield racing
    with racing.app_context():
        tables = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        db.engine.dispose()


def test_twenty_puts_with_the_same_if_match_one_wins_the_rest_are_412(race_app):
    with race_app.app_context():
        catalog = factories.small_catalog(db.session)
        admin = factories.make_user(db.session, email="admin@race.test", role=Role.ADMIN)
        _key, secret = services.issue_key(db.session, actor=admin, name="race DMS", dealers=[catalog.dealers[0]],
                                          rate_limit_per_minute=1000, at=clock.now())
        vehicle = catalog.vehicles[0]
        vin, version, trim_id = vehicle.vin, vehicle.version, vehicle.trim_id
        db.session.commit()
    body = {"trim_id": trim_id, "colour": "pearl-white", "status": "demo_fleet", "dealer": "SH-1"}
    headers = {"Authorization": f"Bearer {secret}", "If-Match": f'"{version}"'}
    gate = threading.Barrier(RACERS)

    def put(_: int) -> int:
        client = race_app.test_client()
        gate.wait(timeout=30)
        return client.put(f"/api/v1/inventory/vehicles/{vin}", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = Counter(pool.map(put, range(RACERS)))

    assert answers == {200: 1, 412: RACERS - 1}
    with race_app.app_context():
        saved = db.session.scalar(sa.select(Vehicle).where(Vehicle.vin == vin))
        assert saved.version == version + 1 and saved.status is VehicleStatus.DEMO_FLEET
        audited = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "vehicle.update")).all()
        assert len(audited) == 1 and "race DMS" in audited[0].note
