"""The launch-day waiting room: no wait while presses are served promptly; once a press waited too long, admission
strictly in first-press order at PRESALE_ADMIT_PER_SECOND, a place that survives retries; and a store that keeps
taking orders when Redis is gone."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from models import PresaleOrder, PresaleOrderStatus
from storefront.presale import waiting_room
from tests.conftest import login
from tests.presale.conftest import shopper

pytestmark = pytest.mark.usefixtures("english_messages")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> FakeClock:
    fake = FakeClock()
    app.extensions[waiting_room.MEMORY_KEY] = waiting_room.MemorySlots(clock=fake)
    return fake


@pytest.fixture
def two_a_second(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_PER_SECOND", 2.0)
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_BURST_SECONDS", 0.0)


def admit(app: Flask, user_id: int, *, campaign_id: int = 1, queued_s: float = 0.0) -> waiting_room.Admission:
    with app.test_request_context():
        return waiting_room.admit(campaign_id, user_id, queued_s=queued_s)


SATURATED = 1.5  # seconds a press waited for a worker: over PRESALE_QUEUE_SECONDS (1.0)


@pytest.mark.usefixtures("two_a_second")
def test_while_presses_are_served_promptly_nobody_waits_and_nothing_is_kept(app, clock):
    assert all(admit(app, user).admitted for user in range(1, 50))
    assert app.extensions[waiting_room.MEMORY_KEY]._last == {}


@pytest.mark.usefixtures("two_a_second")
def test_a_saturated_press_opens_a_line_and_shoppers_are_let_in_in_first_press_order(app, clock):
    opener = admit(app, 1, queued_s=SATURATED)
    queued = [admit(app, user) for user in (2, 3)]  # served promptly, but a line exists: they go behind
    assert (opener.admitted, opener.wait_s) == (False, 1.0)  # the line starts PRESALE_QUEUE_SECONDS ahead
    assert [(a.admitted, a.wait_s, a.ahead) for a in queued] == [(False, 1.5, 3), (False, 2.0, 4)]

    clock.now += 1.0
    assert admit(app, 1).admitted and not admit(app, 2).admitted
    clock.now += 0.5
    late = admit(app, 4)  # arrives when 2's turn has come and 3's has not: behind 3
    assert admit(app, 2).admitted and not admit(app, 3).admitted
    assert (late.admitted, late.wait_s) == (False, 1.0)
    clock.now += 0.5
    assert admit(app, 3).admitted and not admit(app, 4).admitted
    clock.now += 0.5
    assert admit(app, 4).admitted
    clock.now += 0.5
    assert admit(app, 5).admitted  # the line has drained: straight in again


@pytest.mark.usefixtures("two_a_second")
def test_pressing_again_keeps_the_place_and_takes_no_other(app, clock):
    admit(app, 1, queued_s=SATURATED)
    place = admit(app, 2).wait_s
    for step in range(1, 6):
        clock.now += 0.05
        again = admit(app, 2)
        assert not again.admitted and again.wait_s == pytest.approx(place - 0.05 * step)
    assert admit(app, 3).wait_s == pytest.approx(2.0 - 0.25)  # the retries took no extra places


def test_a_press_within_the_slack_counts_as_on_time_and_a_rate_of_zero_turns_the_room_off(app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_PER_SECOND", 10.0)
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_BURST_SECONDS", 0.25)
    assert not admit(app, 1, queued_s=SATURATED).admitted  # slot now + 1.0
    assert not any(admit(app, user).admitted for user in (2, 3, 4))  # slots 1.1, 1.2, 1.3
    clock.now += 0.9
    answers = [admit(app, user).admitted for user in (1, 2, 3, 4)]
    assert answers == [True, True, False, False]  # 0.1 and 0.2 s early: within the slack; 0.3 is not

    monkeypatch.setitem(app.config, "PRESALE_ADMIT_PER_SECOND", 0.0)
    assert admit(app, 4).admitted and admit(app, 9, queued_s=SATURATED).admitted


@pytest.mark.usefixtures("two_a_second")
def test_a_press_whose_turn_has_come_is_let_in_however_long_it_waited_for_a_worker(app, clock):
    admit(app, 1, queued_s=SATURATED)
    admit(app, 2)
    clock.now += 1.0
    assert admit(app, 1, queued_s=SATURATED).admitted  # sending it back would only feed a retry storm
    assert not admit(app, 2, queued_s=SATURATED).admitted  # 2's turn is 0.5 s away still


@pytest.fixture
def redis_room(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("needs the machine's Redis on 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    monkeypatch.setitem(app.config, "RATELIMIT_KEY_PREFIX", prefix)
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_PER_SECOND", 2.0)
    monkeypatch.setitem(app.config, "PRESALE_ADMIT_BURST_SECONDS", 0.0)
    app.extensions.pop("presale_waiting_room_redis", None)
    yield prefix
    client = redis.Redis.from_url(url)
    client.delete(f"{prefix}:presale-room:1:slots", f"{prefix}:presale-room:1:last")
    app.extensions.pop("presale_waiting_room_redis", None)


def test_with_redis_every_worker_and_host_shares_one_line_on_redis_clock(app, redis_room):
    assert admit(app, 9).admitted  # no line yet
    answers = [admit(app, 1, queued_s=SATURATED), admit(app, 2), admit(app, 3)]
    assert [a.admitted for a in answers] == [False, False, False]
    waits = [a.wait_s for a in answers]
    assert waits == pytest.approx([1.0, 1.5, 2.0], abs=0.1)
    assert admit(app, 2).wait_s <= answers[1].wait_s  # the same place on a second press
    assert admit(app, 3).ahead == 4


@pytest.mark.usefixtures("behind_proxy")
def test_without_redis_the_room_lets_shoppers_in_and_orders_go_through(app, client, db, campaign, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    app.extensions.pop("presale_waiting_room_redis", None)
    saturated = {"X-Request-Start": f"t={time.time() - SATURATED:.3f}"}
    try:
        assert admit(app, 1, queued_s=SATURATED).admitted and admit(app, 2).admitted
        for n in range(2):
            login(client, shopper(db))
            answer = client.post(f"/presale/{campaign.slug}/order", headers=saturated)
            assert answer.status_code == 303, n
    finally:
        app.extensions.pop("presale_waiting_room_redis", None)
    assert db.scalar(select(func.count()).select_from(PresaleOrder)) == 2


@pytest.mark.usefixtures("two_a_second", "behind_proxy")
def test_the_queue_page_says_how_long_and_sends_the_order_at_the_shoppers_turn(app, db, campaign, clock):
    shoppers = [shopper(db) for _ in range(3)]
    clients = [app.test_client() for _ in shoppers]
    order = f"/presale/{campaign.slug}/order"

    def press(n: int, **kwargs: Any) -> TestResponse:
        login(clients[n], shoppers[n])  # also forgets the user the shared app context remembers from the last one
        return clients[n].post(order, **kwargs)

    opener = press(0, headers={"X-Request-Start": f"t={time.time() - SATURATED:.3f}"})  # the pool is saturated
    second = press(1)
    assert opener.status_code == second.status_code == 202
    assert second.headers["Retry-After"] == "2" and second.headers["Cache-Control"] == "no-store"
    text = second.get_data(as_text=True)
    assert "About 3 shoppers are ahead of you" in text and "about 2 seconds" in text
    assert re.search(r'data-autosubmit="(\d+)"', text).group(1) == "1550"  # type: ignore[union-attr]
    assert db.scalar(select(func.count()).select_from(PresaleOrder)) == 0  # nothing done while queued

    clock.now += 1.0
    assert press(1).status_code == 202  # not the second's turn yet
    assert press(0).status_code == 303
    clock.now += 0.5
    assert press(1).status_code == 303
    assert press(2).status_code == 303  # the line has drained
    orders = db.scalars(select(PresaleOrder).order_by(PresaleOrder.id)).all()
    assert [o.status for o in orders] == [PresaleOrderStatus.HELD] * 3
    assert [o.launch_number for o in orders] == [1, 2, 3]  # numbers in first-press order
