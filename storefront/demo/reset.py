"""Resetting the demo store: drop every table, migrate, run every seeder, so ids and codes come back the same.

This is the one piece of the demo that owns its transactions (it rebuilds the schema), so it lives here and
not in services.py. Callers check demo mode and the admin role first (the route and `flask demo reset`).

One reset at a time across every worker, host and `flask demo reset`: on PostgreSQL a session advisory lock
(taken on a connection of its own, outside the pool the reset throws away; any other reset gets a ConflictError,
409), on SQLite an exclusive lock on a file next to the database. While the schema is rebuilt, PostgreSQL also
holds the "rebuild gate" exclusively: every demo-mode request takes it shared first (`wait_for_running_reset`),
so a page asked for during a reset waits a second or two and then reads the fresh store instead of failing on a
dropped table, and a second reset button press answers 409 at once.

A reset signs everyone out: the seeded accounts come back with their seeded session tokens, so a new random
session epoch (storefront.auth) is stored after seeding and every session made before it stops working.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import g, request
from sqlalchemy import Connection, Engine, MetaData, create_engine, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import models
from models.base import UTCDateTime
from storefront import clock, database
from storefront.auth import SESSION_EPOCH_KEY
from storefront.cli import run_seeders
from storefront.demo.services import translate as _
from storefront.errors import ConflictError, DomainError
from storefront.extensions import db

# What the seeders write "now" (created_at, valid_from...) is pinned to this instant after a reset, so two
# resets give the same bytes; it is the anchor of the seeded demo history (storefront/demo/seed.py).
SEED_INSTANT = dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.UTC)  # 2026-11-23 00:00 in Shanghai

# PostgreSQL advisory lock ids ("Flag" + a number): the reset itself, and the gate requests pass while none runs.
RESET_LOCK_ID = 0x466C6167_0001
REBUILD_GATE_ID = 0x466C6167_0002
GATE_WAIT_SECONDS = 20.0  # a reset takes ~2 s; a request waits at most this long for one to finish

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResetReport:
    seconds: float
    seeders: list[str]
    pinned_timestamps: int


def reset_store() -> ResetReport:
    """Rebuild the database of the current app from nothing; returns how long it took. Commits.

    Raises ConflictError when another reset (any worker, host or CLI) is running.
    """
    engine = db.engine
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        raise DomainError(_("An in-memory database cannot be reset: it would vanish with its connection."))
    db.session.close()  # ends this request's transaction, and with it its share of the rebuild gate
    with _only_reset_running(engine):
        started = time.perf_counter()
        url = engine.url.render_as_string(hide_password=False)
        drop_everything(engine)
        engine.dispose()  # no pooled connection keeps plans or caches of the old schema
        database.upgrade(url)
        seeding_from = models.utcnow()
        lines = run_seeders(db.session)
        db.session.commit()
        pinned = pin_seed_timestamps(db.session, since=seeding_from, until=models.utcnow())
        # Every session from before the reset ends here (storefront.auth.load_user compares the epoch).
        db.session.add(models.StoreSetting(key=SESSION_EPOCH_KEY, value=secrets.token_hex(16)))
        db.session.commit()
        clock.set_offset(dt.timedelta(0))  # the setting row is gone with the tables; forget any process offset
        g.pop(clock.G_OFFSET, None)
        return ResetReport(seconds=time.perf_counter() - started, seeders=lines, pinned_timestamps=pinned)


def _already_running() -> ConflictError:
    return ConflictError(_("A reset is already running; wait a few seconds."))


@contextmanager
def _only_reset_running(engine: Engine) -> Iterator[None]:
    """Hold the cross-process reset lock (and on PostgreSQL the rebuild gate) for the duration of the block."""
    if engine.dialect.name == "postgresql":
        with _postgres_reset_lock(engine):
            yield
    else:
        with _file_reset_lock(str(engine.url.database)):
            yield


@contextmanager
def _postgres_reset_lock(engine: Engine) -> Iterator[None]:
    # A connection of its own (no pool): the reset disposes the app's pool, and session advisory locks outlive
    # DROP SCHEMA. Closing the connection releases both locks, even if the reset fails half-way.
    lock_engine = create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with lock_engine.connect() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": RESET_LOCK_ID}):
                raise _already_running()
            try:
                # Wait for requests already inside the gate to finish; new ones queue behind us.
                conn.execute(text(f"SET lock_timeout = '{int(GATE_WAIT_SECONDS)}s'"))
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": REBUILD_GATE_ID})
            except OperationalError:
                raise ConflictError(_("The store is too busy to reset right now; try again in a minute.")) from None
            yield
    finally:
        lock_engine.dispose()


@contextmanager
def _file_reset_lock(database_path: str) -> Iterator[None]:
    with open(f"{database_path}.reset-lock", "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _already_running() from None
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def wait_for_running_reset() -> None:
    """Demo mode, PostgreSQL, first thing in a request: take the rebuild gate shared for this transaction.

    While a reset rebuilds the schema the gate is held exclusively: a reset request answers 409 at once, any
    other request waits (bounded) and then reads the fresh store.
    """
    session = db.session
    if session.get_bind().dialect.name != "postgresql":
        return
    take = text("SELECT pg_try_advisory_xact_lock_shared(:id)")
    deadline = time.monotonic() + GATE_WAIT_SECONDS
    while not session.scalar(take, {"id": REBUILD_GATE_ID}):
        if request.endpoint == "demo_staff.reset" or time.monotonic() >= deadline:
            raise _already_running()
        time.sleep(0.05)


def drop_everything(engine: Engine) -> None:
    """Every table, including ones no model declares any more and alembic_version."""
    if engine.dialect.name == "postgresql":
        _drop_schema(engine)
        return
    with engine.begin() as conn:
        existing = MetaData()
        existing.reflect(conn)
        existing.drop_all(conn)


DROP_ATTEMPTS = 6


def _drop_schema(engine: Engine) -> None:
    """DROP SCHEMA public, ending whatever session of this database still holds a lock on a table after a few
    seconds: the gate lets no new request in, so such a session is stuck (left idle in a transaction), and
    everything it holds is about to be dropped anyway. Each one is logged with what it was doing."""
    for attempt in range(1, DROP_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '3s'"))
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            return
        except OperationalError:
            if attempt == DROP_ATTEMPTS:
                raise
            _end_sessions_holding_tables(engine)


def _end_sessions_holding_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        stuck = conn.execute(text(
            "SELECT a.pid, a.state, left(a.query, 200) FROM pg_stat_activity a "
            "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND EXISTS ("
            "  SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE l.pid = a.pid AND n.nspname = 'public')"
        )).all()
        for pid, state, query in stuck:
            log.warning("demo reset: ending session %s (%s) that holds a table: %s", pid, state, query)
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        conn.commit()


def pin_seed_timestamps(session: Session, *, since: dt.datetime, until: dt.datetime) -> int:
    """Set every timestamp the seeders wrote as "now" (between `since` and `until`) to SEED_INSTANT."""
    changed = 0
    for table in models.Base.metadata.sorted_tables:
        # Columns with an onupdate (updated_at) would take the wall clock again: set them to themselves.
        keep = {c.name: c for c in table.columns if c.onupdate is not None}
        for column in table.columns:
            if isinstance(column.type, UTCDateTime):
                values = {**keep, column.name: SEED_INSTANT}
                result = session.execute(update(table).where(column.between(since, until)).values(values))
                changed += result.rowcount or 0  # type: ignore[attr-defined]
    return changed


def dump_rows(conn: Connection) -> Iterator[str]:
    """Every row of every table (alembic_version too), ordered by primary key, one JSON line each; the session
    epoch a reset writes is left out (it is a fresh secret each time)."""
    existing = MetaData()
    existing.reflect(conn)
    for name in sorted(existing.tables):
        table = existing.tables[name]
        order = list(table.primary_key.columns) or list(table.columns)
        query = select(table).order_by(*order)
        if name == models.StoreSetting.__tablename__:  # the session epoch is random per reset, not store data
            query = query.where(table.c.key != SESSION_EPOCH_KEY)
        for row in conn.execute(query):
            yield json.dumps([name, *row], default=_json_value, ensure_ascii=False, sort_keys=True)


def dump_digest(conn: Connection) -> str:
    digest = hashlib.sha256()
    for line in dump_rows(conn):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _json_value(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)
