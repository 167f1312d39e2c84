"""Catalog pages: what a shopper sees, filters in the URL, htmx partials, 404s and query counts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from models import VehicleStatus
from tests import factories


def test_home_shows_brands_hot_models_and_new_energy(client, catalog):
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Renault" in page and "Ford" in page
    assert "Mustang Mach-E" in page  # the BEV shows in "New energy"
    assert "¥160,000" in page


def test_default_language_is_chinese_and_switch_is_remembered(client, catalog):
    assert "全部车型" in client.get("/").get_data(as_text=True) or "lang=\"zh-CN\"" in client.get("/").get_data(
        as_text=True
    )
    response = client.post("/lang", data={"lang": "en", "next": "/models"})
    assert response.status_code == 302 and response.headers["Location"] == "/models"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_language_switch_refuses_offsite_next(client):
    response = client.post("/lang", data={"lang": "en", "next": "//evil.com"})
    assert response.headers["Location"] == "/"


def test_brand_page_lists_only_that_brand(client, catalog):
    page = client.get("/brands/renault", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Kadjar" in page and "Focus" not in page
    assert client.get("/brands/nope").status_code == 404


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("brand=ford", ["Focus", "Mustang Mach-E"], ["Kadjar"]),
        ("powertrain=bev", ["Mustang Mach-E"], ["Kadjar", "Focus"]),
        ("powertrain=nev", ["Mustang Mach-E"], ["Focus"]),
        ("body_type=sedan", ["Focus"], ["Kadjar"]),
        ("max_price=150000", ["Focus"], ["Kadjar", "Mustang Mach-E"]),
        ("min_price=190000", ["Kadjar", "Mustang Mach-E"], ["Focus"]),
        ("city=beijing", ["Mustang Mach-E"], ["Kadjar", "Focus"]),
        ("q=kadj", ["Kadjar"], ["Focus"]),
        ("q=科雷", ["Kadjar"], ["Focus"]),
    ],
)
def test_listing_filters(client, catalog, query, present, absent):
    page = client.get(f"/models?{query}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for name in present:
        assert f"{name}</h3>" in page, name
    for name in absent:
        assert f"{name}</h3>" not in page, name


def test_listing_sort_by_price_and_count(client, catalog):
    page = client.get("/models?sort=price_asc", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "3 models found" in page
    assert page.index("Focus</h3>") < page.index("Kadjar</h3>") < page.index("Mustang Mach-E</h3>")


def test_listing_bad_filters_are_reported_not_500(client, catalog):
    response = client.get("/models?min_price=abc&seats=99&sort=bogus&page=-3")
    assert response.status_code == 200
    assert "aria-invalid=\"true\"" in response.get_data(as_text=True)


def test_listing_htmx_returns_fragment_only(client, catalog):
    response = client.get("/models?brand=ford", headers={"HX-Request": "true", "Accept-Language": "en"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and "models found" in body


def test_listing_paginates(client, db, catalog, app):
    app.config["PAGE_SIZE"] = 2
    try:
        first = client.get("/models?sort=price_asc", headers={"Accept-Language": "en"}).get_data(as_text=True)
        second = client.get("/models?sort=price_asc&page=2", headers={"Accept-Language": "en"}).get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 12
    assert "Page 1 of 2" in first and "Mustang Mach-E</h3>" not in first
    assert "Mustang Mach-E</h3>" in second


def test_listing_query_count_is_constant_whatever_the_page_size(client, db, catalog, app, count_queries):
    for i in range(12):
        extra = factories.small_catalog_model(db, brand=catalog.brands[1], slug=f"extra-{i}")
        factories.make_vehicle(db, trim=extra.trims[0], dealer=catalog.dealers[0])
    counts = []
    for size in (2, 14):
        app.config["PAGE_SIZE"] = size
        with count_queries() as counter:
            assert client.get("/models").status_code == 200
        counts.append(counter.count)
    app.config["PAGE_SIZE"] = 12
    assert counts[0] == counts[1]


def test_model_detail_shows_trims_features_and_stock_by_city(client, catalog):
    page = client.get("/models/kadjar?city=shanghai", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "2.0L CVT 4WD top" in page and "¥200,000" in page
    assert "Alibaba in-car system" in page
    assert "In stock at 2 showrooms in Shanghai" in page


def test_model_detail_hides_units_that_are_not_in_stock(client, db, catalog):
    for vehicle in catalog.vehicles[:3]:
        vehicle.status = VehicleStatus.ON_HOLD
    db.flush()
    page = client.get("/models/kadjar?city=shanghai", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No stock in this city right now" in page


def test_model_detail_stock_partial_for_htmx(client, catalog):
    response = client.get("/models/kadjar?city=beijing&partial=stock", headers={"HX-Request": "true"})
    assert "<html" not in response.get_data(as_text=True)


def test_unknown_model_is_a_friendly_404(client, catalog):
    response = client.get("/models/nope", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "find that page" in response.get_data(as_text=True)


def test_compare_up_to_three_trims(client, catalog):
    ids = [t.id for t in catalog.trims]
    page = client.get(
        "/compare?" + "&".join(f"trim={i}" for i in ids), headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "at most 3 trims" in page
    assert page.count("<th scope=\"col\">") == 4  # label column + three trims


def test_compare_marks_the_rows_that_differ_and_can_hide_the_rest(client, catalog):
    kadjar_2wd, kadjar_4wd = catalog.trims[0], catalog.trims[1]  # same seats and year, different prices
    url = f"/compare?trim={kadjar_2wd.id}&trim={kadjar_4wd.id}"
    page = client.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>Compare trims</h1>" in page and "Show differences only" in page
    assert re.search(r'<tr class="differs"><th scope="row">Guide price <span class="diff-mark"', page)
    assert '<tr class="same"><th scope="row">Seats</th>' in page
    only = client.get(url + "&diff=1", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Guide price" in only and '<th scope="row">Seats</th>' not in only


def test_showrooms_by_city_with_hours(client, catalog):
    page = client.get("/showrooms?city=beijing", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Beijing One" in page and "Shanghai One" not in page
    assert "09:00–18:00" in page


def test_prices_are_decimal_in_the_database(db, catalog):
    assert isinstance(catalog.trims[0].msrp_cny, Decimal)


def test_htmx_history_restore_gets_the_whole_page(client, catalog):
    response = client.get("/models", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)
