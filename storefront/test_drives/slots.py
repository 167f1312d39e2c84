"""Slot arithmetic: opening hours of a day and the slots that fit in them, computed in Asia/Shanghai.

Pure functions (no database, no Flask). China has kept UTC+8 all year since 1991, so a local wall-clock
time maps to exactly one instant; the functions still go through zoneinfo rather than assume it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from storefront.clock import STORE_TZ

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

WeeklyHours = Mapping[str, list[str] | None]


@dataclass(frozen=True)
class Window:
    """The hours test drives run on one day (local wall-clock times)."""

    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class SlotTime:
    starts_at: dt.datetime  # aware, UTC
    ends_at: dt.datetime

    @property
    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(STORE_TZ)

    @property
    def local_end(self) -> dt.datetime:
        return self.ends_at.astimezone(STORE_TZ)


def parse_hhmm(value: str) -> dt.time | None:
    """'09:30' -> time(9, 30); anything else -> None."""
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def weekday_window(weekly_hours: WeeklyHours, day: dt.date) -> Window | None:
    """The regular hours for that weekday, or None when closed (or the entry is unusable)."""
    entry = weekly_hours.get(WEEKDAYS[day.weekday()])
    if not entry or len(entry) != 2:
        return None
    opens, closes = parse_hhmm(entry[0]), parse_hhmm(entry[1])
    if opens is None or closes is None or opens >= closes:
        return None
    return Window(opens, closes)


def day_window(
    weekly_hours: WeeklyHours, day: dt.date, *, closed: bool | None = None,
    opens: dt.time | None = None, closes: dt.time | None = None,
) -> Window | None:
    """Hours on `day`: an exception for the date (closed / special hours) wins over the weekday's hours."""
    if closed is True:
        return None
    if closed is False and opens is not None and closes is not None and opens < closes:
        return Window(opens, closes)
    return weekday_window(weekly_hours, day)


def local_datetime(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=STORE_TZ)


def slot_times(day: dt.date, window: Window | None, slot_minutes: int) -> list[SlotTime]:
    """Back-to-back slots from opening; the last one ends at or before closing."""
    if window is None or slot_minutes <= 0:
        return []
    length = dt.timedelta(minutes=slot_minutes)
    start = local_datetime(day, window.opens)
    close = local_datetime(day, window.closes)
    slots = []
    while start + length <= close:
        slots.append(SlotTime(start.astimezone(dt.UTC), (start + length).astimezone(dt.UTC)))
        start += length
    return slots


def local_day(moment: dt.datetime) -> dt.date:
    """The calendar day in Shanghai of an aware instant (not its UTC date)."""
    return moment.astimezone(STORE_TZ).date()


def validate_weekly_hours(raw: Mapping[str, object]) -> dict[str, list[str] | None]:
    """Normalise {"mon": ["09:00", "18:00"] | None, ...}; raises ValueError naming the bad weekday."""
    result: dict[str, list[str] | None] = {}
    for weekday in WEEKDAYS:
        entry = raw.get(weekday)
        if entry in (None, "", [], ["", ""]):
            result[weekday] = None
            continue
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise ValueError(weekday)
        opens, closes = parse_hhmm(str(entry[0])), parse_hhmm(str(entry[1]))
        if opens is None or closes is None or opens >= closes:
            raise ValueError(weekday)
        result[weekday] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    return result
