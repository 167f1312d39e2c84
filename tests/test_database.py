"""Database connections that died while idle (issue 11 row 5): never a 500, never a lost page-view event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import models
from storefront.extensions import db as flask_db
from tests import factories
from tests.conftest import make_app


def _terminate_idle_connections(url: str) -> int:
    """What a PostgreSQL restart, failover or idle reaper does to the app's pooled connections."""
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = sa.make_url(url).database
    try:
        with admin.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> "
                "pg_backend_pid()"), {"name": name}).all())
    finally:
        admin.dispose()


def test_connections_killed_while_idle_cost_no_request_and_no_page_view(scratch_database_url):
    if not scratch_database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    app = make_app(scratch_database_url, PROPAGATE_EXCEPTIONS=True)
    try:
        with app.app_context():
            models.Base.metadata.create_all(flask_db.engine)
            with Session(flask_db.engine) as session:
                factories.small_catalog(session)
                session.commit()
        browser = app.test_client()
        for round_ in range(3):
            # a page that reads the database, on a pooled connection the server has since dropped
            assert _terminate_idle_connections(scratch_database_url) >= 1, round_
            assert browser.get("/brands/renault").status_code == 200
            # the page view is written when the response is closed: drop the pool's connections in between
            page = browser.get("/models/kadjar")
            assert page.status_code == 200
            assert _terminate_idle_connections(scratch_database_url) >= 1, round_
            page.close()
        with app.app_context(), flask_db.engine.connect() as conn:
            views = conn.scalar(sa.select(sa.func.count()).select_from(models.Event)
                                .where(models.Event.step == models.FunnelStep.VIEW))
        assert views == 3
    finally:
        with app.app_context():
            flask_db.engine.dispose()


def test_pooled_connections_are_checked_and_recycled(app):
    with app.app_context():
        pool = flask_db.engine.pool
    assert pool._pre_ping is True
    assert 0 < pool._recycle <= 300  # below common idle timeouts (PgBouncer 600 s, cloud NAT/LB 350 s)


def test_a_page_view_survives_its_connection_dropping_just_before_the_insert(scratch_database_url):
    """Between the pool's check and the INSERT the server can still drop the connection: the view is written once
    more on a fresh one."""
    if not scratch_database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (pg_terminate_backend)")
    app = make_app(scratch_database_url, PROPAGATE_EXCEPTIONS=True)
    admin = sa.create_engine(scratch_database_url, isolation_level="AUTOCOMMIT")
    dropped: list[int] = []

    def drop_before_first_event_insert(conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO events") and not dropped:
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            dropped.append(pid)

    try:
        with app.app_context():
            engine = flask_db.engine
            models.Base.metadata.create_all(engine)
            with Session(engine) as session:
                factories.small_catalog(session)
                session.commit()
        sa.event.listen(engine, "before_cursor_execute", drop_before_first_event_insert)
        page = app.test_client().get("/models/kadjar")
        assert page.status_code == 200
        page.close()
        assert dropped
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(models.Event)) == 1
    finally:
        admin.dispose()
        with app.app_context():
            flask_db.engine.dispose()
