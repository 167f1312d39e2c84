"""Races from outside (issue 11 rows 1 and 6): the same booking or reservation changed by concurrent requests.

A store with production settings (gunicorn, 2 workers, PostgreSQL, Redis, Stripe pointed at a local fake) is
driven over HTTP. Every race runs ROUNDS rounds; each round checks the winners and the 409s, that no request
got a 5xx, that every slot's counter equals the bookings holding a place in it, and that the mail and the audit
row of a change were written once. `-s` prints the figures of each race.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

import models
from models import BookingStatus, ReservationStatus, TestDriveBooking, TestDriveSlot, VehicleStatus
from tests.system.conftest import Browser, LiveStore, Page, at_once

ROUNDS = 10
SHANGHAI = ZoneInfo("Asia/Shanghai")
CAP = 3  # the README: at most three live reservations per shopper


# --- a store whose payments go to a local fake Stripe ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[str]:
    """A local stand-in for Stripe's API (Checkout Sessions, refunds, expiry): loopback only."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    sessions = iter(range(1, 1_000_000))

    def checkout(request: Request) -> Response:
        fields = request.form
        session_id = f"cs_race_{next(sessions):06d}"
        body = {"id": session_id, "object": "checkout.session", "url": f"https://checkout.stripe.test/c/{session_id}",
                "expires_at": int(fields["expires_at"]), "status": "open", "payment_status": "unpaid",
                "amount_total": int(fields["line_items[0][price_data][unit_amount]"]), "currency": "cny"}
        return Response(json.dumps(body), status=200, content_type="application/json")

    server.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(checkout)
    server.expect_request(re.compile(r"^/v1/checkout/sessions/[^/]+/expire$"), method="POST").respond_with_json(
        {"id": "cs_expired", "object": "checkout.session", "status": "expired"})
    server.start()
    try:
        yield server.url_for("").rstrip("/")
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def store(_store_starter: Callable[..., LiveStore], fake_stripe: str) -> LiveStore:
    return _store_starter(workers=2, STRIPE_SECRET_KEY="sk_test_race", STRIPE_WEBHOOK_SECRET="whsec_race",
                          STRIPE_API_BASE=fake_stripe)


# --- test drives ----------------------------------------------------------------------------------------------------


@dataclass
class Showroom:
    """A showroom of our own (2 demo cars of one model, open 09:00-18:00 every day) and the people who use it."""

    store: LiveStore
    dealer_id: int
    model_id: int
    shopper: Browser
    shopper_twin: Browser  # the same signed-in session on a second connection: a double click
    filler: Browser  # another shopper in the same slot, so a counter given back twice shows
    staff: Browser
    tokens: dict[int, str]

    def token(self, browser: Browser) -> str:
        if id(browser) not in self.tokens:
            self.tokens[id(browser)] = browser.csrf_token("/test-drives/mine")
        return self.tokens[id(browser)]

    def post(self, browser: Browser, path: str, data: dict[str, Any]) -> int:
        page = browser.post(path, {**data, "csrf_token": self.token(browser)}, csrf_from="/test-drives/mine")
        return _answer(page)

    def book(self, browser: Browser, starts_at: dt.datetime) -> str:
        page = browser.post(f"/test-drives/book/{self.model_id}", {
            "dealer_id": str(self.dealer_id), "starts_at": starts_at.isoformat(), "contact_name": "Race Driver",
            "mobile": "13800138000", "licence_confirmed": "y", "csrf_token": self.token(browser),
        }, csrf_from="/test-drives/mine")
        assert page.status == 302, (page.status, re.findall(r"(?:error|alert)[^>]*>([^<]+)<", page.text))
        return page.response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]

    def cancel(self, browser: Browser, reference: str) -> int:
        return self.post(browser, f"/test-drives/bookings/{reference}/cancel", {})


    def staff_cancel(self, reference: str) -> int:
        return self.post(self.staff, f"/staff/test-drives/bookings/{reference}/cancel", {"reason": "race"})

    def reschedule(self, browser: Browser, reference: str, starts_at: dt.datetime, sequence: int) -> int:
        return self.post(browser, f"/test-drives/bookings/{reference}/reschedule",
                         {"starts_at": starts_at.isoformat(), "sequence": str(sequence)})


def _answer(page: Page) -> int:
    """The status, after making sure a redirect is the page's own answer and not a bounce to the sign-in page."""
    assert not (page.status in (302, 303) and "/account/login" in page.response.headers.get("Location", "")), \
        "the browser was signed out"
    return page.status


def _twin(browser: Browser) -> Browser:
    """The same browser on a second connection (same cookies, address and user agent): a second tab or click."""
    twin = Browser(browser.store, browser.address)
    twin.http.headers["User-Agent"] = browser.http.headers["User-Agent"]
    twin.http.cookies.update(browser.http.cookies)
    return twin


@pytest.fixture(scope="module")
def showroom(store: LiveStore) -> Showroom:
    code = f"RACE-{uuid.uuid4().hex[:6].upper()}"
    with store.db() as session:
        city = session.scalar(sa.select(models.City).order_by(models.City.id))
        car_model = session.scalar(sa.select(models.CarModel).where(models.CarModel.is_active.is_(True))
                                   .order_by(models.CarModel.id))
        assert city is not None and car_model is not None
        dealer = models.Dealer(code=code, name_en="Race Showroom", name_zh="竞速展厅", city_id=city.id,
                               opening_hours={d: ["09:00", "18:00"] for d in
                                              ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
        session.add(dealer)
        session.flush()
        session.add(models.TestDriveFleet(dealer_id=dealer.id, car_model_id=car_model.id, demo_cars=2))
        dealer_id, model_id = dealer.id, car_model.id
    shopper = store.browser().sign_in(store.new_user().email)
    twin = _twin(shopper)
    assert twin.get("/test-drives/mine").status == 200  # signed in as the shopper too
    filler = store.browser().sign_in(store.new_user().email)
    staff = store.browser().sign_in(store.new_user(role=models.Role.STAFF, dealer_codes=(code,)).email)
    return Showroom(store, dealer_id, model_id, shopper, twin, filler, staff, {})


def _at(round_no: int, hour: int, first_day: int) -> dt.datetime:
    """`hour` (9, 12 or 15: slots start every 45 minutes from 09:00) `first_day + round_no` days ahead, Beijing time."""
    day = dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=first_day + round_no)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI)


def _wrong_counters(store: LiveStore, dealer_id: int) -> list[tuple[int, int, int]]:
    """(slot, booked, bookings holding a place) of every slot of the showroom whose counter is wrong."""
    holding = sa.func.count(TestDriveBooking.id).filter(
        TestDriveBooking.status.not_in([BookingStatus.CANCELLED, BookingStatus.EXPIRED]))
    with store.db() as session:
        rows = session.execute(
            sa.select(TestDriveSlot.id, TestDriveSlot.booked, holding)
            .outerjoin(TestDriveBooking, TestDriveBooking.slot_id == TestDriveSlot.id)
            .where(TestDriveSlot.dealer_id == dealer_id).group_by(TestDriveSlot.id, TestDriveSlot.booked)
        ).all()
    return [(slot, booked, held) for slot, booked, held in rows if booked != held]


def _written(store: LiveStore, reference: str, mail_kind: str) -> tuple[int, int]:
    """(mails of this kind about the booking, audit rows of the booking)."""
    with store.db() as session:
        mails = session.scalar(sa.select(sa.func.count(models.OutboxMessage.id)).where(
            models.OutboxMessage.kind == f"test_drives/{mail_kind}",
            models.OutboxMessage.body_text.contains(reference)))
        audits = session.scalar(sa.select(sa.func.count(models.AuditLog.id)).where(
            models.AuditLog.entity_id == reference))
    return int(mails or 0), int(audits or 0)


@dataclass
class Tally:
    """The figures of one race over its rounds."""

    name: str
    statuses: collections.Counter[int]
    rounds: int = 0

    def add(self, statuses: list[int]) -> None:
        self.rounds += 1
        self.statuses.update(statuses)
        assert not [s for s in statuses if s >= 500], statuses

    def report(self) -> str:
        return (f"{self.name}: {self.rounds} rounds, answers {dict(sorted(self.statuses.items()))}, "
                f"5xx {sum(n for s, n in self.statuses.items() if s >= 500)}")


@pytest.mark.parametrize("second", ["shopper", "staff"])
def test_cancelling_one_booking_twice_at_once(showroom: Showroom, second: str) -> None:
    """A double click on Cancel, or the shopper and the showroom at once: one cancel, one 409, one mail."""
    tally = Tally(f"cancel shopper+{second}", collections.Counter())
    first_day = 2 if second == "shopper" else 2 + ROUNDS
    for round_no in range(ROUNDS):
        starts_at = _at(round_no, 12, first_day)
        mine = showroom.book(showroom.shopper, starts_at)
        other = showroom.book(showroom.filler, starts_at)  # the slot now holds 2 of 2
        racers: list[Callable[[], int]] = [partial(showroom.cancel, showroom.shopper, mine)]
        if second == "shopper":
            racers.append(partial(showroom.cancel, showroom.shopper_twin, mine))
        else:
            racers.append(partial(showroom.staff_cancel, mine))
        statuses = at_once(racers)
        tally.add(statuses)
        assert sorted(statuses) == [302, 409], statuses
        assert _wrong_counters(showroom.store, showroom.dealer_id) == []
        mails, audits = _written(showroom.store, mine, "cancelled")
        staff_won = second == "staff" and statuses[1] == 302
        assert (mails, audits) == (1, 1 if staff_won else 0)
        assert showroom.cancel(showroom.filler, other) == 302
    print("\n" + tally.report() + ", counters == bookings holding a place after every round")


def test_rescheduling_one_booking_to_two_slots_at_once(showroom: Showroom) -> None:
    """Two tabs move the same drive to two different times at once: it moves once, the other tab gets 409."""
    tally = Tally("reschedule to two slots", collections.Counter())
    first_day = 2 + 2 * ROUNDS
    for round_no in range(ROUNDS):
        mine = showroom.book(showroom.shopper, _at(round_no, 9, first_day))
        other = showroom.book(showroom.filler, _at(round_no, 9, first_day))
        targets = [_at(round_no, 12, first_day), _at(round_no, 15, first_day)]
        statuses = at_once([partial(showroom.reschedule, showroom.shopper, mine, targets[0], 0),
                            partial(showroom.reschedule, showroom.shopper_twin, mine, targets[1], 0)])
        tally.add(statuses)
        assert sorted(statuses) == [302, 409], statuses
        assert _wrong_counters(showroom.store, showroom.dealer_id) == []
        with showroom.store.db() as session:
            booking = session.scalar(sa.select(TestDriveBooking).where(TestDriveBooking.reference == mine))
            assert booking is not None and booking.sequence == 1
            assert booking.starts_at == targets[statuses.index(302)]
        assert _written(showroom.store, mine, "rescheduled") == (1, 0)
        assert showroom.cancel(showroom.shopper, mine) == 302
        assert showroom.cancel(showroom.filler, other) == 302
    print("\n" + tally.report() + ", counters == bookings holding a place after every round")


# --- reservations ---------------------------------------------------------------------------------------------------


def test_ten_reserve_forms_from_one_shopper_at_once_hold_three_cars(store: LiveStore) -> None:
    """Ten review pages opened, then all ten submitted at once: three holds, seven 409s, every round."""
    with store.db() as session:
        cars = list(session.scalars(
            sa.select(models.Vehicle.id)
            .join(models.Trim, models.Trim.id == models.Vehicle.trim_id)
            .join(models.DepositPolicy, models.DepositPolicy.car_model_id == models.Trim.car_model_id)
            .where(models.Vehicle.status == VehicleStatus.IN_STOCK, models.DepositPolicy.is_active.is_(True))
            .order_by(models.Vehicle.id).limit(10)))
    assert len(cars) == 10
    user = store.new_user()
    shopper = store.browser().sign_in(user.email)
    token = shopper.csrf_token("/reservations/mine")
    tabs = [shopper] + [_twin(shopper) for _ in range(9)]
    tally = Tally("10 reserve forms, one shopper", collections.Counter())
    for _round in range(ROUNDS):
        forms = [{"vehicle_id": str(car), "idempotency_key": uuid.uuid4().hex, "accept_terms": "y",
                  "csrf_token": token} for car in cars]
        statuses = at_once([lambda tab=tab, form=form: _answer(tab.post("/reservations/", form,
                                                                         csrf_from="/reservations/mine"))
                            for tab, form in zip(tabs, forms, strict=True)])
        tally.add(statuses)
        assert collections.Counter(statuses) == {303: CAP, 409: 10 - CAP}, statuses
        with store.db() as session:
            live = session.scalar(sa.select(sa.func.count(models.Reservation.id)).where(
                models.Reservation.user_id == user.id,
                models.Reservation.status.in_([ReservationStatus.PENDING_PAYMENT, ReservationStatus.CONFIRMED])))
            held = session.scalar(sa.select(sa.func.count(models.Vehicle.id)).where(
                models.Vehicle.id.in_(cars), models.Vehicle.status == VehicleStatus.ON_HOLD))
            assert live == held == CAP
            # Next round: the shopper lets the holds go (as the expiry sweep would) and the cars are free again.
            session.execute(sa.update(models.Reservation).where(models.Reservation.user_id == user.id)
                            .values(status=ReservationStatus.CANCELLED))
            session.execute(sa.update(models.Vehicle).where(models.Vehicle.id.in_(cars))
                            .values(status=VehicleStatus.IN_STOCK))
    print("\n" + tally.report() + f", live reservations == cars on hold == {CAP} after every round")
