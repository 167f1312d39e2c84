"""Demo rules: the shared store-clock offset (time travel). Functions flush, never commit."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import StoreSetting, User
from storefront.audit import record_audit
from storefront.errors import DomainError, PermissionDeniedError

CLOCK_OFFSET_KEY = "clock_offset_seconds"
# A demo moves the clock by hours or days (hold expiry, tomorrow's reminders); a year is plenty.
MAX_OFFSET = dt.timedelta(days=366)
UNITS = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1)}
_DURATION = re.compile(r"^\+?(\d{1,6})\s*([mhd])$")


def translate(message: str, **values: Any) -> str:
    """gettext in a web request; plain English in CLI commands (the locale is chosen from the request)."""
    if has_request_context():
        return str(gettext(message, **values))
    return message % values if values else message


_ = translate


def parse_duration(text: str) -> dt.timedelta:
    """'90m', '1h', '+2d' -> a positive timedelta; anything else is a DomainError."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise DomainError(_("Give a positive amount of minutes, hours or days, e.g. 90m, 1h or 2d."), field="amount")
    return int(match.group(1)) * UNITS[match.group(2)]


def load_clock_offset(session: Session) -> dt.timedelta | None:
    """The offset every process shares, or None when the clock has not been moved (or the value is unusable)."""
    raw = session.scalar(select(StoreSetting.value).where(StoreSetting.key == CLOCK_OFFSET_KEY))
    if raw is None:
        return None
    try:
        seconds = int(raw)
    except ValueError:
        return None
    if not 0 <= seconds <= MAX_OFFSET.total_seconds():
        return None
    return dt.timedelta(seconds=seconds)


def move_clock_forward(session: Session, *, actor: User | None, by: dt.timedelta) -> dt.timedelta:
    """Add `by` to the store clock offset; returns the new offset. `actor` None = the CLI."""
    _check_admin(actor)
    if by <= dt.timedelta(0):
        raise DomainError(_("The store clock only moves forward; use 'back to now' to undo."), field="amount")
    before = load_clock_offset(session) or dt.timedelta(0)
    after = before + by
    if after > MAX_OFFSET:
        raise DomainError(_("The store clock can move at most 366 days ahead."), field="amount")
    setting = session.get(StoreSetting, CLOCK_OFFSET_KEY)
    if setting is None:
        session.add(StoreSetting(key=CLOCK_OFFSET_KEY, value=str(int(after.total_seconds()))))
    else:
        setting.value = str(int(after.total_seconds()))
    _audit(session, actor, before, after)
    session.flush()
    return after


def reset_clock(session: Session, *, actor: User | None) -> None:
    """Back to real time for every process."""
    _check_admin(actor)
    before = load_clock_offset(session) or dt.timedelta(0)
    session.execute(delete(StoreSetting).where(StoreSetting.key == CLOCK_OFFSET_KEY))
    _audit(session, actor, before, dt.timedelta(0))
    session.flush()


def _check_admin(actor: User | None) -> None:
    if actor is not None and not actor.is_admin:
        raise PermissionDeniedError(_("Only an admin can move the store clock."))


def _audit(session: Session, actor: User | None, before: dt.timedelta, after: dt.timedelta) -> None:
    record_audit(
        session, actor=actor, action="demo.clock", entity_type="store_setting", entity_id=CLOCK_OFFSET_KEY,
        before={"offset_seconds": int(before.total_seconds())}, after={"offset_seconds": int(after.total_seconds())},
    )
