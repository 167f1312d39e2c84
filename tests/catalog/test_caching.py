"""The catalog page cache and HTTP caching: what is shared, what stays live, what invalidates, what is sent."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import models
from storefront.extensions import db as flask_db
from storefront.reservations import availability
from storefront.staff.services import store_today
from tests import factories
from tests.conftest import login, make_app

EN = {"Accept-Language": "en"}
CATALOG_PAGES = ["/", "/models", "/models?city=shanghai", "/models?q=kadj", "/models/kadjar", "/brands/renault"]
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def joined_app(db, database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """An app with the page cache on (in-process, its own version file) whose sessions join the test's
    transaction, so it sees the test's rows and its commits are rolled back with the test."""
    app = make_app(database_url, CACHE_TYPE="SimpleCache", CATALOG_VERSION_FILE=str(tmp_path / "catalog-version"),
                   **overrides)
    with app.app_context():
        flask_db.sessionmaker.configure(bind=db.connection(), join_transaction_mode="create_savepoint")
    try:
        yield app
    finally:
        with app.app_context():
            flask_db.engine.dispose()


@pytest.fixture
def cached_app(db, database_url: str, tmp_path: Path, monkeypatch) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(availability, "_released_at", time.monotonic())  # counts below are the pages' own
    with joined_app(db, database_url, tmp_path, HOLD_RELEASE_INTERVAL_SECONDS=3600) as app:
        yield app


@pytest.fixture
def anonymous(cached_app: Flask) -> FlaskClient:
    return cached_app.test_client()


@pytest.fixture
def statements(cached_app: Flask, statements_on):  # type: ignore[no-untyped-def]
    return statements_on


@pytest.fixture
def statements_on(db) -> Callable[..., tuple[Any, list[str]]]:  # type: ignore[no-untyped-def]
    """GET a page and list the SQL it ran (transaction control left out), the view INSERT included."""
    engine = db.connection().engine  # the cached app's sessions run on the test's connection

    def _get(client: FlaskClient, path: str, **kwargs: Any) -> tuple[Any, list[str]]:
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
                seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get(path, **kwargs)
            response.close()  # the model page writes its view here
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        return response, seen

    return _get


def reads(seen: list[str]) -> list[str]:
    return [s for s in seen if not s.lstrip().upper().startswith("INSERT INTO EVENTS")]


@pytest.mark.parametrize("path", CATALOG_PAGES)
def test_anonymous_pages_set_no_cookie_and_do_not_vary_by_cookie(anonymous, catalog, path):
    for _ in range(2):  # the render and the cache hit alike
        response = anonymous.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
        assert response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]
        assert 'name="csrf_token"' not in response.get_data(as_text=True)


@pytest.mark.parametrize(("path", "miss", "hit"), [
    ("/", 3, 0), ("/brands/renault", 2, 0), ("/models", 4, 0), ("/models?city=shanghai", 4, 0),
    ("/models/kadjar", 4, 0),
])
def test_a_miss_costs_at_most_four_queries_and_a_hit_none(anonymous, catalog, statements, path, miss, hit):
    first, missed = statements(anonymous, path)
    second, hitting = statements(anonymous, path)
    assert first.status_code == second.status_code == 200
    assert len(reads(missed)) == miss, missed
    assert len(reads(hitting)) == hit, hitting
    assert first.get_data() == second.get_data()


def test_the_model_page_still_records_its_view_on_a_hit(anonymous, catalog, statements):
    statements(anonymous, "/models/kadjar")
    _response, seen = statements(anonymous, "/models/kadjar")
    assert [s for s in seen if s.lstrip().upper().startswith("INSERT INTO EVENTS")]


def test_a_staff_price_edit_shows_on_cached_pages_at_once(cached_app, anonymous, db, catalog, staff_user):
    for path in ("/", "/models", "/models/kadjar", "/brands/renault"):
        assert "¥160,000" in anonymous.get(path, headers=EN).get_data(as_text=True)
    db.commit()  # the staff member and the catalog survive the route's own commit
    staff = cached_app.test_client()
    login(staff, staff_user)
    answer = staff.post(f"/staff/prices/{catalog.trims[0].id}",
                        data={"price": "149800", "effective_from": store_today().isoformat()})
    assert answer.status_code == 302
    for path in ("/", "/models", "/models/kadjar", "/brands/renault"):
        page = anonymous.get(path, headers=EN).get_data(as_text=True)
        assert "¥149,800" in page and "¥160,000" not in page, path


def test_a_reservation_shows_in_stock_figures_within_the_bound_without_rendering_again(
    db, database_url, tmp_path, catalog, statements_on, monkeypatch
):
    monkeypatch.setattr(availability, "_released_at", time.monotonic())
    with joined_app(db, database_url, tmp_path, STOCK_STALENESS_SECONDS=1, HOLD_RELEASE_INTERVAL_SECONDS=3600) as app:
        anonymous = app.test_client()
        listing = anonymous.get("/models?q=kadj", headers=EN).get_data(as_text=True)
        assert "3 units in stock" in listing
        detail = anonymous.get("/models/kadjar?city=shanghai", headers=EN).get_data(as_text=True)
        assert "In stock at 2 showrooms in Shanghai" in detail
        for vehicle in catalog.vehicles:  # what reserving does to a car: held, no longer in stock
            if vehicle.trim.car_model.slug == "kadjar":
                vehicle.status = models.VehicleStatus.ON_HOLD
        db.flush()
        time.sleep(1.05)  # the bound (1 s here, 5 s by default) has passed
        response, seen = statements_on(anonymous, "/models?q=kadj", headers=EN)
        assert "Currently no stock" in response.get_data(as_text=True)
        assert len(reads(seen)) == 1  # the unit count again; the page itself came from the cache
        detail = anonymous.get("/models/kadjar?city=shanghai", headers=EN).get_data(as_text=True)
        assert "No stock in this city right now" in detail


def test_with_no_staleness_allowed_stock_is_read_on_every_view(db, database_url, tmp_path, catalog):
    with joined_app(db, database_url, tmp_path, STOCK_STALENESS_SECONDS=0) as app:
        anonymous = app.test_client()
        assert "3 units in stock" in anonymous.get("/models?q=kadj", headers=EN).get_data(as_text=True)
        catalog.vehicles[0].status = models.VehicleStatus.ON_HOLD
        db.flush()
        assert "2 units in stock" in anonymous.get("/models?q=kadj", headers=EN).get_data(as_text=True)


def test_a_cached_page_never_carries_a_signed_in_users_name_or_a_csrf_token(db, database_url, tmp_path, catalog):
    shopper = factories.make_user(db, email="zhang@example.com", role=models.Role.CUSTOMER)
    shopper.name = "Zhang Wei-Unmistakable"
    db.flush()
    with joined_app(db, database_url, tmp_path, WTF_CSRF_ENABLED=True) as app:
        member = app.test_client()
        login(member, shopper)
        anonymous = app.test_client()
        for path in ("/models", "/models/kadjar", "/"):
            anonymous.get(path)  # the anonymous page is cached first ...
            mine = member.get(path)  # ... and the member still gets their own page, stored nowhere
            assert "Zhang Wei-Unmistakable" in mine.get_data(as_text=True)
            assert mine.headers["Cache-Control"] == "no-store"
            token = re.search(r'name="csrf_token" value="([^"]+)"', mine.get_data(as_text=True))
            assert token  # the sign-out form
            again = anonymous.get(path).get_data(as_text=True)  # ... and the member's page was not cached
            assert "Zhang Wei-Unmistakable" not in again and token.group(1) not in again
            assert "csrf_token" not in again


@pytest.mark.parametrize("path", ["/", "/models", "/models/kadjar", "/brands/renault"])
def test_a_page_that_did_not_change_answers_304(anonymous, catalog, path):
    first = anonymous.get(path)
    again = anonymous.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert anonymous.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_pages_without_live_parts_also_answer_if_modified_since(anonymous, catalog):
    first = anonymous.get("/")
    assert first.headers["Last-Modified"]
    again = anonymous.get("/", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304


def test_the_etag_moves_when_the_stock_shown_moves(db, database_url, tmp_path, catalog):
    with joined_app(db, database_url, tmp_path, STOCK_STALENESS_SECONDS=0) as app:
        anonymous = app.test_client()
        first = anonymous.get("/models")
        catalog.vehicles[0].status = models.VehicleStatus.ON_HOLD
        db.flush()
        assert anonymous.get("/models", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_language_switch_needs_no_token_and_sets_only_the_language_cookie(db, database_url, tmp_path, catalog):
    with joined_app(db, database_url, tmp_path, WTF_CSRF_ENABLED=True) as app:
        client = app.test_client()
        answer = client.post("/lang", data={"lang": "en", "next": "/models"})
        assert answer.status_code == 302 and answer.headers["Location"] == "/models"
        assert [c.split("=", 1)[0] for c in answer.headers.getlist("Set-Cookie")] == ["lang"]
        assert 'lang="en"' in client.get("/").get_data(as_text=True)
        # Forms that change something still need their token, which their page hands out (with a session).
        login_page = client.get("/account/login")
        assert any(c.startswith("session=") for c in login_page.headers.getlist("Set-Cookie"))
        assert client.post("/account/login", data={"email": "a@example.com", "password": "x"}).status_code == 400


def test_urls_name_their_language_for_search_engines(anonymous, catalog, public_base_url):
    page = anonymous.get("/models/kadjar?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page
    assert '<link rel="canonical" href="http://127.0.0.1:5000/models/kadjar?lang=en">' in page
    for code in ("zh-CN", "en"):
        assert f'hreflang="{code}" href="http://127.0.0.1:5000/models/kadjar?lang={code}"' in page
    assert 'hreflang="x-default" href="http://127.0.0.1:5000/models/kadjar"' in page
    assert '<meta name="description" content="Renault Kadjar: guide price from ¥160,000' in page
    assert 'lang="zh-CN"' in anonymous.get("/models/kadjar?lang=zh-CN", headers=EN).get_data(as_text=True)


def test_model_pages_describe_the_car_and_its_offer_in_json_ld(anonymous, catalog, public_base_url):
    import json

    page = anonymous.get("/models/kadjar").get_data(as_text=True)
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert found
    data = json.loads(found.group(1))
    assert data["@type"] == "Car" and data["brand"]["name"] == "Renault"
    assert data["offers"] == {"@type": "AggregateOffer", "priceCurrency": "CNY", "lowPrice": "160000.00",
                              "highPrice": "200000.00", "offerCount": 2,
                              "url": "http://127.0.0.1:5000/models/kadjar"}


def test_sitemap_and_robots(anonymous, catalog, public_base_url):
    sitemap = anonymous.get("/sitemap.xml")
    assert sitemap.mimetype == "application/xml"
    text = sitemap.get_data(as_text=True)
    for path in ("/models/kadjar", "/models/focus", "/brands/ford", "/models"):
        assert f"<loc>http://127.0.0.1:5000{path}</loc>" in text
    assert 'hreflang="en" href="http://127.0.0.1:5000/models/kadjar?lang=en"' in text
    robots = anonymous.get("/robots.txt").get_data(as_text=True)
    assert "Disallow: /staff/" in robots and "Sitemap: http://127.0.0.1:5000/sitemap.xml" in robots


def test_static_files_get_a_new_name_when_their_content_changes(tmp_path, database_url):
    app = make_app(database_url)
    app.static_folder = str(tmp_path)
    (tmp_path / "site.css").write_text("body { color: black }")
    try:
        with app.test_request_context():
            from flask import url_for

            first = url_for("static", filename="site.css")
            (tmp_path / "site.css").write_text("body { color: navy }")
            app.extensions["static_digests"].clear()  # a new deploy: the workers start afresh
            second = url_for("static", filename="site.css")
        assert re.fullmatch(r"/static/[0-9a-f]{10}/site\.css", first) and first != second
        client = app.test_client()
        fresh = client.get(second)
        assert fresh.status_code == 200 and fresh.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert fresh.get_data(as_text=True) == "body { color: navy }"
        fresh.close()
        stale = client.get(first)  # an old page's link still works, but is not kept as immutable
        assert stale.status_code == 200 and "immutable" not in stale.headers.get("Cache-Control", "")
        stale.close()
        plain = client.get("/static/site.css")
        assert plain.status_code == 200 and "immutable" not in plain.headers.get("Cache-Control", "")
        plain.close()
    finally:
        with app.app_context():
            flask_db.engine.dispose()


def test_text_is_gzipped_in_the_app_when_asked_to(db, database_url, tmp_path, catalog):
    import gzip

    with joined_app(db, database_url, tmp_path, COMPRESS_RESPONSES=True) as app:
        client = app.test_client()
        plain = client.get("/models")
        packed = client.get("/models", headers={"Accept-Encoding": "gzip, br"})
        assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.get_data()) == plain.get_data()
        assert "Accept-Encoding" in packed.headers["Vary"] and "Cookie" not in packed.headers["Vary"]
        again = client.get("/models", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
        assert again.status_code == 304


def test_a_page_whose_form_took_a_csrf_token_is_never_cached(cached_app, catalog, monkeypatch):
    """Should a catalog template ever grow a form with a token, that page would stop being shared."""
    from flask_wtf.csrf import generate_csrf

    from storefront import caching

    rendered = []

    def render_with_a_form() -> caching.CachedPage:
        rendered.append(generate_csrf())
        return caching.CachedPage(f"<form><input name=csrf_token value={rendered[-1]}></form>")

    with cached_app.test_request_context("/"):
        caching.cached_page(render_with_a_form)
    with cached_app.test_request_context("/"):
        caching.cached_page(render_with_a_form)
    assert len(rendered) == 2


@pytest.fixture
def public_base_url(cached_app, monkeypatch):
    """Search engines get absolute URLs from PUBLIC_BASE_URL (production requires it), never from the Host header."""
    monkeypatch.setitem(cached_app.config, "PUBLIC_BASE_URL", "http://127.0.0.1:5000")
