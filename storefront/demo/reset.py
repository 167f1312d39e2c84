"""Resetting the demo store: drop every table, migrate, run every seeder, so ids and codes come back the same.

This is the one piece of the demo that owns its transactions (it rebuilds the schema), so it lives here and
not in services.py. Callers check demo mode and the admin role first (the route and `flask demo reset`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import g
from sqlalchemy import Connection, Engine, MetaData, select, text, update
from sqlalchemy.orm import Session

import models
from models.base import UTCDateTime
from storefront import clock, database
from storefront.cli import run_seeders
from storefront.demo.services import translate as _
from storefront.errors import ConflictError, DomainError
from storefront.extensions import db

# What the seeders write "now" (created_at, valid_from...) is pinned to this instant after a reset, so two
# resets give the same bytes; it is the anchor of the seeded demo history (storefront/demo/seed.py).
SEED_INSTANT = dt.datetime(2026, 11, 22, 16, 0, tzinfo=dt.UTC)  # 2026-11-23 00:00 in Shanghai

_running = threading.Lock()


@dataclass(frozen=True)
class ResetReport:
    seconds: float
    seeders: list[str]
    pinned_timestamps: int


def reset_store() -> ResetReport:
    """Rebuild the database of the current app from nothing; returns how long it took. Commits."""
    if not _running.acquire(blocking=False):
        raise ConflictError(_("A reset is already running; wait a few seconds."))
    try:
        started = time.perf_counter()
        engine = db.engine
        url = engine.url.render_as_string(hide_password=False)
        if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
            raise DomainError(_("An in-memory database cannot be reset: it would vanish with its connection."))
        db.session.close()
        drop_everything(engine)
        engine.dispose()  # no pooled connection keeps plans or caches of the old schema
        database.upgrade(url)
        seeding_from = models.utcnow()
        lines = run_seeders(db.session)
        db.session.commit()
        pinned = pin_seed_timestamps(db.session, since=seeding_from, until=models.utcnow())
        db.session.commit()
        clock.set_offset(dt.timedelta(0))  # the setting row is gone with the tables; forget any process offset
        g.pop(clock.G_OFFSET, None)
        return ResetReport(seconds=time.perf_counter() - started, seeders=lines, pinned_timestamps=pinned)
    finally:
        _running.release()


def drop_everything(engine: Engine) -> None:
    """Every table, including ones no model declares any more and alembic_version."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '15s'"))
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            return
        existing = MetaData()
        existing.reflect(conn)
        existing.drop_all(conn)


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
    """Every row of every table (alembic_version too), ordered by primary key, one JSON line each."""
    existing = MetaData()
    existing.reflect(conn)
    for name in sorted(existing.tables):
        table = existing.tables[name]
        order = list(table.primary_key.columns) or list(table.columns)
        for row in conn.execute(select(table).order_by(*order)):
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
