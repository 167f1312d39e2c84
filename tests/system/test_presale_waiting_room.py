"""The presale waiting room from outside (gunicorn on PostgreSQL and Redis): once a press waited too long for a
worker, shoppers are let in in the order they first pressed, each page pressing again when the queue page says;
and with Redis gone the store keeps taking orders instead of answering 5xx."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from models import PresaleOrder, PresaleOrderStatus
from tests.system.conftest import Browser, LiveStore
from tests.system.presale_spike import make_shoppers, open_campaign, press_order


def _shoppers(store: LiveStore, slug: str, count: int) -> list[tuple[int, Browser, str]]:
    shoppers = []
    for user_id, token in make_shoppers(store, count):
        browser = store.browser().sign_in_as(user_id, token)
        shoppers.append((user_id, browser, browser.csrf_token(f"/presale/{slug}")))
    return shoppers


def test_a_saturated_pool_lets_shoppers_in_in_the_order_they_first_pressed(start_store) -> None:  # type: ignore[no-untyped-def]
    store: LiveStore = start_store(PRESALE_ADMIT_PER_SECOND="2", PRESALE_ADMIT_BURST_SECONDS="0.1")
    slug = open_campaign(store, edition=3)
    shoppers = _shoppers(store, slug, 6)

    # The first press waited 2 s for a worker: it opens a line. The others, served at once, go behind it in turn.
    first_answers = [
        press_order(browser, slug, token, waited_s=2.0 if n == 0 else 0.0)
        for n, (_, browser, token) in enumerate(shoppers)
    ]
    assert [status for status, _ in first_answers] == [202] * 6
    waits = [retry for _, retry in first_answers]
    assert all(w is not None for w in waits)
    assert all(a < b for a, b in zip(waits, waits[1:], strict=False)), waits  # each turn after the one before
    assert press_order(shoppers[5][1], slug, shoppers[5][2])[0] == 202  # pressing again early: still waiting

    # Each shopper's page presses again when told, until it gets its order.
    finals: dict[int, int] = {}
    tries: dict[int, int] = {}

    def page(n: int) -> None:
        _, browser, token = shoppers[n]
        retry = first_answers[n][1]
        for attempt in range(1, 20):
            time.sleep((retry or 0) / 1000)
            status, retry = press_order(browser, slug, token)
            if status != 202:
                finals[n], tries[n] = status, attempt
                return

    threads = [threading.Thread(target=page, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert finals == dict.fromkeys(range(6), 303), (finals, store.log()[-2000:])

    with store.db() as session:
        orders = {
            order.user_id: order
            for order in session.scalars(sa.select(PresaleOrder).where(PresaleOrder.campaign_id.is_not(None)))
        }
    in_press_order = [orders[user_id] for user_id, _, _ in shoppers]
    assert [o.launch_number for o in in_press_order] == [1, 2, 3, None, None, None]
    assert [o.status for o in in_press_order[3:]] == [PresaleOrderStatus.WAITLISTED] * 3
    waitlist = [o.id for o in in_press_order[3:]]
    assert waitlist == sorted(waitlist)  # and the waitlist is in first-press order too
    assert "Traceback" not in store.log()


def test_with_redis_gone_the_store_keeps_taking_orders(start_store, private_redis) -> None:  # type: ignore[no-untyped-def]
    store: LiveStore = start_store(REDIS_URL=private_redis.url, PRESALE_ADMIT_PER_SECOND="2")
    slug = open_campaign(store, edition=3)
    shoppers = _shoppers(store, slug, 5)
    assert press_order(shoppers[0][1], slug, shoppers[0][2], waited_s=2.0)[0] == 202  # a line, kept in Redis

    private_redis.stop()
    answers = [press_order(browser, slug, token)[0] for _, browser, token in shoppers[1:]]
    assert answers == [303] * 4  # no line without Redis: first come, first served, never a 5xx
    assert press_order(shoppers[0][1], slug, shoppers[0][2])[0] == 303
    with store.db() as session:
        numbers = session.scalars(sa.select(PresaleOrder.launch_number).where(PresaleOrder.launch_number.is_not(None)))
        assert sorted(numbers) == [1, 2, 3]
    assert "presale waiting room unavailable" in store.log()
