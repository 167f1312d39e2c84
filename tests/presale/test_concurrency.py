"""Spike safety on PostgreSQL: many shoppers (and impatient double presses) at once never hold a number twice."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import models
from models import LaunchNumber, PresaleOrder, PresaleOrderStatus
from models.base import utcnow
from storefront.errors import ConflictError
from storefront.presale import services
from tests import factories
from tests.presale.conftest import terms

SHOPPERS = 16
PRESSES = 2  # each shopper presses twice, at the same moment
EDITION = 7
ROUNDS = 10


@pytest.fixture
def pg_engine(scratch_database_url: str) -> sa.Engine:
    if not scratch_database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL row locks and SKIP LOCKED (set TEST_DATABASE_URL)")
    engine = sa.create_engine(scratch_database_url, pool_size=SHOPPERS, max_overflow=SHOPPERS * PRESSES)
    models.Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_a_spike_holds_each_number_once_and_queues_the_rest(app: Flask, pg_engine: sa.Engine) -> None:
    make_session = sessionmaker(pg_engine, expire_on_commit=False)
    with make_session() as s:
        catalog = factories.small_catalog(s)
        s.commit()
        car_model_id = catalog.car_models[0].id
    for round_ in range(ROUNDS):
        _spike(app, make_session, car_model_id, round_)


def _spike(app: Flask, make_session: sessionmaker[Session], car_model_id: int, round_: int) -> None:
    with make_session() as s:
        campaign = services.create_campaign(
            s, actor=None, terms=terms(car_model_id, slug=f"spike-{round_}", edition_size=EDITION)
        )
        users = [
            factories.make_user(
                s, email=f"spike{round_}-{i}@example.com", phone=f"139{round_:02d}{i:06d}", phone_verified_at=utcnow()
            )
            for i in range(SHOPPERS)
        ]
        s.commit()
        campaign_id, user_ids = campaign.id, [u.id for u in users]

    barrier = threading.Barrier(SHOPPERS * PRESSES)

    def press(user_id: int) -> tuple[int, int | None]:
        with app.app_context(), make_session() as s:
            user = s.get(models.User, user_id)
            campaign = s.get(models.PresaleCampaign, campaign_id)
            barrier.wait(timeout=30)
            order = services.place_order(s, campaign=campaign, user=user)
            s.commit()
            return order.id, order.launch_number

    with ThreadPoolExecutor(max_workers=SHOPPERS * PRESSES) as pool:
        answers = list(pool.map(press, [u for u in user_ids for _ in range(PRESSES)], timeout=60))

    by_user: dict[int, set[tuple[int, int | None]]] = {}
    for user_id, answer in zip([u for u in user_ids for _ in range(PRESSES)], answers, strict=True):
        by_user.setdefault(user_id, set()).add(answer)
    assert all(len(seen) == 1 for seen in by_user.values()), "a shopper's two presses got different answers"
    with make_session() as s:
        orders = s.scalars(sa.select(PresaleOrder).where(PresaleOrder.campaign_id == campaign_id)).all()
        statuses = Counter(o.status for o in orders)
        held_numbers = sorted(o.launch_number for o in orders if o.launch_number is not None)
        taken = s.scalar(
            sa.select(sa.func.count()).where(
                LaunchNumber.campaign_id == campaign_id, LaunchNumber.order_id.is_not(None)
            )
        )
    assert len(orders) == SHOPPERS  # one order per shopper
    assert held_numbers == list(range(1, EDITION + 1))  # every number once, no gaps
    assert statuses == {PresaleOrderStatus.HELD: EDITION, PresaleOrderStatus.WAITLISTED: SHOPPERS - EDITION}
    assert taken == EDITION


@pytest.mark.slow
def test_accounts_sharing_a_mobile_get_one_order_between_them_however_they_race(
    app: Flask, pg_engine: sa.Engine
) -> None:
    make_session = sessionmaker(pg_engine, expire_on_commit=False)
    with make_session() as s:
        catalog = factories.small_catalog(s)
        accounts = [
            factories.make_user(
                s, email=f"same-mobile-{i}@example.com", phone="13700000001", phone_verified_at=utcnow()
            )
            for i in range(8)
        ]
        s.commit()
        car_model_id, user_ids = catalog.car_models[0].id, [u.id for u in accounts]

    for round_ in range(ROUNDS):
        with make_session() as s:
            campaign_id = services.create_campaign(
                s, actor=None, terms=terms(car_model_id, slug=f"one-mobile-{round_}")
            ).id
            s.commit()
        barrier = threading.Barrier(len(user_ids))

        def press(user_id: int, campaign_id: int = campaign_id, barrier: threading.Barrier = barrier) -> str:
            with app.app_context(), make_session() as s:
                user = s.get(models.User, user_id)
                campaign = s.get(models.PresaleCampaign, campaign_id)
                barrier.wait(timeout=30)
                try:
                    services.place_order(s, campaign=campaign, user=user)
                except ConflictError:
                    return "refused"
                s.commit()
                return "ordered"

        with ThreadPoolExecutor(max_workers=len(user_ids)) as pool:
            answers = Counter(pool.map(press, user_ids, timeout=60))
        with make_session() as s:
            orders = s.scalars(sa.select(PresaleOrder).where(PresaleOrder.campaign_id == campaign_id)).all()
        assert answers == {"ordered": 1, "refused": 7}, answers
        assert len(orders) == 1 and orders[0].mobile == "13700000001" and orders[0].launch_number == 1
