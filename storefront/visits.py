"""The anonymous visit key that links one browser's funnel events (no personal data)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from functools import partial
from typing import Any

from flask import Response, current_app, has_request_context, request, session
from sqlalchemy import Connection, Engine, bindparam, func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import FunnelStep
from storefront.events import INSERT_EVENT, event_row

logger = logging.getLogger(__name__)

SESSION_KEY = "visit"


def visit_key(*, create: bool = True) -> str:
    """A random key for this browser session, kept in the signed session cookie; '' outside a request.
    With create=False, only a key the browser already has (a shared catalog page starts no session).

    Pass it to record_event(visit_key=...). It identifies nobody: it is not derived from the user, the IP
    or the device, and a new one starts whenever the session is cleared (sign-in, sign-out).
    """
    if not has_request_context():
        return ""
    if not create and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return ""
    key = session.get(SESSION_KEY)
    if not create:
        return key if isinstance(key, str) else ""
    if not isinstance(key, str) or len(key) != 16:
        key = secrets.token_hex(8)
        session[SESSION_KEY] = key
    return key


def record_view_after_response(
    response: Response, db_session: Session, *, car_model_id: int, city_id: int | None
) -> None:
    """Record a model page view once the page has gone out, so the shopper never waits for it.

    The row (store clock time, visit key) is made now; the INSERT runs when the WSGI server closes the
    response, after the body is sent, on its own short transaction: a page view is not part of any action,
    so there is nothing for it to share a transaction with. The request's session is closed by then, so
    the write uses the session's bind: the engine, or under the tests the connection that holds the test's
    transaction (then inside a SAVEPOINT, rolled back with the test). A failed write is logged, never raised.
    """
    # A view from a browser without a session has no visit key: the page it saw was a shared one, with no cookie.
    row = event_row(FunnelStep.VIEW, car_model_id=car_model_id, city_id=city_id, visit_key=visit_key(create=False))
    batch_seconds = float(current_app.config.get("VIEW_BATCH_SECONDS") or 0)
    response.call_on_close(partial(_queue_view, db_session.get_bind(), row, batch_seconds))


# Views waiting to be written by this worker. With VIEW_BATCH_SECONDS > 0 a busy worker writes them together,
# one multi-row INSERT at most every that many seconds (or per VIEW_BATCH_ROWS), instead of one transaction per
# view: on SQLite every write transaction takes the one database-wide write lock, which two busy workers would
# otherwise queue on. A worker that dies loses at most that window of views (never an order or a payment).
VIEW_BATCH_ROWS = 200
_waiting: list[dict[str, Any]] = []
_waiting_since = 0.0
_waiting_lock = threading.Lock()


def _queue_view(bind: Engine | Connection, row: dict[str, Any], batch_seconds: float) -> None:
    global _waiting_since
    if batch_seconds <= 0 or isinstance(bind, Connection):
        _write_views(bind, [row])
        return
    with _waiting_lock:
        if not _waiting:
            _waiting_since = time.monotonic()
        _waiting.append(row)
        if len(_waiting) < VIEW_BATCH_ROWS and time.monotonic() - _waiting_since < batch_seconds:
            return
        rows = _waiting[:]
        _waiting.clear()
    _write_views(bind, rows)


def _write_views(bind: Engine | Connection, rows: list[dict[str, Any]]) -> None:
    """Write the views; once more on a fresh connection when the server dropped the one in hand (the pool checks a
    connection before lending it, but the server can still drop it between that check and the INSERT)."""
    for attempt in (1, 2):
        try:
            _insert_views(bind, rows)
            return
        except DBAPIError as error:
            if error.connection_invalidated and attempt == 1 and not isinstance(bind, Connection):
                continue
            logger.warning("page view not recorded (%d rows)", len(rows), exc_info=True)
            return
        except SQLAlchemyError:
            logger.warning("page view not recorded (%d rows)", len(rows), exc_info=True)
            return


def _insert_views(bind: Engine | Connection, rows: list[dict[str, Any]]) -> None:
    if isinstance(bind, Connection):  # under the tests: a SAVEPOINT in the test's transaction
        with bind.begin_nested():
            bind.execute(INSERT_EVENT, rows)
    elif bind.dialect.name == "postgresql" and len(rows) == 1:
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(_PG_VIEW_INSERT, rows[0])
    else:  # SQLite: WAL mode with synchronous=NORMAL already commits without waiting for the disk
        with bind.begin() as connection:
            connection.execute(INSERT_EVENT, rows)


# PostgreSQL: one statement, autocommitted, so a single round trip. set_config(..., true) is SET LOCAL: its own
# commit runs with synchronous_commit off and does not wait for the WAL flush. A crash in the next split second
# could lose the last few views, never an order or a payment, and never leaves anything half-written.
_EVENTS = INSERT_EVENT.table
_COLUMNS = ("step", "occurred_at", "car_model_id", "dealer_id", "city_id", "visit_key", "props")
_PG_VIEW_INSERT = INSERT_EVENT.from_select(
    _COLUMNS,
    select(*(bindparam(name, type_=_EVENTS.c[name].type) for name in _COLUMNS)).select_from(
        select(func.set_config("synchronous_commit", "off", True)).subquery()
    ),
)
