"""Demo reset: every table back to the seeded state (same ids, codes and bytes); refused unless demo mode + admin."""

from __future__ import annotations

import datetime as dt
import fcntl
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import g

import config
import models
from storefront import clock, create_app, database
from storefront.auth import SESSION_EPOCH_KEY
from storefront.cli import run_seeders
from storefront.demo import services
from storefront.demo.reset import RESET_LOCK_ID, SEED_INSTANT, dump_rows, reset_store
from storefront.errors import ConflictError, DomainError
from storefront.events import record_event
from storefront.extensions import db as flask_db


@pytest.fixture
def store(scratch_database_url):
    """The demo store as `make run` leaves it: migrated and seeded, demo mode on."""
    database.upgrade(scratch_database_url)
    app = create_app(config.TestingConfig(), SQLALCHEMY_ENGINES={"default": scratch_database_url}, DEMO_MODE=True)
    with app.app_context():
        run_seeders(flask_db.session)
        flask_db.session.commit()
        yield app
        flask_db.session.close()
        flask_db.engine.dispose()


def table_rows(engine) -> dict[str, dict[tuple, dict]]:
    """Every row by primary key; the session epoch a reset writes is left out: it is meant to differ each time."""
    existing = sa.MetaData()
    with engine.connect() as conn:
        existing.reflect(conn)
        result = {}
        for name, table in existing.tables.items():
            key_columns = list(table.primary_key.columns) or list(table.columns)
            result[name] = {
                tuple(row._mapping[c.name] for c in key_columns): dict(row._mapping)
                for row in conn.execute(sa.select(table))
                if not (name == "store_settings" and row._mapping["key"] == SESSION_EPOCH_KEY)
            }
    return result


def play_with_the_store(session) -> None:
    """What a demo leaves behind: events, a moved clock, a changed price, a new account."""
    admin = session.scalar(sa.select(models.User).where(models.User.role == models.Role.ADMIN))
    koleos = session.scalar(sa.select(models.CarModel).where(models.CarModel.slug == "koleos"))
    record_event(session, models.FunnelStep.VIEW, car_model_id=koleos.id, visit_key="presenter")
    services.move_clock_forward(session, actor=admin, by=dt.timedelta(days=1))
    koleos.trims[0].msrp_cny += 1000
    session.add(models.User(email="someone@example.com", password_hash="x", role=models.Role.CUSTOMER))
    session.commit()


@pytest.mark.slow
def test_two_resets_give_byte_identical_data(store):
    engine = flask_db.engine
    seeded = table_rows(engine)
    play_with_the_store(flask_db.session)
    first = reset_store()
    after_first = table_rows(engine)
    with engine.connect() as conn:
        first_dump = list(dump_rows(conn))
    play_with_the_store(flask_db.session)
    second = reset_store()
    after_second = table_rows(engine)
    with engine.connect() as conn:
        second_dump = list(dump_rows(conn))

    assert first.seconds < 30 and second.seconds < 30
    # Same tables, same primary keys (ids, reference codes), row for row.
    assert after_first.keys() == after_second.keys() == seeded.keys()
    for name in after_first:
        assert after_first[name].keys() == after_second[name].keys(), name
        assert len(after_first[name]) == len(seeded[name]), name
    differing = {
        (name, column)
        for name, rows in after_first.items()
        for key, row in rows.items()
        for column, value in row.items()
        if after_second[name][key][column] != value
    }
    assert not differing, f"seeders wrote different values: {sorted(differing)}"
    assert first_dump == second_dump  # byte-identical, line for line
    # The demo's traces are gone and the clock runs on real time again.
    assert "someone@example.com" not in {r["email"] for r in after_second["users"].values()}
    assert not any(r["visit_key"] == "presenter" for r in after_second["events"].values())
    assert services.load_clock_offset(flask_db.session) is None
    assert clock.get_offset() == dt.timedelta(0)


@pytest.mark.slow
def test_reset_pins_seed_timestamps_and_keeps_the_history(store):
    reset_store()
    session = flask_db.session
    assert session.scalar(sa.select(sa.func.max(models.CarModel.created_at))) == SEED_INSTANT
    history = session.scalar(sa.select(sa.func.count(models.Event.id)).where(models.Event.visit_key.like("seed%")))
    assert history > 1000


@pytest.mark.slow
def test_reset_from_the_admin_button(store):
    client = store.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.post("/demo/sign-in", data={"account": "admin"})
    flask_db.session.close()
    page = client.get("/staff/insights/demo/reset/confirm")
    assert page.status_code == 200 and "Yes, reset the demo" in page.get_data(as_text=True)
    response = client.post("/staff/insights/demo/reset", data={"confirm": "yes"})
    assert response.status_code == 302 and response.location == "/demo/"
    follow = client.get("/demo/")
    assert "Demo store reset in" in follow.get_data(as_text=True)
    assert "admin@flagship.demo" in follow.get_data(as_text=True)  # still signed in as the demo admin


def test_cli_reset_refuses_outside_demo_mode(store, monkeypatch):
    monkeypatch.setitem(store.config, "DEMO_MODE", False)
    result = store.test_cli_runner().invoke(args=["demo", "reset", "--yes"])
    assert result.exit_code != 0 and "demo mode is off" in result.output


def test_cli_reset_asks_first(store):
    result = store.test_cli_runner().invoke(args=["demo", "reset"], input="n\n")
    assert result.exit_code != 0 and "Aborted" in result.output


def test_in_memory_database_cannot_be_reset(app, db, is_postgres):
    if is_postgres:  # the guard is about SQLite's :memory:; on PostgreSQL this would really reset the test db
        pytest.skip("only meaningful on an in-memory SQLite database")
    with pytest.raises(DomainError, match="in-memory"):
        reset_store()


@pytest.mark.parametrize("who", ["anonymous", "customer", "staff"])
def test_reset_refused_for_non_admins(client, login_as, customer, staff_user, app, monkeypatch, who):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    if who != "anonymous":
        login_as(customer if who == "customer" else staff_user)
    for method, path in (("post", "/staff/insights/demo/reset"), ("get", "/staff/insights/demo/reset/confirm")):
        response = getattr(client, method)(path, data={"confirm": "yes"})
        if who == "anonymous":
            assert response.status_code == 302 and "/account/login" in response.location
        else:
            assert response.status_code == 403


def test_reset_refused_outside_demo_mode_over_get_and_unconfirmed(client, login_as, admin_user, app, monkeypatch):
    login_as(admin_user)
    assert client.post("/staff/insights/demo/reset", data={"confirm": "yes"}).status_code == 403
    assert client.get("/staff/insights/demo/reset/confirm").status_code == 403
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    assert client.get("/staff/insights/demo/reset").status_code == 405
    assert client.post("/staff/insights/demo/reset", data={}).status_code == 400
    assert client.post("/staff/insights/demo/reset", data={"confirm": "no"}).status_code == 400


@contextmanager
def reset_lock_held_elsewhere(engine):
    """The reset lock as another worker or `flask demo reset` would hold it (another connection / open file)."""
    if engine.dialect.name == "postgresql":
        other = sa.create_engine(engine.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
        with other.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": RESET_LOCK_ID})
            yield
        other.dispose()
    else:
        with open(f"{engine.url.database}.reset-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield


def test_one_reset_at_a_time_across_processes(store):
    """Issue 11 row 11: the guard is in the database (or next to the SQLite file), not in this process."""
    client = store.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.post("/demo/sign-in", data={"account": "admin"})
    flask_db.session.close()
    before = table_rows(flask_db.engine)
    with reset_lock_held_elsewhere(flask_db.engine):
        with pytest.raises(ConflictError, match="already running"):
            reset_store()
        response = client.post("/staff/insights/demo/reset", data={"confirm": "yes"})
        assert response.status_code == 409 and "already running" in response.get_data(as_text=True)
        result = store.test_cli_runner().invoke(args=["demo", "reset", "--yes"])
        assert result.exit_code != 0 and "already running" in result.output
    assert table_rows(flask_db.engine) == before  # nothing was dropped


def as_new_request(client):
    """The fixture's app context outlives requests, and Flask-Login caches the last request's user in g."""
    g.pop("_login_user", None)
    return client


@pytest.mark.slow
def test_a_reset_signs_everyone_out(store):
    """Issue 11 row 11: every session from before a reset ends, including a copied cookie whose owner had
    signed out (the reset brings the seeded session tokens back; the session epoch does not come back)."""
    shopper, copied, admin = store.test_client(), store.test_client(), store.test_client()
    for client, account in ((shopper, "shopper"), (copied, "shopper"), (admin, "admin")):
        as_new_request(client).post("/demo/sign-in", data={"account": account})
    assert as_new_request(shopper).get("/account/profile").status_code == 200
    stolen = copied.get_cookie("session").value
    as_new_request(copied).post("/account/logout")  # rotates the shopper's token: the copied cookie stops working...
    thief = store.test_client()
    thief.set_cookie("session", stolen)
    assert as_new_request(thief).get("/account/profile").status_code == 302
    flask_db.session.close()

    assert as_new_request(admin).post("/staff/insights/demo/reset", data={"confirm": "yes"}).location == "/demo/"

    for client in (shopper, thief):  # ...and stays dead after the reset; the shopper's session ended too
        response = as_new_request(client).get("/account/profile")
        assert response.status_code == 302 and "/account/login" in response.location
    assert as_new_request(admin).get("/staff/insights/demo").status_code == 200  # the admin was signed in again
    again = store.test_client()
    as_new_request(again).post("/demo/sign-in", data={"account": "shopper"})
    assert as_new_request(again).get("/account/profile").status_code == 200
    # "Keep me signed in" after a reset: the remember-me cookie carries the new epoch and restores the session.
    remembered = store.test_client()
    as_new_request(remembered).post("/account/login", data={
        "email": "shopper@flagship.demo", "password": "demo-shopper-2026", "remember": "y"})
    remembered.delete_cookie("session")
    assert as_new_request(remembered).get("/account/profile").status_code == 200
