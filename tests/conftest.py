"""Shared fixtures: an app per test session, a database rolled back after every test, login helpers.

The database is SQLite in memory by default; set TEST_DATABASE_URL=postgresql://127.0.0.1:5432/test to run
the same suite on PostgreSQL (each pytest process gets its own throw-away database there).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

import models
from config import TestingConfig, normalise_database_url
from storefront import create_app
from storefront.auth import mark_fresh_login
from storefront.extensions import db as flask_db
from tests import factories
from tests.servers import RedisServer


@contextmanager
def throwaway_database(*, sqlite_url: str, prefix: str, postgres_url: str | None = None) -> Iterator[str]:
    """A database for the caller alone: `sqlite_url` by default, or a fresh PostgreSQL database (dropped after)
    on the server of `postgres_url`, which defaults to TEST_DATABASE_URL when that points at PostgreSQL."""
    raw = os.environ.get("TEST_DATABASE_URL", "") if postgres_url is None else postgres_url
    if not raw.startswith("postgres"):
        yield sqlite_url
        return
    admin_url = normalise_database_url(raw)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop and start again (tests.servers.RedisServer)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with throwaway_database(sqlite_url="sqlite://", prefix="flagship_test") as url:
        yield url


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind that a test may migrate, drop or reset as it likes."""
    with throwaway_database(sqlite_url=f"sqlite:///{tmp_path / 'scratch.db'}", prefix="flagship_scratch") as url:
        yield url


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


def make_app(database_url: str, **overrides: Any) -> Flask:
    engine_options: dict[str, Any] = {}
    if database_url == "sqlite://":
        engine_options = {"url": database_url, "poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engines = {"default": engine_options or database_url}
    return create_app(TestingConfig(), SQLALCHEMY_ENGINES=engines, **overrides)


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = make_app(database_url)
    with app.app_context():
        models.Base.metadata.create_all(flask_db.engine)
    yield app
    with app.app_context():  # the in-memory or throw-away database goes with the engine
        flask_db.engine.dispose()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session whose work is rolled back after the test; routes' commits only release a SAVEPOINT."""
    with app.app_context():
        connection = flask_db.engine.connect()
        transaction = connection.begin()
        flask_db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield flask_db.session
        finally:
            flask_db.session.close()
            transaction.rollback()
            connection.close()
            flask_db.sessionmaker.configure(bind=flask_db.engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def catalog(db: Session) -> factories.Catalog:
    """A small catalog: two brands, three models, trims, two cities, three showrooms, a few vehicles."""
    return factories.small_catalog(db)


@pytest.fixture
def customer(db: Session) -> models.User:
    return factories.make_user(db, email="shopper@example.com", role=models.Role.CUSTOMER)


@pytest.fixture
def staff_user(db: Session, catalog: factories.Catalog) -> models.User:
    user = factories.make_user(db, email="staff@example.com", role=models.Role.STAFF)
    user.dealers.append(catalog.dealers[0])
    db.flush()
    return user


@pytest.fixture
def admin_user(db: Session) -> models.User:
    return factories.make_user(db, email="admin@example.com", role=models.Role.ADMIN)


def login(client: FlaskClient, user: models.User) -> None:
    """Sign `user` in on this test client without going through the login form."""
    app = client.application
    with app.test_request_context(environ_base=client.environ_base):  # the identifier strong protection checks
        identifier = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        mark_fresh_login(session)  # `_fresh` plus the time, as the login form does (see fresh_login_required)
        session["_id"] = identifier
    # Requests share the test's app context, where Flask-Login caches the previous request's user in `g`.
    if has_app_context():
        g.pop("_login_user", None)


@pytest.fixture
def login_as(client: FlaskClient):  # type: ignore[no-untyped-def]
    def _login(user: models.User) -> FlaskClient:
        login(client, user)
        return client

    return _login


@pytest.fixture
def count_queries(app: Flask):  # type: ignore[no-untyped-def]
    """Context manager counting SQL statements: `with count_queries() as counter: ...; counter.count`."""

    class Counter:
        count = 0

    @contextmanager
    def _count() -> Iterator[Counter]:
        counter = Counter()

        def before_execute(*_args: Any) -> None:
            counter.count += 1

        with app.app_context():
            engine = flask_db.engine
        sa.event.listen(engine, "before_cursor_execute", before_execute)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", before_execute)

    return _count
