"""Read side of the insights dashboard: every figure grouped in SQL, a fixed number of queries per page.

A period is a range of Asia/Shanghai calendar days, both ends included. Funnel, places and quote mix come
from the funnel events (so the seeded history counts); deposits from the payment records (real money);
slot utilisation from the test-drive schedules, demo fleet and slots (the next two weeks, operational).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, case, cast, distinct, func, literal_column, select
from sqlalchemy.orm import Session

from models import CarModel, City, Dealer, Event, FunnelStep
from storefront.clock import STORE_TZ
from storefront.demo.services import translate as _

FUNNEL = (FunnelStep.VIEW, FunnelStep.QUOTE, FunnelStep.TEST_DRIVE, FunnelStep.RESERVE, FunnelStep.PAY,
          FunnelStep.PICKUP)
MAX_DAYS = 366
DEFAULT_DAYS = 28
UTILISATION_DAYS = 14
FINANCE_KINDS = ("full_payment", "loan", "lease_to_own", "operating_lease")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # included

    @property
    def start_utc(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=STORE_TZ).astimezone(dt.UTC)

    @property
    def end_utc(self) -> dt.datetime:
        """Exclusive: midnight after the last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=STORE_TZ).astimezone(dt.UTC)

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period_problem(start: dt.date, end: dt.date) -> str | None:
    """Why a period cannot be shown, in the page's language, or None."""
    if start > end:
        return _("The start date is after the end date: swap them.")
    if (end - start).days + 1 > MAX_DAYS:
        return _("Choose at most %(days)d days.", days=MAX_DAYS)
    return None


def default_period(session: Session, today: dt.date) -> Period:
    """The last four weeks up to today; when those hold no events (an old demo database), the four weeks up to
    the latest event, so the dashboard still shows the seeded history."""
    latest = session.scalar(select(func.max(Event.occurred_at)))
    end = today
    if latest is not None:
        latest_day = latest.astimezone(STORE_TZ).date()
        if latest_day < today - dt.timedelta(days=DEFAULT_DAYS - 1):
            end = latest_day
    return Period(end - dt.timedelta(days=DEFAULT_DAYS - 1), end)


def _in(period: Period) -> ColumnElement[bool]:
    return (Event.occurred_at >= period.start_utc) & (Event.occurred_at < period.end_utc)


def _local_day(session: Session, column: Any) -> Any:
    """The Shanghai calendar day of a UTC timestamp column, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal_column("'Asia/Shanghai'"), column), Date)
    # SQLite stores naive UTC; Shanghai is UTC+8 all year (no daylight saving since 1991).
    return func.date(column, literal_column("'+8 hours'"))


@dataclass(frozen=True)
class FunnelRow:
    step: FunnelStep
    events: int
    visits: int
    conversion: Decimal | None  # events of this step per event of the previous step, in %


def funnel(session: Session, period: Period) -> list[FunnelRow]:
    rows = session.execute(
        select(Event.step, func.count(Event.id), func.count(distinct(Event.visit_key)))
        .where(_in(period)).group_by(Event.step)
    ).all()
    counts = {step: (events, visits) for step, events, visits in rows}
    result = []
    previous: int | None = None
    for step in FUNNEL:
        events, visits = counts.get(step, (0, 0))
        conversion = None
        if previous:
            conversion = (Decimal(events * 100) / Decimal(previous)).quantize(Decimal("0.1"))
        result.append(FunnelRow(step, events, visits, conversion))
        previous = events
    return result


def daily(session: Session, period: Period) -> dict[dt.date, dict[FunnelStep, int]]:
    """Events per Shanghai day and step (every day of the period present, zeros included)."""
    day = _local_day(session, Event.occurred_at).label("day")
    rows = session.execute(select(day, Event.step, func.count(Event.id)).where(_in(period)).group_by(day, Event.step))
    series: dict[dt.date, dict[FunnelStep, int]] = {d: dict.fromkeys(FUNNEL, 0) for d in period.days}
    for raw_day, step, count in rows:
        key = raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(str(raw_day))
        if key in series:
            series[key][step] = count
    return series


@dataclass(frozen=True)
class PlaceRow:
    id: int
    name_en: str
    name_zh: str
    test_drives: int
    reservations: int
    extra: str = ""  # the city of a showroom, the brand of a model


def _place_counts() -> tuple[Any, Any]:
    return (
        func.sum(case((Event.step == FunnelStep.TEST_DRIVE, 1), else_=0)).label("test_drives"),
        func.sum(case((Event.step == FunnelStep.RESERVE, 1), else_=0)).label("reservations"),
    )


def _place_filter(period: Period) -> ColumnElement[bool]:
    return _in(period) & Event.step.in_([FunnelStep.TEST_DRIVE, FunnelStep.RESERVE])


def by_city(session: Session, period: Period) -> list[PlaceRow]:
    drives, reservations = _place_counts()
    rows = session.execute(
        select(City.id, City.name_en, City.name_zh, drives, reservations)
        .join(Event, Event.city_id == City.id).where(_place_filter(period))
        .group_by(City.id, City.name_en, City.name_zh).order_by(reservations.desc(), drives.desc(), City.id)
    )
    return [PlaceRow(*row) for row in rows]


def by_showroom(session: Session, period: Period) -> list[PlaceRow]:
    drives, reservations = _place_counts()
    rows = session.execute(
        select(Dealer.id, Dealer.name_en, Dealer.name_zh, drives, reservations, Dealer.code)
        .join(Event, Event.dealer_id == Dealer.id).where(_place_filter(period))
        .group_by(Dealer.id, Dealer.name_en, Dealer.name_zh, Dealer.code)
        .order_by(reservations.desc(), drives.desc(), Dealer.id)
    )
    return [PlaceRow(*row) for row in rows]


def by_model(session: Session, period: Period) -> list[PlaceRow]:
    drives, reservations = _place_counts()
    rows = session.execute(
        select(CarModel.id, CarModel.name_en, CarModel.name_zh, drives, reservations)
        .join(Event, Event.car_model_id == CarModel.id).where(_place_filter(period))
        .group_by(CarModel.id, CarModel.name_en, CarModel.name_zh)
        .order_by(reservations.desc(), drives.desc(), CarModel.id)
    )
    return [PlaceRow(*row) for row in rows]


def quote_mix(session: Session, period: Period) -> list[tuple[str, int]]:
    """Quotes per finance product kind (from the quote events' finance_kind), biggest first."""
    kind = Event.props["finance_kind"].as_string().label("kind")
    rows = session.execute(
        select(kind, func.count(Event.id)).where(_in(period), Event.step == FunnelStep.QUOTE).group_by(kind)
    ).all()
    counts = {str(k or "unknown"): n for k, n in rows}
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@dataclass
class DepositRow:
    purpose: str
    paid_count: int = 0
    collected: Decimal = Decimal("0.00")
    refunded_count: int = 0
    refunded: Decimal = Decimal("0.00")
    kind: str = ""  # a reservation deposit's kind: refundable (订金) or binding (定金)

    @property
    def net(self) -> Decimal:
        return self.collected - self.refunded


def deposits(session: Session, period: Period) -> list[DepositRow]:
    """Deposits paid and refunded in the period, per purpose (reservation, self-service test drive) and, for
    reservations, per kind: a 订金 and a 定金 are different promises, so they are never added up under one word."""
    try:
        from models.payments import Payment, PaymentPurpose
        from models.reservations import Reservation
    except ImportError:  # the payments area has not landed
        return []
    paid_in = (Payment.paid_at >= period.start_utc) & (Payment.paid_at < period.end_utc)
    refunded_in = (Payment.refunded_at >= period.start_utc) & (Payment.refunded_at < period.end_utc)
    rows = session.execute(
        select(
            Payment.purpose,
            Reservation.deposit_kind,
            func.sum(case((paid_in, 1), else_=0)),
            func.coalesce(func.sum(case((paid_in, Payment.amount), else_=0)), 0),
            func.sum(case((refunded_in & (Payment.refunded_amount > 0), 1), else_=0)),
            func.coalesce(func.sum(case((refunded_in, Payment.refunded_amount), else_=0)), 0),
        )
        .outerjoin(Reservation, (Payment.purpose == PaymentPurpose.RESERVATION_DEPOSIT)
                   & (Reservation.id == Payment.subject_id))
        .where(paid_in | refunded_in)
        .group_by(Payment.purpose, Reservation.deposit_kind).order_by(Payment.purpose, Reservation.deposit_kind)
    )
    return [
        DepositRow(purpose.value, int(paid or 0), Decimal(collected).quantize(Decimal("0.01")), int(refunds or 0),
                   Decimal(refunded).quantize(Decimal("0.01")), kind.value if kind is not None else "")
        for purpose, kind, paid, collected, refunds, refunded in rows
    ]


@dataclass
class UtilisationRow:
    dealer_id: int
    name_en: str
    name_zh: str
    offered: int = 0  # places: slots x demo cars, over the window
    booked: int = 0

    @property
    def percent(self) -> Decimal | None:
        return (Decimal(self.booked * 100) / Decimal(self.offered)).quantize(Decimal("0.1")) if self.offered else None


@dataclass(frozen=True)
class Utilisation:
    start: dt.date
    end: dt.date
    rows: list[UtilisationRow] = field(default_factory=list)

    @property
    def offered(self) -> int:
        return sum(r.offered for r in self.rows)

    @property
    def booked(self) -> int:
        return sum(r.booked for r in self.rows)

    @property
    def percent(self) -> Decimal | None:
        return (Decimal(self.booked * 100) / Decimal(self.offered)).quantize(Decimal("0.1")) if self.offered else None


def utilisation(session: Session, today: dt.date, days: int = UTILISATION_DAYS) -> Utilisation | None:
    """Showroom test-drive places booked vs offered from today for `days` days (4 queries), or None while the
    test-drive area has not landed. Places offered = slots the opening hours allow x demo cars of every model."""
    try:
        from models.test_drives import TestDriveException, TestDriveFleet, TestDriveSchedule, TestDriveSlot
        from storefront.test_drives.slots import day_window, slot_times
    except ImportError:
        return None
    window = Period(today, today + dt.timedelta(days=days - 1))
    schedules = session.execute(
        select(Dealer.id, Dealer.name_en, Dealer.name_zh, TestDriveSchedule.weekly_hours,
               TestDriveSchedule.slot_minutes)
        .join(TestDriveSchedule, TestDriveSchedule.dealer_id == Dealer.id)
        .where(Dealer.is_active.is_(True), Dealer.offers_test_drive.is_(True)).order_by(Dealer.id)
    ).all()
    cars = dict(session.execute(
        select(TestDriveFleet.dealer_id, func.sum(TestDriveFleet.demo_cars))
        .join(CarModel, CarModel.id == TestDriveFleet.car_model_id).where(CarModel.is_active.is_(True))
        .group_by(TestDriveFleet.dealer_id)
    ).all())
    exceptions: dict[tuple[int, dt.date], Any] = {
        (e.dealer_id, e.day): e
        for e in session.scalars(select(TestDriveException).where(TestDriveException.day.between(window.start,
                                                                                                   window.end)))
    }
    booked = dict(session.execute(
        select(TestDriveSlot.dealer_id, func.sum(TestDriveSlot.booked))
        .where(TestDriveSlot.starts_at >= window.start_utc, TestDriveSlot.starts_at < window.end_utc)
        .group_by(TestDriveSlot.dealer_id)
    ).all())
    rows = []
    for dealer_id, name_en, name_zh, weekly_hours, slot_minutes in schedules:
        row = UtilisationRow(dealer_id, name_en, name_zh, booked=int(booked.get(dealer_id) or 0))
        for day in window.days:
            exception = exceptions.get((dealer_id, day))
            hours = day_window(weekly_hours or {}, day, closed=exception.closed if exception else None,
                               opens=exception.opens if exception else None,
                               closes=exception.closes if exception else None)
            row.offered += len(slot_times(day, hours, slot_minutes)) * int(cars.get(dealer_id) or 0)
        rows.append(row)
    return Utilisation(window.start, window.end, rows)


def chart_data(funnel_rows: list[FunnelRow], series: dict[dt.date, dict[FunnelStep, int]],
               cities: list[PlaceRow], mix: list[tuple[str, int]], labels: dict[str, str],
               city_names: list[str]) -> dict[str, Any]:
    """What static/js/insights.js draws; the tables on the page hold the same numbers."""
    return {
        "funnel": {"labels": [labels[r.step.value] for r in funnel_rows], "values": [r.events for r in funnel_rows]},
        "daily": {
            "labels": [d.isoformat() for d in series],
            "series": [
                {"label": labels[step.value], "values": [series[d][step] for d in series]}
                for step in (FunnelStep.VIEW, FunnelStep.QUOTE, FunnelStep.TEST_DRIVE, FunnelStep.RESERVE)
            ],
        },
        "cities": {
            "labels": city_names,
            "series": [
                {"label": labels["test_drive"], "values": [c.test_drives for c in cities]},
                {"label": labels["reserve"], "values": [c.reservations for c in cities]},
            ],
        },
        "quote_mix": {"labels": [labels.get(k, k) for k, _ in mix], "values": [n for _, n in mix]},
    }


def group_daily_by_week(series: dict[dt.date, dict[FunnelStep, int]]) -> dict[dt.date, dict[FunnelStep, int]]:
    """Weekly totals (weeks start on Monday) for long periods, so the chart stays readable."""
    weeks: dict[dt.date, dict[FunnelStep, int]] = defaultdict(lambda: dict.fromkeys(FUNNEL, 0))
    for day, counts in series.items():
        monday = day - dt.timedelta(days=day.weekday())
        for step, count in counts.items():
            weeks[monday][step] += count
    return dict(sorted(weeks.items()))
