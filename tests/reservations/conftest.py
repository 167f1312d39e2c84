"""Fixtures of the reservation tests: deposit policies on the small catalog, and a reserve helper."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import models
from storefront import clock
from storefront.reservations import services
from tests import factories
from tests.payments.stripe_fake import english_messages, fake_stripe, webhook_secret  # noqa: F401


@pytest.fixture
def policies(db: Session, catalog: factories.Catalog) -> dict[str, models.DepositPolicy]:
    """Kadjar: ¥5,000 refundable 订金 until pick-up. Mach-E: ¥2,000 binding 定金 worth ¥4,000. Focus: none."""
    kadjar, mache, _focus = catalog.car_models
    made = {
        "kadjar": models.DepositPolicy(car_model_id=kadjar.id, amount=Decimal("5000.00"),
                                       kind=models.DepositKind.REFUNDABLE, refund_window_days=0,
                                       price_credit=Decimal("5000.00")),
        "mustang-mach-e": models.DepositPolicy(car_model_id=mache.id, amount=Decimal("2000.00"),
                                               kind=models.DepositKind.BINDING, refund_window_days=0,
                                               price_credit=Decimal("4000.00")),
    }
    db.add_all(made.values())
    db.flush()
    return made


def new_key() -> str:
    return secrets.token_urlsafe(24)


def reserve(app: Flask, db: Session, user: models.User, **target: Any) -> models.Reservation:
    """services.reserve inside a request context (the demo provider builds its page URL)."""
    target.setdefault("idempotency_key", new_key())
    with app.test_request_context():
        return services.reserve(
            db, user=user,
            return_urls=lambda r: (f"http://store.test/reservations/{r.reference}?paid=1",
                                   f"http://store.test/reservations/{r.reference}"),
            **target,
        )


@pytest.fixture
def shopper(db: Session) -> models.User:
    return factories.make_user(db, email="buyer@example.com", name="Li Lei", role=models.Role.CUSTOMER)


@pytest.fixture
def other_shopper(db: Session) -> models.User:
    return factories.make_user(db, email="rival@example.com", name="Han Meimei", role=models.Role.CUSTOMER)


@pytest.fixture
def travel() -> Iterator[Any]:
    """Move the store clock (as demo time travel does); restored afterwards."""
    import datetime as dt

    def _move(**delta: float) -> None:
        clock.set_offset(dt.timedelta(**delta))

    yield _move
    clock.set_offset(__import__("datetime").timedelta(0))


@pytest.fixture(autouse=True)
def fresh_locale_per_request(app: Flask) -> Iterator[None]:
    """Requests of a test share the `db` fixture's app context, where Flask-Babel caches the locale it chose;
    forget it at the start of every request so each one picks its own language (Accept-Language)."""
    from flask import g, request_started

    def _forget(_sender: object, **_extra: object) -> None:
        babel_state = g.get("_flask_babel")
        if babel_state is not None and not getattr(babel_state, "forced_babel_locale", None):
            babel_state.babel_locale = None
            babel_state.babel_translations = None

    request_started.connect(_forget, app)
    yield
    request_started.disconnect(_forget, app)
