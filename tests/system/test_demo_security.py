"""Issue 11 rows 2, 9 and 11 from outside: production with demo settings, HSTS / no-store, concurrent demo resets.

gunicorn (3 workers, APP_ENV=production) on a seeded PostgreSQL copy with DEMO_MODE=1 and a presenter access code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa

import models
from tests.system.conftest import Browser, LiveStore, at_once

CODE = "system-test-presenter-code-7f3a"
RESET_TIMEOUT_S = 90
DEMO_SECRETS = ("@flagship.demo", "demo-admin-2026", "demo-staff-2026", "demo-shopper-2026")
RESET_ROUNDS = 3
RESETTERS = 3  # one per worker


@pytest.fixture(scope="module")
def demo_store(_store_starter: Callable[..., LiveStore]) -> LiveStore:
    return _store_starter(workers=RESETTERS, DEMO_MODE="1", DEMO_ACCESS_CODE=CODE)


def presenter(store: LiveStore) -> Browser:
    """A browser that typed the access code and is signed in as the demo admin."""
    browser = store.browser()
    browser.http.headers["Accept-Language"] = "en"
    unlocked = browser.post("/demo/unlock", {"code": CODE}, csrf_from="/demo/")
    assert unlocked.status == 302, unlocked.text[-500:]
    signed_in = browser.post("/demo/sign-in", {"account": "admin"}, csrf_from="/demo/")
    assert signed_in.status == 302 and signed_in.response.headers["Location"] == "/demo/"
    return browser


def test_production_refuses_to_start_demo_mode_without_an_access_code(start_store):
    with pytest.raises(RuntimeError, match="DEMO_ACCESS_CODE"):
        start_store(workers=1, DEMO_MODE="1")


def test_anonymous_visitors_get_no_demo_powers(demo_store: LiveStore) -> None:
    visitor = demo_store.browser()
    page = visitor.get("/demo/")
    assert page.status == 200 and 'action="/demo/unlock"' in page.text
    assert not any(secret in page.text for secret in DEMO_SECRETS)

    for account in ("admin", "staff", "shopper"):
        assert visitor.post("/demo/sign-in", {"account": account}, csrf_from="/demo/").status == 403
    assert visitor.post("/demo/tour/start", csrf_from="/demo/").status == 403
    for email, password in (("admin@flagship.demo", "demo-admin-2026"), ("staff@flagship.demo", "demo-staff-2026")):
        assert visitor.post("/account/login", {"email": email, "password": password}).status == 200  # refused
    assert visitor.post("/demo/unlock", {"code": "not-the-code"}, csrf_from="/demo/").status == 403
    assert visitor.get("/staff/insights/demo").status == 302  # still anonymous: off to the sign-in page
    assert visitor.post("/staff/insights/demo/reset", {"confirm": "yes"}, csrf_from="/demo/").status == 302
    assert "demo-admin-2026" in presenter(demo_store).get("/demo/").text  # the code is what opens it


def test_hsts_on_every_response_and_no_store_on_signed_in_pages(demo_store: LiveStore) -> None:
    anonymous, admin = demo_store.browser(), presenter(demo_store)
    shopper = demo_store.browser().sign_in(demo_store.new_user().email)
    responses = [
        anonymous.get("/"), anonymous.get("/models"), anonymous.get("/no-such-page"),
        anonymous.get("/static/css/app.css"), anonymous.get("/account/profile"), anonymous.get("/demo/"),
        anonymous.post("/account/logout", csrf_from="/account/login"),
        anonymous.post("/account/logout", {"csrf_token": "x"}),
        shopper.get("/account/profile"), shopper.get("/reservations/mine"), shopper.get("/test-drives/mine"),
        admin.get("/staff/vehicles"), admin.get("/staff/users"), admin.get("/staff/reservations/"),
        admin.get("/staff/vehicles/export.csv"), admin.get("/staff/insights/export.csv"),
    ]
    assert all(r.status < 500 for r in responses), [(r.response.url, r.status) for r in responses]
    missing = [r.response.url for r in responses if "max-age=" not in r.response.headers.get(
        "Strict-Transport-Security", "")]
    assert not missing
    for page in responses[8:]:
        assert page.status == 200, page.response.url
        assert page.response.headers.get("Cache-Control") == "no-store", page.response.url


def test_concurrent_demo_resets_one_wins_the_others_409(demo_store: LiveStore) -> None:
    """RESETTERS admins press Reset at the same moment, RESET_ROUNDS times: exactly one reset runs each round."""
    tally: Counter[str] = Counter()
    for _round in range(RESET_ROUNDS):
        admins = [presenter(demo_store) for _ in range(RESETTERS)]
        tokens = [admin.csrf_token("/staff/insights/demo/reset/confirm") for admin in admins]
        bystander = demo_store.browser().sign_in(demo_store.new_user().email)
        pages = at_once([
            # A reset rebuilds and reseeds the whole store: it may take far longer than a page (timeout 90 s).
            lambda a=a, t=t: a.post("/staff/insights/demo/reset", {"confirm": "yes", "csrf_token": t},
                                    csrf_from="/staff/insights/demo/reset/confirm", timeout=RESET_TIMEOUT_S)
            for a, t in zip(admins, tokens, strict=True)
        ], timeout=RESET_TIMEOUT_S + 10)
        statuses = [page.status for page in pages]
        winners = [page for page in pages if page.status == 302 and page.response.headers["Location"] == "/demo/"]
        assert len(winners) == 1, statuses
        assert statuses.count(409) == RESETTERS - 1, statuses
        assert all("already running" in page.text for page in pages if page.status == 409)
        tally.update(str(status) for status in statuses)
        # Everyone was signed out, the one who reset was signed in again; the store is the seeded one.
        assert bystander.get("/account/profile").status == 302
        assert demo_store.browser().get("/models").status == 200
        with demo_store.db() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(models.User)) == 3  # the demo accounts
    assert tally == {"302": RESET_ROUNDS, "409": RESET_ROUNDS * (RESETTERS - 1)}
    assert not re.search(r"Traceback|Internal Server Error", demo_store.log())
