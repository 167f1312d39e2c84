"""Default deposit policies per car model (idempotent: a model that already has a policy keeps it)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import CarModel, DepositKind, DepositPolicy, Powertrain

# (amount, kind, refund window in days, credit towards the price). Chosen to show each kind of term:
# the usual refundable 订金, Lincoln's binding 定金 with a one-day cooling-off, and an EV launch offer where a
# small binding deposit counts double at pick-up (定金膨胀).
STANDARD = (Decimal("5000.00"), DepositKind.REFUNDABLE, 0, Decimal("5000.00"))
LUXURY = (Decimal("20000.00"), DepositKind.BINDING, 1, Decimal("20000.00"))
NEW_ENERGY = (Decimal("2000.00"), DepositKind.BINDING, 0, Decimal("4000.00"))


def default_terms(car_model: CarModel) -> tuple[Decimal, DepositKind, int, Decimal]:
    if car_model.brand.slug == "lincoln":
        return LUXURY
    if car_model.powertrain in (Powertrain.BEV, Powertrain.PHEV):
        return NEW_ENERGY
    return STANDARD


def seed_deposit_policies(session: Session) -> str:
    """Give every car model without a deposit policy the default one for its kind."""
    have = set(session.scalars(select(DepositPolicy.car_model_id)))
    added = 0
    for car_model in session.scalars(select(CarModel).options(selectinload(CarModel.brand)).order_by(CarModel.id)):
        if car_model.id in have:
            continue
        amount, kind, window, credit = default_terms(car_model)
        session.add(DepositPolicy(car_model_id=car_model.id, amount=amount, kind=kind, refund_window_days=window,
                                  price_credit=credit, is_active=True))
        added += 1
    session.flush()
    return f"deposit policies added: {added}"
