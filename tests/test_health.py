"""/healthz and /readyz: no session, no cookie, no database for liveness; readiness names what is wrong."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

import config
from storefront import create_app, database
from storefront.extensions import db as flask_db
from tests.conftest import throwaway_database


@contextmanager
def app_on(url: str, **overrides: object) -> Iterator[Flask]:
    """An app on `url` whose pooled connections are closed afterwards."""
    app = create_app(config.TestingConfig(), SQLALCHEMY_ENGINES={"default": url}, **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            flask_db.engine.dispose()


def get(app: Flask, path: str) -> TestResponse:
    return app.test_client().get(path)


@pytest.fixture(scope="module")
def migrated_url(tmp_path_factory) -> Iterator[str]:
    """One database migrated to every head, shared by the tests that only read it."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('health') / 'migrated.db'}"
    with throwaway_database(sqlite_url=sqlite_url, prefix="flagship_health") as url:
        database.upgrade(url)
        yield url


def closed_port() -> int:
    """A loopback port nobody listens on (bound by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthz_answers_without_database_session_or_cookie(client, count_queries):
    with count_queries() as counter:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert counter.count == 0
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_when_the_database_is_down():
    with app_on(f"postgresql+psycopg://127.0.0.1:{closed_port()}/x") as app:
        response = get(app, "/healthz")
    assert response.status_code == 200


def test_readyz_is_ok_on_a_database_migrated_to_every_head(migrated_url):
    with app_on(migrated_url, REDIS_URL="") as app:
        response = get(app, "/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


def test_readyz_names_a_missing_migration_head(scratch_database_url):
    database.upgrade(scratch_database_url)
    engine = sa.create_engine(scratch_database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM alembic_version WHERE version_num LIKE 'staff_%'"))
    engine.dispose()
    with app_on(scratch_database_url) as app:
        response = get(app, "/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["problems"]["database"].startswith("not migrated to head: missing staff_")


def test_readyz_names_an_unreachable_database():
    url = f"postgresql+psycopg://127.0.0.1:{closed_port()}/nowhere"
    with app_on(url) as app:
        response = get(app, "/readyz")
    assert response.status_code == 503
    assert response.get_json()["problems"]["database"].startswith("unreachable")
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("redis_up", [True, False])
def test_readyz_checks_redis_only_when_configured(migrated_url, redis_up):
    redis_url = "redis://127.0.0.1:6379/0" if redis_up else f"redis://127.0.0.1:{closed_port()}/0"
    if redis_up:
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        except OSError:
            pytest.skip("no Redis on 127.0.0.1:6379")
    with app_on(migrated_url, REDIS_URL=redis_url) as app:
        response = get(app, "/readyz")
    if redis_up:
        assert response.status_code == 200, response.get_json()
    else:
        assert response.status_code == 503
        assert set(response.get_json()["problems"]) == {"redis"}
