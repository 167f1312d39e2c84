"""Slot arithmetic in Asia/Shanghai: opening windows, exceptions, UTC conversion and the absence of DST."""

from __future__ import annotations

import datetime as dt

import pytest

from storefront.clock import STORE_TZ
from storefront.test_drives.slots import (
    Window,
    day_window,
    local_day,
    slot_times,
    validate_weekly_hours,
    weekday_window,
)

HOURS = {"mon": ["09:00", "18:00"], "tue": ["09:00", "18:00"], "wed": ["10:00", "21:00"], "thu": ["09:00", "18:00"],
         "fri": ["09:00", "18:00"], "sat": ["09:30", "17:00"], "sun": None}
TUESDAY = dt.date(2026, 12, 1)


def test_slots_fill_the_day_back_to_back_and_end_by_closing():
    slots = slot_times(TUESDAY, weekday_window(HOURS, TUESDAY), 45)
    assert len(slots) == 12  # 09:00 ... 17:15-18:00
    assert slots[0].local_start.isoformat() == "2026-12-01T09:00:00+08:00"
    assert slots[-1].local_end.isoformat() == "2026-12-01T18:00:00+08:00"
    assert all(a.ends_at == b.starts_at for a, b in zip(slots, slots[1:], strict=False))
    assert slots[0].starts_at == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # stored in UTC


def test_a_slot_that_would_run_past_closing_is_left_out():
    saturday = dt.date(2026, 12, 5)  # 09:30-17:00: 45-minute slots, the last one 16:15-17:00
    slots = slot_times(saturday, weekday_window(HOURS, saturday), 45)
    assert [s.local_start.strftime("%H:%M") for s in slots][-1] == "16:15"
    assert slot_times(saturday, weekday_window(HOURS, saturday), 60)[-1].local_end.strftime("%H:%M") == "16:30"


def test_closed_weekday_has_no_slots():
    sunday = dt.date(2026, 12, 6)
    assert weekday_window(HOURS, sunday) is None
    assert slot_times(sunday, None, 45) == []


@pytest.mark.parametrize(
    ("closed", "opens", "closes", "expected"),
    [
        (True, None, None, None),  # a closed date wins over the weekday's hours
        (False, dt.time(12, 0), dt.time(15, 0), Window(dt.time(12, 0), dt.time(15, 0))),  # special hours
        (None, None, None, Window(dt.time(9, 0), dt.time(18, 0))),  # no exception: the weekday
        (False, dt.time(15, 0), dt.time(12, 0), Window(dt.time(9, 0), dt.time(18, 0))),  # nonsense: ignored
    ],
)
def test_exceptions_override_the_weekday(closed, opens, closes, expected):
    assert day_window(HOURS, TUESDAY, closed=closed, opens=opens, closes=closes) == expected


def test_early_special_hours_fall_on_the_previous_utc_day_but_stay_on_the_local_day():
    slots = slot_times(TUESDAY, Window(dt.time(7, 0), dt.time(9, 0)), 60)
    assert slots[0].starts_at == dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)
    assert all(local_day(s.starts_at) == TUESDAY for s in slots)


def test_shanghai_has_no_daylight_saving_every_day_is_utc_plus_8():
    day = dt.date(2026, 1, 1)
    while day.year == 2026:  # incl. the European/US DST switches (8 and 29 March, 25 October, 1 November)
        slots = slot_times(day, Window(dt.time(9, 0), dt.time(10, 30)), 45)
        assert [s.starts_at.time() for s in slots] == [dt.time(1, 0), dt.time(1, 45)], day
        assert slots[0].local_start.utcoffset() == dt.timedelta(hours=8)
        day += dt.timedelta(days=1)


def test_local_day_is_the_shanghai_calendar_day_not_the_utc_one():
    late_utc = dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC)  # 01:30 on 2 December in Shanghai
    assert local_day(late_utc) == dt.date(2026, 12, 2)
    assert late_utc.astimezone(STORE_TZ).hour == 1


def test_weekly_hours_are_validated_and_normalised():
    hours = validate_weekly_hours({"mon": ["09:00", "18:00"], "tue": ["", ""], "sun": None})
    assert hours["mon"] == ["09:00", "18:00"] and hours["tue"] is None and hours["sat"] is None
    for bad in ({"mon": ["18:00", "09:00"]}, {"mon": ["25:00", "26:00"]}, {"mon": ["09:00"]}, {"mon": "09-18"}):
        with pytest.raises(ValueError, match="mon"):
            validate_weekly_hours(bad)
