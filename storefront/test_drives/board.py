"""The staff calendar of one showroom: a day board (slots with their bookings) and a week grid.

Read side only, built from a constant number of queries whatever the number of bookings.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models import BookingStatus, CarModel, Dealer, TestDriveBooking, TestDriveKind
from storefront import clock
from storefront.test_drives import queries, services
from storefront.test_drives.slots import SlotTime, Window, local_datetime, local_day, slot_times

INACTIVE = (BookingStatus.CANCELLED, BookingStatus.EXPIRED)


@dataclass
class BoardSlot:
    slot: SlotTime
    bookings: list[TestDriveBooking] = field(default_factory=list)
    taken: dict[int, int] = field(default_factory=dict)  # car_model_id -> places taken


@dataclass
class DayBoard:
    dealer: Dealer
    day: dt.date
    window: Window | None
    slots: list[BoardSlot]
    other: list[TestDriveBooking]  # showroom drives that no longer fit the slot grid (hours changed)
    self_service: list[TestDriveBooking]  # kiosk drives picked up, out, or due back that day
    fleet: list[tuple[CarModel, int]]
    cancelled: list[TestDriveBooking]

    @property
    def booking_count(self) -> int:
        return sum(len(s.bookings) for s in self.slots) + len(self.other)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = local_datetime(day, dt.time(0, 0)).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)


def day_board(session: Session, *, dealer: Dealer, day: dt.date) -> DayBoard:
    schedule = services.schedule_for(session, dealer=dealer)
    window = services.windows_between(session, dealer=dealer, first=day, last=day, schedule=schedule)[day]
    start, end = day_bounds(day)
    bookings = queries.bookings_between(session, dealer_id=dealer.id, start=start, end=end)
    board = [BoardSlot(s) for s in slot_times(day, window, schedule.slot_minutes)]
    by_start = {b.slot.starts_at: b for b in board}
    other, kiosk, cancelled = [], [], []
    for booking in bookings:
        if booking.status in INACTIVE:
            if booking.starts_at >= start:
                cancelled.append(booking)
            continue
        if booking.kind is TestDriveKind.SELF_SERVICE:
            kiosk.append(booking)
            continue
        target = by_start.get(booking.starts_at)
        if target is None:
            other.append(booking)
            continue
        target.bookings.append(booking)
        target.taken[booking.car_model_id] = target.taken.get(booking.car_model_id, 0) + 1
    return DayBoard(dealer, day, window, board, other, kiosk, queries.demo_models_at(session, dealer_id=dealer.id),
                    cancelled)


@dataclass
class WeekGrid:
    dealer: Dealer
    days: list[dt.date]
    open_days: dict[dt.date, bool]
    times: list[dt.time]  # local start times appearing in the week
    counts: dict[tuple[dt.date, dt.time], int]
    totals: dict[dt.date, int]
    capacity_per_slot: int
    slot_starts: dict[dt.date, set[dt.time]]  # local start times of each day's slots


def week_grid(session: Session, *, dealer: Dealer, first: dt.date) -> WeekGrid:
    schedule = services.schedule_for(session, dealer=dealer)
    days = [first + dt.timedelta(days=i) for i in range(7)]
    windows = services.windows_between(session, dealer=dealer, first=days[0], last=days[-1], schedule=schedule)
    start, _ = day_bounds(days[0])
    _, end = day_bounds(days[-1])
    slot_starts = {day: {s.local_start.time() for s in slot_times(day, windows[day], schedule.slot_minutes)}
                   for day in days}
    times: set[dt.time] = set().union(*slot_starts.values())
    counts: dict[tuple[dt.date, dt.time], int] = defaultdict(int)
    totals: dict[dt.date, int] = defaultdict(int)
    for booking in queries.bookings_between(session, dealer_id=dealer.id, start=start, end=end,
                                            include_cancelled=False):
        if booking.kind is TestDriveKind.SELF_SERVICE:
            continue
        local = booking.starts_at.astimezone(clock.STORE_TZ)
        times.add(local.time())
        counts[(local.date(), local.time())] += 1
        totals[local.date()] += 1
    capacity = sum(cars for _model, cars in queries.demo_models_at(session, dealer_id=dealer.id))
    return WeekGrid(dealer, days, {d: windows[d] is not None for d in days}, sorted(times), dict(counts),
                    dict(totals), capacity, slot_starts)


def local_date_of(moment: dt.datetime) -> dt.date:
    return local_day(moment)
