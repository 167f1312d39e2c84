"""Lazy hold expiry for pages that show availability: release what has run out, then show the truth."""

from __future__ import annotations

import logging

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
