"""A launch-day spike against a running store: shoppers signed in beforehand press "order" at the opening second.

Used by the CI-sized system test (tests/system/test_presale_spike.py) and by `make bench presale`
(tests/load/bench_presale.py); it reports what it saw and checks the database, it does not assert timings.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

import models
from models import LaunchNumber, PresaleOrder, PresaleOrderStatus
from models.base import utcnow
from storefront.presale import services
from tests.load.bench import percentile
from tests.system.conftest import Browser, LiveStore

MAX_ATTEMPTS = 200  # a shopper's page presses again at most this often (each when the waiting room says)
BROWSE_EVERY_S = 0.1  # each catalog viewer asks for a page every 100 ms (2 viewers: 20 pages a second)
RETRY_MS = re.compile(r'data-autosubmit="(\d+)"')


@dataclass
class SpikeResult:
    shoppers: int
    edition: int
    seconds: float  # from the opening second until the last shopper had their final answer
    latencies_ms: list[float]  # every answer, "you are in the queue" ones included: how long the press waited
    statuses: Counter[int]  # each shopper's final answer
    orders: Counter[PresaleOrderStatus]
    numbers: list[int]
    browse_latencies_ms: list[float] = field(default_factory=list)
    browse_statuses: Counter[int] = field(default_factory=Counter)
    queue_answers: int = 0  # "you are in the queue" (202) answers, each followed by the page's own press
    turnaround_s: list[float] = field(default_factory=list)  # first press to final answer, per shopper
    held_by_first: int = 0  # launch numbers held by shoppers among the first `edition` to press

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500) + sum(
            n for status, n in self.browse_statuses.items() if status >= 500
        )

    def table(self) -> str:
        p = percentile
        held = self.orders[PresaleOrderStatus.HELD]
        lines = [
            f"shoppers {self.shoppers}, edition {self.edition}: all answered in {self.seconds:.1f} s "
            f"({self.shoppers / self.seconds:.0f} orders/s)",
            f"answer latency ms (every press, queue answers included): p50 {p(self.latencies_ms, 0.5):.0f}  "
            f"p95 {p(self.latencies_ms, 0.95):.0f}  p99 {p(self.latencies_ms, 0.99):.0f}  "
            f"max {max(self.latencies_ms, default=0):.0f}  ({len(self.latencies_ms)} answers)",
            f"first press to final answer s: p50 {p(self.turnaround_s, 0.5):.1f}  "
            f"p99 {p(self.turnaround_s, 0.99):.1f}  max {max(self.turnaround_s, default=0):.1f}",
            f"final answers: {dict(sorted(self.statuses.items()))}; waiting-room answers on the way: "
            f"{self.queue_answers}",
            f"orders: held {held}, waitlisted {self.orders[PresaleOrderStatus.WAITLISTED]}, "
            f"numbers {len(self.numbers)} distinct {len(set(self.numbers))}; "
            f"held by the first {self.edition} to press: {self.held_by_first} of {held}",
            f"catalog during the spike (a page every {BROWSE_EVERY_S * 1000:.0f} ms per viewer): "
            f"{len(self.browse_latencies_ms)} pages, p50 "
            f"{p(self.browse_latencies_ms, 0.5):.0f} ms, p95 {p(self.browse_latencies_ms, 0.95):.0f} ms, "
            f"p99 {p(self.browse_latencies_ms, 0.99):.0f} ms, answers {dict(self.browse_statuses)}",
            f"5xx: {self.server_errors}",
        ]
        return "\n".join(lines)


def press_order(browser: Browser, slug: str, token: str, *, waited_s: float = 0.0) -> tuple[int, int | None]:
    """One press of "order" as the proxy forwards it, stamped with X-Request-Start (nginx: "t=${msec}"), as if it
    had waited `waited_s` for a worker; (status, milliseconds until the queue page presses again, if it says)."""
    page = browser.post(
        f"/presale/{slug}/order",
        {"csrf_token": token},
        csrf_from=f"/presale/{slug}",
        headers={"X-Request-Start": f"t={time.time() - waited_s:.3f}"},
    )
    match = RETRY_MS.search(page.text) if page.status == 202 else None
    return page.status, int(match.group(1)) if match else None


def open_campaign(store: LiveStore, *, edition: int) -> str:
    """A campaign that opened a minute ago on the store's first model; returns its slug."""
    slug = f"launch-{uuid.uuid4().hex[:8]}"
    start = utcnow() - dt.timedelta(minutes=1)
    with store.db() as session:
        model_id = session.scalar(sa.select(models.CarModel.id).order_by(models.CarModel.id).limit(1))
        assert model_id is not None
        services.create_campaign(
            session,
            actor=None,
            terms=services.CampaignTerms(
                slug=slug,
                car_model_id=model_id,
                name_en="Launch Edition",
                name_zh="首发版",
                edition_size=edition,
                presale_price=Decimal("199800.00"),
                deposit_amount=Decimal("999.00"),
                deposit_credit=Decimal("5000.00"),
                opens_at=start,
                closes_at=start + dt.timedelta(days=1),
            ),
        )
    return slug


def make_shoppers(store: LiveStore, count: int) -> list[tuple[int, str]]:
    """`count` shoppers with a mainland mobile, made in one statement; (id, session token) each."""
    tag = uuid.uuid4().hex[:6]
    rows = [
        {
            "email": f"spike-{tag}-{i}@example.com",
            "password_hash": "not-a-hash",
            "name": f"S{i}",
            "phone": f"13{i % 10}{i:08d}"[:11],
            "phone_verified_at": utcnow(),
            "role": models.Role.CUSTOMER,
            "session_token": uuid.uuid4().hex,
            "is_active": True,
            "created_at": utcnow(),
        }
        for i in range(count)
    ]
    with store.db() as session:
        ids = session.scalars(
            sa.insert(models.User).returning(models.User.id, sort_by_parameter_order=True), rows
        ).all()
    return [(user_id, row["session_token"]) for user_id, row in zip(ids, rows, strict=True)]


def run_spike(
    store: LiveStore,
    *,
    shoppers: int,
    edition: int,
    ramp_s: float,
    connections: int,
    browsers_for_catalog: int = 2,
    order_pool: LiveStore | None = None,
) -> SpikeResult:
    """`order_pool`: a second gunicorn on the same database that takes the order presses, as nginx sends
    POST /presale/<slug>/order to the hosts' order pool (deploy/nginx/flagship.conf); pages go to `store`."""
    slug = open_campaign(store, edition=edition)
    accounts = make_shoppers(store, shoppers)
    browsers = [(order_pool or store).browser().sign_in_as(user_id, token) for user_id, token in accounts]

    # Before the clock starts: every shopper has the launch page open (and so a CSRF token).
    with ThreadPoolExecutor(max_workers=connections) as pool:
        tokens = list(pool.map(lambda b: b.csrf_token(f"/presale/{slug}"), browsers))

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop_browsing = threading.Event()
    browse_latencies: list[float] = []
    browse_statuses: Counter[int] = Counter()

    def browse(browser: Browser) -> None:
        pages = ["/", "/models", "/models?city=shanghai", f"/presale/{slug}/live"]
        i, last = 0, 0.0
        while not stop_browsing.is_set() and i < 10_000:
            started = time.perf_counter()
            if i:  # a viewer reads for a moment between pages: at most one page per BROWSE_EVERY_S
                if stop_browsing.wait(max(0.0, BROWSE_EVERY_S - (started - last))):
                    break
                started = time.perf_counter()
            last = started
            try:
                status = browser.get(pages[i % len(pages)]).status
            except Exception:  # noqa: BLE001 - a refused connection is a failure to count, not to raise
                status = 599
            with lock:
                browse_latencies.append((time.perf_counter() - started) * 1000)
                browse_statuses[status] += 1
            i += 1

    opening = time.perf_counter() + 0.2
    # Each shopper presses at their moment of the ramp, then again whenever the waiting room says (like the page).
    due: list[tuple[float, int]] = [(opening + ramp_s * index / shoppers, index) for index in range(shoppers)]
    heapq.heapify(due)
    ready = threading.Condition(lock)
    first_press: dict[int, float] = {}
    attempts: Counter[int] = Counter()
    turnaround: list[float] = []
    finished_at: list[float] = []
    queue_answers = 0
    open_shoppers = shoppers

    def press(index: int) -> tuple[int, int | None]:
        try:
            status, retry_ms = press_order(browsers[index], slug, tokens[index])
        except Exception:  # noqa: BLE001 - a refused or timed-out request is counted as a failure
            return 599, None
        return status, (1000 if retry_ms is None else retry_ms) if status == 202 else None

    def shopper_pages() -> None:
        nonlocal queue_answers, open_shoppers
        while True:
            with ready:
                while True:
                    if open_shoppers == 0:
                        ready.notify_all()
                        return
                    if due and due[0][0] <= time.perf_counter():
                        pressed_at, index = heapq.heappop(due)
                        break
                    ready.wait(min(0.02, due[0][0] - time.perf_counter()) if due else 0.02)
            started = time.perf_counter()
            first_press.setdefault(index, pressed_at)  # when the shopper pressed, a free connection or not
            status, retry_ms = press(index)
            answered = time.perf_counter()
            with ready:
                latencies.append((answered - started) * 1000)
                attempts[index] += 1
                if status == 202 and retry_ms is not None and attempts[index] < MAX_ATTEMPTS:
                    queue_answers += 1
                    heapq.heappush(due, (answered + retry_ms / 1000, index))
                    ready.notify()
                else:
                    statuses[status] += 1
                    turnaround.append(answered - first_press[index])
                    finished_at.append(answered)
                    open_shoppers -= 1

    catalog_viewers = [store.browser() for _ in range(browsers_for_catalog)]
    with ThreadPoolExecutor(max_workers=browsers_for_catalog) as browsing:
        for viewer in catalog_viewers:
            browsing.submit(browse, viewer)
        pages = [threading.Thread(target=shopper_pages) for _ in range(connections)]
        for thread in pages:
            thread.start()
        for thread in pages:
            thread.join()
        seconds = max(finished_at, default=opening) - opening
        stop_browsing.set()

    with store.db() as session:
        campaign_id = session.scalar(sa.select(models.PresaleCampaign.id).where(models.PresaleCampaign.slug == slug))
        rows = session.execute(
            sa.select(PresaleOrder.status, PresaleOrder.launch_number).where(PresaleOrder.campaign_id == campaign_id)
        ).all()
        holders = session.scalars(
            sa.select(PresaleOrder.user_id).where(
                PresaleOrder.campaign_id == campaign_id, PresaleOrder.launch_number.is_not(None)
            )
        ).all()
        taken = session.scalars(
            sa.select(LaunchNumber.number).where(
                LaunchNumber.campaign_id == campaign_id, LaunchNumber.order_id.is_not(None)
            )
        ).all()
    assert sorted(taken) == sorted(n for _, n in rows if n is not None)
    pressed_first = sorted(first_press, key=first_press.__getitem__)
    return SpikeResult(
        shoppers=shoppers,
        edition=edition,
        seconds=seconds,
        latencies_ms=latencies,
        statuses=statuses,
        orders=Counter(status for status, _ in rows),
        numbers=[n for _, n in rows if n is not None],
        browse_latencies_ms=browse_latencies,
        browse_statuses=browse_statuses,
        queue_answers=queue_answers,
        turnaround_s=turnaround,
        held_by_first=len(set(holders) & {accounts[i][0] for i in pressed_first[:edition]}),
    )
