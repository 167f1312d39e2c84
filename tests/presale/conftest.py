"""Fixtures of the presale tests: a campaign on the small catalog and shoppers with a mainland mobile."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy.orm import Session

import models
from storefront.clock import now
from storefront.presale import services, waiting_room
from tests import factories
from tests.payments.stripe_fake import english_messages  # noqa: F401

_phones = itertools.count(13800000000)


@pytest.fixture(autouse=True)
def _empty_waiting_room(app: Flask) -> Iterator[None]:
    """The app outlives a test, and campaign ids repeat after each rollback: every test starts with no slots."""
    app.extensions.pop(waiting_room.MEMORY_KEY, None)
    yield
    app.extensions.pop(waiting_room.MEMORY_KEY, None)


@pytest.fixture
def behind_proxy(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store trusts one proxy, so it reads the proxy's X-Request-Start (how long a press waited)."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXY_COUNT", 1)


def terms(car_model_id: int, **overrides: object) -> services.CampaignTerms:
    """A ¥199,800 launch edition: ¥999 deposit counted as ¥5,000, 7 refundable days; open now for a day."""
    start = now() - dt.timedelta(minutes=1)
    values: dict[str, object] = {
        "slug": "koleos-launch",
        "car_model_id": car_model_id,
        "name_en": "Launch Edition",
        "name_zh": "首发版",
        "edition_size": 3,
        "presale_price": Decimal("199800.00"),
        "deposit_amount": Decimal("999.00"),
        "deposit_credit": Decimal("5000.00"),
        "opens_at": start,
        "closes_at": start + dt.timedelta(days=1),
        "refundable_days": 7,
        "benefits_zh": "终身免费保养",
    }
    values.update(overrides)
    return services.CampaignTerms(**values)  # type: ignore[arg-type]


def opening_later(
    db: Session, car_model_id: int, *, slug: str, after: dt.timedelta = dt.timedelta(hours=1)
) -> models.PresaleCampaign:
    """A campaign whose orders open `after` from now and close `after` later still."""
    opens = now() + after
    return services.create_campaign(
        db, actor=None, terms=terms(car_model_id, slug=slug, opens_at=opens, closes_at=opens + after)
    )


@pytest.fixture
def campaign(db: Session, catalog: factories.Catalog) -> models.PresaleCampaign:
    return services.create_campaign(db, actor=None, terms=terms(catalog.car_models[0].id))


def shopper(db: Session, n: int | None = None) -> models.User:
    number = next(_phones)
    return factories.make_user(db, email=f"p{number}@example.com", phone=str(number), phone_verified_at=now())
