"""The store clock: UTC now, plus the demo time-travel offset when demo mode moves it forward."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import g, has_app_context

from models.base import utcnow

STORE_TZ = ZoneInfo("Asia/Shanghai")

_offset = dt.timedelta(0)
# flask.g attribute holding the offset loaded from the database for this request or CLI command (demo area).
G_OFFSET = "store_clock_offset"


def now() -> dt.datetime:
    """Current store time in UTC (timezone-aware). Use this, not datetime.now(), in services."""
    return utcnow() + get_offset()


def local_now() -> dt.datetime:
    return now().astimezone(STORE_TZ)


def set_offset(offset: dt.timedelta) -> None:
    """Move the store clock (demo time travel). Only the demo area calls this."""
    global _offset
    _offset = offset


def get_offset() -> dt.timedelta:
    """The offset in force: the one loaded for this request/command (flask.g), else the process-wide one."""
    if has_app_context():
        loaded: dt.timedelta | None = g.get(G_OFFSET)
        if loaded is not None:
            return loaded
    return _offset
