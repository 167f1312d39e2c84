"""The guided stakeholder tour: six steps of the New Retail journey, its state in the session, its links.

The tour's position lives in the signed session cookie ({"step": 3, "skipped": [2]}), so the tour bar costs
no query. A step points at another area's page by endpoint name; while an area has not landed its step is
shown as "not available yet" and can be skipped, so the tour never breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, session, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CarModel, Trim

SESSION_KEY = "demo_tour"
TOUR_BRAND = "renault"
TOUR_MODEL = "koleos"


@dataclass(frozen=True)
class TourStep:
    key: str
    title: Any  # lazy string
    hint: Any
    endpoints: tuple[str, ...]  # the first one the app has is used
    role: str  # who is signed in for this step: "customer" or "staff"


STEPS: tuple[TourStep, ...] = (
    TourStep("brand", _l("Browse the Renault flagship"),
             _l("The brand's own store inside the marketplace: models, prices and campaigns in one hall."),
             ("catalog.brand",), "customer"),
    TourStep("model", _l("Open a Koleos"),
             _l("Trims, guide prices, the Alibaba in-car system, and which showrooms have one in stock."),
             ("catalog.model_detail",), "customer"),
    TourStep("test_drive", _l("Book a test drive"),
             _l("Pick a Shanghai showroom, a day and a free slot; the confirmation carries a calendar file."),
             ("test_drives.book",), "customer"),
    TourStep("quote", _l("Build a lease-to-own quote"),
             _l("A tenth down, twelve monthly rents, then buy, keep renting or return: compare it with a loan."),
             ("finance.quote",), "customer"),
    TourStep("reserve", _l("Reserve online"),
             _l("Hold a car at a Shanghai showroom and pay with the demo provider: no money moves."),
             ("reservations.choose",), "customer"),
    TourStep("pickup", _l("Switch to staff and mark it picked up"),
             _l("Now as showroom staff: find the reservation and hand the car over."),
             ("reservations_staff.index", "reservations_staff.list", "reservations_staff.reservations"), "staff"),
)
TOTAL = len(STEPS)


def state() -> dict[str, Any] | None:
    """The tour in this session, or None; tolerant of a stale or tampered-looking value."""
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, dict) or not isinstance(raw.get("step"), int) or not 1 <= raw["step"] <= TOTAL:
        return None
    skipped = [n for n in raw.get("skipped", []) if isinstance(n, int) and 1 <= n <= TOTAL]
    return {"step": raw["step"], "skipped": skipped}


def save(step: int, skipped: list[int]) -> None:
    session[SESSION_KEY] = {"step": step, "skipped": sorted(set(skipped))}


def end() -> None:
    session.pop(SESSION_KEY, None)


def endpoint_for(step: TourStep) -> str | None:
    return next((e for e in step.endpoints if e in current_app.view_functions), None)


def step_url(db_session: Session, step: TourStep) -> str | None:
    """Where a step happens; None while its area is not built yet (or the seeded Koleos is missing)."""
    endpoint = endpoint_for(step)
    if endpoint is None:
        return None
    if step.key == "brand":
        return url_for(endpoint, slug=TOUR_BRAND)
    if step.key == "model":
        return url_for(endpoint, slug=TOUR_MODEL)
    if step.key == "reserve":
        return url_for(endpoint, model_slug=TOUR_MODEL)
    if step.key == "pickup":
        return url_for(endpoint)
    model_id = db_session.scalar(select(CarModel.id).where(CarModel.slug == TOUR_MODEL))
    if model_id is None:
        return None
    if step.key == "test_drive":
        return url_for(endpoint, model_id=model_id)
    # The quote opens on the Koleos' entry trim with the lease-to-own product chosen.
    trim = db_session.scalar(
        select(Trim).where(Trim.car_model_id == model_id, Trim.is_active.is_(True)).order_by(Trim.msrp_cny).limit(1)
    )
    if trim is None:
        return None
    product_id = _lease_to_own_product_id(db_session, brand_id=trim.car_model.brand_id)
    return url_for(endpoint, trim_id=trim.id, product=product_id) if product_id else url_for(endpoint, trim_id=trim.id)


def _lease_to_own_product_id(db_session: Session, *, brand_id: int) -> int | None:
    from models.finance import FinanceKind  # the finance area, imported when the tour needs it
    from storefront.clock import now
    from storefront.finance.services import offered_products

    products = offered_products(db_session, brand_id=brand_id, at=now())
    return next((p.id for p in products if p.kind is FinanceKind.LEASE_TO_OWN), None)


def bar_context() -> dict[str, Any] | None:
    """What the tour bar shows on every page while a tour runs (session only, no query)."""
    current = state()
    if current is None:
        return None
    number = current["step"]
    step = STEPS[number - 1]
    return {
        "number": number,
        "total": TOTAL,
        "step": step,
        "available": endpoint_for(step) is not None,
        "skipped": current["skipped"],
        "steps": STEPS,
        "is_last": number == TOTAL,
    }
