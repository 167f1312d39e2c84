"""Lazy hold expiry for pages that show availability: release what has run out, then show the truth."""

from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy.exc import OperationalError

from storefront.extensions import db

log = logging.getLogger(__name__)


def release_expired_holds_now() -> int:
    """Called at the top of catalog and reservation pages (GET). Commits only when it released something,
    so a page that has nothing to release costs one indexed SELECT. On SQLite another writer may hold the
    database; then the page shows the hold a little longer rather than failing (cron catches up)."""
    from storefront.reservations.services import release_expired_holds

    try:
        released = release_expired_holds(db.session)
        if released:
            db.session.commit()
    except OperationalError as error:
        db.session.rollback()
        log.warning("could not release expired holds now: %s", error)
        return 0
    return released


_released_at = 0.0


def release_expired_holds_now_and_then() -> None:
    """Catalog reads: the same, at most once every HOLD_RELEASE_INTERVAL_SECONDS per worker (default 5 s, the
    catalog's stated staleness bound), so a browsing shopper does not pay a query on every page. Cron runs the
    full release every minute; reserving always locks and checks the car itself."""
    global _released_at
    now = time.monotonic()
    if now - _released_at < current_app.config.get("HOLD_RELEASE_INTERVAL_SECONDS", 5):
        return
    _released_at = now
    release_expired_holds_now()
