"""Insights dashboard: figures against a hand-built fixture, date ranges, CSV export, query count, access."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

import models
from models.payments import Payment, PaymentProvider, PaymentPurpose, PaymentStatus
from models.test_drives import TestDriveException, TestDriveFleet, TestDriveSchedule, TestDriveSlot
from storefront import clock
from storefront.clock import STORE_TZ
from storefront.demo import queries
from storefront.events import record_event

V, Q, T, R, P, K = (models.FunnelStep.VIEW, models.FunnelStep.QUOTE, models.FunnelStep.TEST_DRIVE,
                    models.FunnelStep.RESERVE, models.FunnelStep.PAY, models.FunnelStep.PICKUP)
PERIOD = queries.Period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Shanghai wall-clock time in November 2026, as the UTC instant the database stores."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=STORE_TZ).astimezone(dt.UTC)


@pytest.fixture
def history(db, catalog, monkeypatch):
    """Events written through record_event at chosen store times, plus two outside the period."""
    kadjar, mache, focus = catalog.car_models
    sh1, sh2, bj1 = catalog.dealers
    shanghai, beijing = catalog.cities

    def event(when, step, car_model, dealer=None, visit="", **props):
        monkeypatch.setattr(clock, "utcnow", lambda: when)
        record_event(db, step, car_model_id=car_model.id, dealer_id=dealer.id if dealer else None,
                     city_id=dealer.city_id if dealer else None, visit_key=visit, **props)

    event(local(1, 23, 59), V, kadjar, visit="a")  # the day before: outside
    event(local(2, 0, 1), V, kadjar, visit="a")  # 2 Nov 00:01 Shanghai = 1 Nov 16:01 UTC: inside, on the 2nd
    event(local(2, 0, 5), V, kadjar, visit="a")
    event(local(2, 10), V, mache, visit="b")
    event(local(3, 9), V, focus, visit="c")
    event(local(3, 9, 5), V, kadjar, visit="c")
    event(local(4, 12), V, kadjar, visit="d")
    event(local(4, 13), V, mache, visit="e")
    event(local(5, 20), V, kadjar, visit="f")  # 8 views, 6 visits
    event(local(2, 0, 10), Q, kadjar, visit="a", finance_kind="loan", term_months=36)
    event(local(3, 9, 10), Q, kadjar, visit="c", finance_kind="lease_to_own", term_months=12)
    event(local(4, 12, 10), Q, kadjar, visit="d", finance_kind="loan", term_months=24)
    event(local(4, 13, 10), Q, mache, visit="e", finance_kind="full_payment")  # 4 quotes
    event(local(2, 11), T, kadjar, sh1, visit="a", kind="showroom")
    event(local(3, 10), T, kadjar, sh2, visit="c", kind="showroom")
    event(local(4, 14), T, mache, bj1, visit="e", kind="showroom")  # 3 test drives
    event(local(3, 11), R, kadjar, sh1, visit="c", deposit_cny=Decimal("5000.00"))
    event(local(4, 15), R, mache, bj1, visit="e", deposit_cny=Decimal("2000.00"))  # 2 reservations
    event(local(3, 11, 5), P, kadjar, sh1, deposit_cny=Decimal("5000.00"))  # 1 payment
    event(local(8, 23, 59), K, kadjar, sh1)  # 1 pick-up, last minute of the period
    event(local(9, 0, 0), K, mache, bj1)  # 9 Nov 00:00 Shanghai: outside
    monkeypatch.undo()
    return catalog


def test_funnel_counts_visits_and_conversion(db, history):
    rows = {r.step: r for r in queries.funnel(db, PERIOD)}
    assert [(rows[s].events, rows[s].visits) for s in (V, Q, T, R, P, K)] == [
        (8, 6), (4, 4), (3, 3), (2, 2), (1, 1), (1, 1)]
    assert rows[V].conversion is None
    assert rows[Q].conversion == Decimal("50.0")  # 4 / 8
    assert rows[T].conversion == Decimal("75.0")  # 3 / 4
    assert rows[R].conversion == Decimal("66.7")  # 2 / 3
    assert rows[P].conversion == Decimal("50.0")
    assert rows[K].conversion == Decimal("100.0")


def test_days_are_shanghai_days(db, history):
    series = queries.daily(db, PERIOD)
    assert list(series) == PERIOD.days
    assert series[dt.date(2026, 11, 2)][V] == 3  # incl. 00:01 and 00:05, which are 1 Nov in UTC
    assert series[dt.date(2026, 11, 3)][V] == 2
    assert series[dt.date(2026, 11, 8)][K] == 1
    assert sum(day[V] for day in series.values()) == 8
    assert series[dt.date(2026, 11, 6)] == dict.fromkeys(queries.FUNNEL, 0)


def test_places(db, history):
    cities = [(c.name_en, c.test_drives, c.reservations) for c in queries.by_city(db, PERIOD)]
    assert cities == [("Shanghai", 2, 1), ("Beijing", 1, 1)]
    showrooms = [(d.name_en, d.test_drives, d.reservations) for d in queries.by_showroom(db, PERIOD)]
    assert showrooms == [("Shanghai One", 1, 1), ("Beijing One", 1, 1), ("Shanghai Two", 1, 0)]
    car_models = [(m.name_en, m.test_drives, m.reservations) for m in queries.by_model(db, PERIOD)]
    assert car_models == [("Kadjar", 2, 1), ("Mustang Mach-E", 1, 1)]


def test_quote_mix(db, history):
    assert queries.quote_mix(db, PERIOD) == [("loan", 2), ("full_payment", 1), ("lease_to_own", 1)]


def _payment(db, n, *, purpose=PaymentPurpose.RESERVATION_DEPOSIT, amount="5000.00", paid=None, refunded=None,
             refunded_amount="0"):
    payment = Payment(purpose=purpose, subject_id=n, provider=PaymentProvider.DEMO, amount=Decimal(amount),
                      status=PaymentStatus.PAID if paid else PaymentStatus.PENDING, idempotency_key=f"k{n}",
                      expires_at=local(1, 0), paid_at=paid, refunded_at=refunded,
                      refunded_amount=Decimal(refunded_amount))
    if refunded:
        payment.status = PaymentStatus.REFUNDED
    db.add(payment)
    db.flush()


def test_deposits_collected_and_refunded(db, catalog):
    _payment(db, 1, paid=local(3, 11))
    _payment(db, 2, paid=local(4, 9), refunded=local(6, 10), refunded_amount="5000.00")
    _payment(db, 3, amount="2000.00", paid=local(1, 9), refunded=local(2, 9), refunded_amount="2000.00")
    _payment(db, 4, purpose=PaymentPurpose.TEST_DRIVE_DEPOSIT, amount="3000.00", paid=local(5, 9))
    _payment(db, 5)  # never paid
    _payment(db, 6, paid=local(9, 0))  # after the period
    rows = {r.purpose: r for r in queries.deposits(db, PERIOD)}
    reservation = rows["reservation_deposit"]
    assert (reservation.paid_count, reservation.collected) == (2, Decimal("10000.00"))
    assert (reservation.refunded_count, reservation.refunded) == (2, Decimal("7000.00"))
    assert reservation.net == Decimal("3000.00")
    drive = rows["test_drive_deposit"]
    assert (drive.paid_count, drive.collected, drive.refunded) == (1, Decimal("3000.00"), Decimal("0.00"))


def test_slot_utilisation(db, catalog):
    sh1, sh2, _bj1 = catalog.dealers
    kadjar, mache, _focus = catalog.car_models
    hours = {day: ["09:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    db.add_all([
        TestDriveSchedule(dealer_id=sh1.id, weekly_hours=hours, slot_minutes=45),  # 12 slots a day
        TestDriveSchedule(dealer_id=sh2.id, weekly_hours={**hours, "sun": None}, slot_minutes=60),  # 9 a day
        TestDriveFleet(dealer_id=sh1.id, car_model_id=kadjar.id, demo_cars=2),
        TestDriveFleet(dealer_id=sh1.id, car_model_id=mache.id, demo_cars=1),
        TestDriveFleet(dealer_id=sh2.id, car_model_id=kadjar.id, demo_cars=1),
        TestDriveException(dealer_id=sh1.id, day=dt.date(2026, 11, 12), closed=True),
        TestDriveSlot(dealer_id=sh1.id, car_model_id=kadjar.id, starts_at=local(10, 9), ends_at=local(10, 9, 45),
                      capacity=2, booked=2),
        TestDriveSlot(dealer_id=sh1.id, car_model_id=mache.id, starts_at=local(24, 9), ends_at=local(24, 9, 45),
                      capacity=1, booked=1),  # the 15th day: outside the window
    ])
    db.flush()
    result = queries.utilisation(db, dt.date(2026, 11, 10), days=14)  # Tue 10 Nov .. Mon 23 Nov
    rows = {r.dealer_id: r for r in result.rows}
    assert rows[sh1.id].offered == 13 * 12 * 3 and rows[sh1.id].booked == 2  # one closed day
    assert rows[sh2.id].offered == 12 * 9 * 1 and rows[sh2.id].booked == 0  # two Sundays closed
    assert rows[sh1.id].percent == Decimal("0.4")  # 2 / 468
    assert (result.offered, result.booked, result.percent) == (576, 2, Decimal("0.3"))  # 0.347 %



def test_dashboard_shows_the_figures(client, login_as, staff_user, history):
    login_as(staff_user)
    response = client.get("/staff/insights/?start=2026-11-02&end=2026-11-08", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-kpi="view">8<' in html and 'data-kpi="quote">4<' in html and 'data-kpi="pickup">1<' in html
    assert '<td class="num">66.7%</td>' in html
    assert 'id="insights-data"' in html and "chart-4.6.1.umd.min.js" in html and "js/insights.js" in html
    assert "<script>" not in html  # CSP: no inline script; the chart data is a JSON block
    assert "Shanghai One" in html and "Lease-to-own (10 per cent down)" in html


@pytest.mark.parametrize(("query", "message"), [
    ("start=2026-11-08&end=2026-11-01", "start date is after the end date"),
    ("start=2024-01-01&end=2026-01-01", "at most 366 days"),
    ("start=2026-13-01&end=2026-11-01", "YYYY-MM-DD"),
    ("start=yesterday", "YYYY-MM-DD"),
])
def test_bad_ranges_get_a_clear_message(client, login_as, staff_user, query, message):
    login_as(staff_user)
    response = client.get(f"/staff/insights/?{query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    export = client.get(f"/staff/insights/export.csv?{query}")
    assert export.status_code == 422 and message in export.get_data(as_text=True)


def test_a_full_year_is_fine(client, login_as, staff_user, history):
    login_as(staff_user)
    assert client.get("/staff/insights/?start=2025-11-09&end=2026-11-09").status_code == 200


def test_default_period_is_the_last_four_weeks_or_the_latest_history(db, history):
    assert queries.default_period(db, dt.date(2026, 11, 20)) == queries.Period(dt.date(2026, 10, 24),
                                                                               dt.date(2026, 11, 20))
    # A demo database opened months later still shows its history.
    assert queries.default_period(db, dt.date(2027, 3, 1)) == queries.Period(dt.date(2026, 10, 13),
                                                                             dt.date(2026, 11, 9))


def test_csv_export(client, login_as, staff_user, history):
    login_as(staff_user)
    response = client.get("/staff/insights/export.csv?start=2026-11-02&end=2026-11-08")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="insights-2026-11-02-2026-11-08.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    value = {(r["section"], r["item"], r["metric"]): r["value"] for r in rows}
    assert value[("funnel", "view", "events")] == "8"
    assert value[("funnel", "view", "visits")] == "6"
    assert value[("funnel", "reserve", "conversion_pct")] == "66.7"
    assert value[("cities", "Shanghai", "test_drives")] == "2"
    assert value[("showrooms", "Beijing One", "reservations")] == "1"
    assert value[("models", "Kadjar", "reservations")] == "1"
    assert value[("quote_mix", "loan", "quotes")] == "2"
    assert value[("period", "start", "date")] == "2026-11-02"
    assert next(r for r in rows if r["item"] == "Shanghai")["item_zh"] == "上海"


def test_query_count_does_not_grow_with_data_or_period(client, login_as, staff_user, history, count_queries, db):
    login_as(staff_user)
    client.get("/staff/insights/?start=2026-11-02&end=2026-11-08")  # warm-up (templates)
    with count_queries() as week:
        assert client.get("/staff/insights/?start=2026-11-02&end=2026-11-08").status_code == 200
    for n in range(200):
        record_event(db, V, car_model_id=history.car_models[n % 3].id, visit_key=f"v{n}")
        record_event(db, R, car_model_id=history.car_models[n % 3].id, dealer_id=history.dealers[n % 3].id,
                     city_id=history.dealers[n % 3].city_id)
    with count_queries() as year:
        assert client.get("/staff/insights/?start=2025-11-09&end=2026-11-08").status_code == 200
    assert week.count == year.count
    assert week.count <= 16


@pytest.mark.parametrize("path", ["/staff/insights/", "/staff/insights/export.csv"])
def test_staff_only(client, login_as, customer, admin_user, app, path):
    if "accounts.login" in app.view_functions:
        assert client.get(path).status_code == 302
    login_as(customer)
    assert client.get(path).status_code == 403
    login_as(admin_user)
    assert client.get(path).status_code == 200


def test_dashboard_without_any_data(client, login_as, staff_user):
    login_as(staff_user)
    response = client.get("/staff/insights/")
    assert response.status_code == 200
    assert "No quotes in this period." in response.get_data(as_text=True)


def test_the_seeded_history_follows_the_store_clock_so_the_default_weeks_are_full(db, catalog):
    from storefront.demo.seed import DAYS, seed_demo_history

    today = clock.local_now().date()
    assert seed_demo_history(db).events > 0
    period = queries.default_period(db, today)
    assert period.end == today
    series = queries.daily(db, period)
    yesterday = today - dt.timedelta(days=1)
    assert sum(series[yesterday].values()) > 0  # no empty tail on the day of a demo
    assert sum(series[period.start].values()) > 0 and period.start >= today - dt.timedelta(days=DAYS)
