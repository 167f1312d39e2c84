"""Four weeks of believable funnel history, so the insights dashboard tells a story on a fresh start.

The history follows the store clock: it ends the day before the store's today when it is seeded, so the
dashboard's default four weeks are full of data on the day of a demo (a fixed end date left the last weeks
empty once the calendar moved on). Deterministic per day: a fixed random seed, so every reset on the same day
writes byte-identical rows. Idempotent: seeded events carry
a visit key starting with "seed", and nothing is written when such events exist. Events only: no personal
data, no reservations, payments or bookings (those belong to their areas).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from models import CarModel, Dealer, Event, FunnelStep
from storefront.clock import STORE_TZ, local_now

DAYS = 28
SEED = 20180307  # Renault and Tmall signed their New Retail pact on 7 March 2018
VISIT_PREFIX = "seed"

# Share of visits that go on to each step (the shape of a car funnel: few visits end in a deposit).
QUOTE_RATE = 0.11
TEST_DRIVE_RATE = 0.065
RESERVE_RATE = 0.022
PAY_RATE = 0.82  # of reservations
PICKUP_RATE = 0.7  # of payments, within the history
CITY_WEIGHTS = {"shanghai": 30, "beijing": 26, "guangzhou": 14, "shenzhen": 12, "hangzhou": 8, "chengdu": 5,
                "wuhan": 3, "nanjing": 2}
FINANCE_MIX = (("loan", 44), ("lease_to_own", 27), ("full_payment", 19), ("operating_lease", 10))
TERMS = {"loan": (24, 36, 36, 60), "lease_to_own": (12,), "full_payment": (0,), "operating_lease": (24, 36)}


@dataclass(frozen=True)
class HistoryReport:
    events: int
    visits: int

    def __str__(self) -> str:
        return f"demo history: {self.events} events from {self.visits} visits" if self.events else \
            "demo history: already there"


def seed_demo_history(session: Session, *, anchor: dt.date | None = None) -> HistoryReport:
    """Seed the DAYS days before `anchor` (default: the store's today, Shanghai)."""
    anchor = anchor or local_now().date()
    if session.scalar(select(Event.id).where(Event.visit_key.like(f"{VISIT_PREFIX}%")).limit(1)) is not None:
        return HistoryReport(0, 0)
    car_models = list(session.scalars(
        select(CarModel).where(CarModel.is_active.is_(True)).options(selectinload(CarModel.brand))
        .order_by(CarModel.id)
    ))
    dealers = list(session.scalars(
        select(Dealer).where(Dealer.is_active.is_(True)).options(selectinload(Dealer.city)).order_by(Dealer.id)
    ))
    if not car_models or not dealers:
        return HistoryReport(0, 0)
    rows, visits = _history(car_models, dealers, anchor)
    order = {step: index for index, step in enumerate(FunnelStep)}
    rows.sort(key=lambda row: (row["occurred_at"], row["visit_key"], order[row["step"]]))  # ids follow time
    session.execute(insert(Event.metadata.tables[Event.__tablename__]), rows)
    session.flush()
    return HistoryReport(len(rows), visits)


def _history(car_models: list[CarModel], dealers: list[Dealer], anchor: dt.date) -> tuple[list[dict[str, Any]], int]:
    rng = random.Random(SEED)
    model_weights = list(itertools.accumulate(max(m.popularity, 5) ** 2 for m in car_models))
    cities = sorted({d.city for d in dealers}, key=lambda c: c.id)
    city_weights = list(itertools.accumulate(CITY_WEIGHTS.get(c.slug, 2) for c in cities))
    dealers_in = {c.id: [d for d in dealers if d.city_id == c.id] for c in cities}
    deposits = {m.id: _deposit(m) for m in car_models}
    rows: list[dict[str, Any]] = []
    visits = 0
    first_day = anchor - dt.timedelta(days=DAYS)
    for offset in range(DAYS):
        day = first_day + dt.timedelta(days=offset)
        weekend = day.weekday() >= 5
        growth = 1 + offset / (DAYS * 2.5)  # a campaign that is slowly working
        for _ in range(round(rng.gauss(150 if weekend else 105, 12) * growth)):
            visits += 1
            key = f"{VISIT_PREFIX}{rng.getrandbits(48):012x}"
            car_model = rng.choices(car_models, cum_weights=model_weights)[0]
            city = rng.choices(cities, cum_weights=city_weights)[0]
            dealer = rng.choice(dealers_in[city.id])
            at = _moment(rng, day)
            chosen_city = city.id if rng.random() < 0.4 else None  # most shoppers never pick a city on the page

            base = {"car_model_id": car_model.id, "dealer_id": None, "city_id": chosen_city, "visit_key": key}
            at_showroom = {**base, "dealer_id": dealer.id, "city_id": city.id}
            for _view in range(rng.choice((1, 1, 1, 2, 2, 3))):
                at += dt.timedelta(minutes=rng.randint(1, 9))
                rows.append(_row(FunnelStep.VIEW, at, base))
            if rng.random() < QUOTE_RATE:
                at += dt.timedelta(minutes=rng.randint(2, 15))
                kind = rng.choices([k for k, _ in FINANCE_MIX], [w for _, w in FINANCE_MIX])[0]
                rows.append(_row(FunnelStep.QUOTE, at, base, finance_kind=kind, term_months=rng.choice(TERMS[kind])))
            if rng.random() < TEST_DRIVE_RATE:
                at += dt.timedelta(minutes=rng.randint(3, 30))
                if dealer.has_self_service_kiosk and rng.random() < 0.3:
                    rows.append(_row(FunnelStep.TEST_DRIVE, at, at_showroom, kind="self_service",
                                     days=rng.choice((1, 3))))
                else:
                    rows.append(_row(FunnelStep.TEST_DRIVE, at, at_showroom, kind="showroom"))
            if rng.random() < RESERVE_RATE:
                at += dt.timedelta(minutes=rng.randint(5, 60))
                deposit = deposits[car_model.id]
                rows.append(_row(FunnelStep.RESERVE, at, at_showroom, deposit_cny=deposit))
                if rng.random() < PAY_RATE:
                    # Payment confirmations and pick-ups happen away from the shopper's browser: no visit key.
                    paid = at + dt.timedelta(minutes=rng.randint(1, 25))
                    rows.append(_row(FunnelStep.PAY, paid, {**at_showroom, "visit_key": ""}, deposit_cny=deposit))
                    pickup = at + dt.timedelta(days=rng.randint(2, 9), hours=rng.randint(0, 5))
                    if rng.random() < PICKUP_RATE and pickup.astimezone(STORE_TZ).date() < anchor:
                        rows.append(_row(FunnelStep.PICKUP, pickup, {**at_showroom, "visit_key": ""}))
    return rows, visits


def _row(step: FunnelStep, when: dt.datetime, where: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"step": step, "occurred_at": when, **where, "props": {k: str(v) for k, v in props.items()}}


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    """A time of day people shop for cars: lunch breaks and evenings, in Shanghai time, stored UTC."""
    hour = rng.choices(range(8, 23), [1, 2, 3, 3, 5, 5, 3, 3, 3, 3, 4, 6, 7, 6, 3])[0]
    local = dt.datetime.combine(day, dt.time(hour, rng.randint(0, 59), rng.randint(0, 59)), tzinfo=STORE_TZ)
    return local.astimezone(dt.UTC)


def _deposit(car_model: CarModel) -> Decimal:
    """The reservations area's default deposit for this kind of car (the amounts shoppers see)."""
    try:
        from storefront.reservations.seed import default_terms
    except ImportError:  # the reservations area has not landed: its published defaults
        if car_model.brand.slug == "lincoln":
            return Decimal("20000.00")
        return Decimal("2000.00") if car_model.powertrain.is_new_energy else Decimal("5000.00")
    return default_terms(car_model)[0]
