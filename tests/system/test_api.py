"""The partner API over HTTP on the production setup (gunicorn workers, PostgreSQL, Redis): the document and the
catalog are served, and a showroom system's concurrent writes and rate limit hold across worker processes."""

from __future__ import annotations

import uuid
from collections import Counter

import requests
import sqlalchemy as sa

import models
from storefront import clock
from storefront.api import services
from tests.system.conftest import REQUEST_TIMEOUT_S, LiveStore, at_once


def _issue_key(store: LiveStore, *, rate_limit: int) -> str:
    admin = store.new_user(role=models.Role.ADMIN)
    with store.db() as session:
        dealer = session.scalar(sa.select(models.Dealer).where(models.Dealer.code == "SH-PD"))
        _key, secret = services.issue_key(session, actor=session.get_one(models.User, admin.id), name="system DMS",
                                          dealers=[dealer], rate_limit_per_minute=rate_limit, at=clock.now())
    return secret


def test_the_document_the_viewer_and_a_conditional_get(live_store: LiveStore) -> None:
    document = requests.get(live_store.base_url + "/api/v1/openapi.json", timeout=REQUEST_TIMEOUT_S)
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"
    assert requests.get(live_store.base_url + "/api/docs", timeout=REQUEST_TIMEOUT_S).status_code == 200
    models_page = requests.get(live_store.base_url + "/api/v1/models?brand=renault", timeout=REQUEST_TIMEOUT_S)
    assert models_page.status_code == 200 and models_page.json()["total"] > 0
    again = requests.get(live_store.base_url + "/api/v1/models?brand=renault", timeout=REQUEST_TIMEOUT_S,
                         headers={"If-None-Match": models_page.headers["ETag"]})
    assert again.status_code == 304


def test_twenty_puts_across_workers_one_wins(live_store: LiveStore) -> None:
    secret = _issue_key(live_store, rate_limit=1000)
    with live_store.db() as session:
        car = session.scalar(sa.select(models.Vehicle).join(models.Dealer).where(
            models.Dealer.code == "SH-PD", models.Vehicle.status == models.VehicleStatus.IN_STOCK).limit(1))
        vin, version, body = car.vin, car.version, {"trim_id": car.trim_id, "colour": car.colour_code,
                                                    "status": "demo_fleet", "dealer": "SH-PD"}
    url = f"{live_store.base_url}/api/v1/inventory/vehicles/{vin}"

    def put() -> int:
        headers = {"Authorization": f"Bearer {secret}", "If-Match": f'"{version}"',
                   "Idempotency-Key": uuid.uuid4().hex}
        return requests.put(url, json=body, headers=headers, timeout=REQUEST_TIMEOUT_S).status_code

    answers = Counter(at_once([put] * 20))
    assert answers == {200: 1, 412: 19}


def test_a_keys_rate_limit_is_shared_by_every_worker(live_store: LiveStore) -> None:
    secret = _issue_key(live_store, rate_limit=5)
    url = live_store.base_url + "/api/v1/inventory/vehicles?per_page=1"
    answers = [requests.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=REQUEST_TIMEOUT_S)
               for _ in range(8)]  # two workers answer these; Redis counts them together
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert int(answers[-1].headers["Retry-After"]) >= 1 and answers[0].headers["RateLimit-Limit"] == "5"
