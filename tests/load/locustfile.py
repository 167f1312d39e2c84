"""Launch-day load with the real journey, for `make loadtest` (headless, bounded by -t).

Mix of users: anonymous browsing (home, brand page, listing with filters, model pages, compare) ~70 %,
finance quotes ~10 %, test-drive booking (sign in, book a slot, cancel it) ~10 %, and buyers (sign in,
reserve a car, pay the deposit with the demo provider, cancel to free the car) ~10 %. Shoppers sign in with
accounts `run.py` made beforehand (load-NNNN@flagship.test, password LOAD_PASSWORD).

Every simulated user connects from its own loopback address (127.77.x.y; all of 127/8 is this machine), so
nginx and the rate limits see many clients, as on a real launch, not one address hammering the sign-in form.
Request names are "kind: step"; run.py groups them into kinds for the report.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
import threading
import time
from typing import Any

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter

LOAD_PASSWORD = os.environ.get("LOAD_PASSWORD", "launch-day-load-2026")
LOAD_ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "400"))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"')
_numbers = itertools.count(1)
_numbers_lock = threading.Lock()


class Catalog:
    """What the store sells, read once from the pages themselves when the test starts."""

    model_slugs: list[str] = []
    model_ids: dict[str, int] = {}
    trim_ids: list[int] = []
    reservable: list[str] = []  # models with a deposit policy and cars in stock
    products: list[dict[str, Any]] = []


@events.test_start.add_listener
def discover(environment: Any, **_kwargs: Any) -> None:
    import requests

    base = environment.host.rstrip("/")
    listing = requests.get(f"{base}/models", timeout=10).text
    Catalog.model_slugs = sorted(set(re.findall(r'href="/models/([a-z0-9-]+)"', listing)))
    for slug in Catalog.model_slugs[:12]:
        page = requests.get(f"{base}/models/{slug}", timeout=10).text
        Catalog.trim_ids += [int(t) for t in re.findall(r"/finance/quote/(\d+)", page)]
        model_id = re.search(r"/test-drives/book/(\d+)", page)
        if model_id:
            Catalog.model_ids[slug] = int(model_id.group(1))
        if f"/reservations/choose/{slug}" in page:
            Catalog.reservable.append(slug)
    Catalog.trim_ids = sorted(set(Catalog.trim_ids))
    Catalog.products = requests.get(f"{base}/api/v1/finance-products", timeout=10).json().get("products", [])
    if not (Catalog.model_slugs and Catalog.trim_ids and Catalog.reservable and Catalog.model_ids):
        raise RuntimeError(f"the store at {base} shows no catalog to load: {vars(Catalog)}")


# Every request's outcome, written to LOAD_REPORT (JSON) when the run ends: run.py computes per-kind
# percentiles from the raw times and lines failures up with what happened to the hosts.
_samples: list[tuple[float, str, float, str]] = []  # (unix time, name, ms, error or "")


@events.request.add_listener
def record(request_type: str, name: str, response_time: float, exception: Any = None, **_kwargs: Any) -> None:
    _samples.append((time.time(), name, response_time, f"{type(exception).__name__}: {exception}"[:200]
                     if exception else ""))


@events.quitting.add_listener
def write_report(environment: Any, **_kwargs: Any) -> None:
    target = os.environ.get("LOAD_REPORT")
    if target:
        with open(target, "w") as out:
            json.dump(_samples, out)


class SourceAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Shopper(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _numbers_lock:
            self.number = next(_numbers)
        address = f"127.77.{self.number // 250}.{self.number % 250 + 1}"
        self.client.mount("http://", SourceAddress(address))

    def csrf(self, html: str) -> str:
        match = CSRF.search(html)
        return match.group(1) if match else ""

    def sign_in(self) -> None:
        email = f"load-{(self.number - 1) % LOAD_ACCOUNTS + 1:04d}@flagship.test"
        page = self.client.get("/account/login", name="sign-in: form")
        with self.client.post("/account/login", name="sign-in: post", catch_response=True,
                              data={"email": email, "password": LOAD_PASSWORD, "csrf_token": self.csrf(page.text)},
                              allow_redirects=False) as response:
            if response.status_code != 302:
                response.failure(f"sign-in answered {response.status_code}")


class Browser(Shopper):
    """Anonymous browsing: the bulk of a launch day."""

    weight = 70

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="browse: home")

    @task(1)
    def brand(self) -> None:
        self.client.get(f"/brands/{random.choice(['renault', 'ford', 'lincoln'])}", name="browse: brand")

    @task(4)
    def listing(self) -> None:
        params = random.choice([{"brand": "renault"}, {"powertrain": "nev", "sort": "price_asc"},
                                {"body_type": "suv", "max_price": "300000"}, {"sort": "popular", "page": "2"},
                                {"city": "shanghai", "seats": "5"}, {"q": "Explorer"}])
        self.client.get("/models", params=params, name="browse: listing")

    @task(4)
    def model(self) -> None:
        self.client.get(f"/models/{random.choice(Catalog.model_slugs)}", name="browse: model")

    @task(1)
    def compare(self) -> None:
        trims = random.sample(Catalog.trim_ids, k=min(3, len(Catalog.trim_ids)))
        self.client.get("/compare", params=[("trim", t) for t in trims], name="browse: compare")


class Quoter(Shopper):
    """Finance quotes: the builder page, the comparison and the quote API."""

    weight = 10

    @task(2)
    def builder(self) -> None:
        self.client.get(f"/finance/quote/{random.choice(Catalog.trim_ids)}", name="quote: builder")

    @task(1)
    def compare(self) -> None:
        self.client.get(f"/finance/quote/{random.choice(Catalog.trim_ids)}/compare", name="quote: compare")

    @task(2)
    def api(self) -> None:
        loans = [p for p in Catalog.products if p.get("terms_months")] or Catalog.products
        product = random.choice(loans)
        body = {"trim_id": random.choice(Catalog.trim_ids), "product_id": product["id"], "down_payment_pct": 30,
                "term_months": (product.get("terms_months") or [36])[0]}
        with self.client.post("/api/v1/quotes", json=body, name="quote: api", catch_response=True) as response:
            if response.status_code == 422:  # a product that does not fit the trim: a correct answer
                response.success()


class TestDriver(Shopper):
    """Book a showroom test drive in the first free slot, then cancel it (the slot is free again)."""

    weight = 10

    def on_start(self) -> None:
        super().on_start()
        self.sign_in()

    @task
    def book_and_cancel(self) -> None:
        slug = random.choice(list(Catalog.model_ids))
        model_id = Catalog.model_ids[slug]
        page = self.client.get(f"/test-drives/book/{model_id}", params={"city": "shanghai"},
                               name="test-drive: showrooms").text
        dealers = re.findall(rf"/test-drives/book/{model_id}\?city=shanghai&amp;dealer=(\d+)", page)
        if not dealers:
            return
        dealer = random.choice(dealers)
        page = self.client.get(f"/test-drives/book/{model_id}", params={"city": "shanghai", "dealer": dealer},
                               name="test-drive: days").text
        days = re.findall(rf"dealer={dealer}&amp;date=(\d{{4}}-\d\d-\d\d)", page)
        if not days:
            return
        page = self.client.get(f"/test-drives/book/{model_id}",
                               params={"city": "shanghai", "dealer": dealer, "date": random.choice(days[1:] or days)},
                               name="test-drive: slots").text
        slots = re.findall(r'name="starts_at" value="([^"]+)"(?! disabled)', page)
        if not slots:
            return
        form = {"csrf_token": self.csrf(page), "dealer_id": dealer, "starts_at": random.choice(slots),
                "contact_name": "Load Test", "mobile": "13800138000", "licence_confirmed": "y"}
        with self.client.post(f"/test-drives/book/{model_id}", data=form, name="test-drive: book",
                              catch_response=True) as response:
            if response.status_code == 409:  # the slot filled meanwhile (or this shopper overlaps): correct
                response.success()
                return
            reference = re.search(r"/test-drives/bookings/(T-[A-Z0-9]+)", response.url or "")
            if response.status_code != 200 or not reference:
                response.failure(f"booking answered {response.status_code} at {response.url}")
                return
        with self.client.post(f"/test-drives/bookings/{reference.group(1)}/cancel", name="test-drive: cancel",
                              data={"csrf_token": self.csrf(response.text), "reason": "load test"},
                              catch_response=True) as cancelled:
            if cancelled.status_code == 409:  # a slot starting within the 2-hour cut-off: the store keeps it
                cancelled.success()


class Buyer(Shopper):
    """Sign in, reserve a car, pay the deposit (demo provider), then cancel so the shopper may buy again."""

    weight = 10

    def on_start(self) -> None:
        super().on_start()
        self.sign_in()
        self.cancel_leftovers()

    def cancel_leftovers(self) -> None:
        """An earlier run may have left this account holding cars (a shopper may hold three at most)."""
        mine = self.client.get("/reservations/mine", name="reserve: mine").text
        for reference in sorted(set(re.findall(r"/reservations/(R-[A-Z0-9]+)", mine))):
            with self.client.post(f"/reservations/{reference}/cancel", name="reserve: cancel", catch_response=True,
                                  data={"csrf_token": self.csrf(mine), "reason": "load test"}) as response:
                if response.status_code in (409, 422):  # already cancelled, expired or refunded
                    response.success()

    @task
    def reserve_and_pay(self) -> None:
        slug = random.choice(Catalog.reservable)
        page = self.client.get(f"/reservations/choose/{slug}", name="reserve: choose").text
        vehicles = re.findall(r"/reservations/review\?vehicle=(\d+)", page)
        if not vehicles:
            return
        vehicle = random.choice(vehicles)
        review = self.client.get("/reservations/review", params={"vehicle": vehicle}, name="reserve: review")
        key = IDEMPOTENCY.search(review.text)
        form = {"csrf_token": self.csrf(review.text), "vehicle_id": vehicle, "accept_terms": "y",
                "idempotency_key": key.group(1) if key else secrets.token_urlsafe(24)}
        with self.client.post("/reservations/", data=form, name="reserve: hold", allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code == 409:  # someone else holds that car now: the store said so, correctly
                response.success()
                return
            if response.status_code != 303 or "/payments/demo/" not in response.headers.get("Location", ""):
                response.failure(f"reserve answered {response.status_code} {response.headers.get('Location')}")
                return
            pay_url = response.headers["Location"]
        pay_page = self.client.get(pay_url, name="reserve: pay page")
        paid = self.client.post(pay_url, data={"csrf_token": self.csrf(pay_page.text), "action": "pay"},
                                name="reserve: pay")
        reference = re.search(r"/reservations/([A-Z0-9-]{6,})", paid.url or "")
        if reference:
            self.client.post(f"/reservations/{reference.group(1)}/cancel", name="reserve: cancel",
                             data={"csrf_token": self.csrf(paid.text), "reason": "load test"})
