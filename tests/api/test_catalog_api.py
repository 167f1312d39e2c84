"""Catalog read API: /api/v1/models, /models/<id>, /dealers, /dealers/<id>/stock; caching headers and CORS."""

from __future__ import annotations

import pytest

from models import VehicleStatus


def test_models_list_the_active_models_with_stock_and_prices(client, catalog):
    body = client.get("/api/v1/models?per_page=2").get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["per_page"] == 2 and len(body["models"]) == 2
    first = body["models"][0]  # most popular first: Mach-E (95), then Kadjar (80)
    assert first["slug"] == "mustang-mach-e" and first["brand"] == "ford" and first["powertrain"] == "bev"
    assert first["min_price_cny"] == "265000.00" and first["in_stock_count"] == 1
    assert first["url"].endswith("/models/mustang-mach-e")
    assert set(first) >= {"id", "slug", "brand", "name", "name_zh", "body_type", "powertrain", "min_price_cny",
                          "in_stock_count", "url"}


@pytest.mark.parametrize(("query", "slugs"), [
    ("brand=renault", ["kadjar"]),
    ("powertrain=nev", ["mustang-mach-e"]),
    ("body_type=sedan", ["focus"]),
    ("max_price=150000", ["focus"]),
    ("min_price=190000&sort=price_asc", ["kadjar", "mustang-mach-e"]),
    ("city=beijing", ["mustang-mach-e"]),
    ("q=kad", ["kadjar"]),
    ("sort=price_asc", ["focus", "kadjar", "mustang-mach-e"]),
])
def test_models_filters_match_the_listing_page(client, catalog, query, slugs):
    assert [m["slug"] for m in client.get(f"/api/v1/models?{query}").get_json()["models"]] == slugs


@pytest.mark.parametrize("query", ["per_page=101", "page=0", "seats=1", "body_type=tank", "sort=random",
                                   "min_price=-1", "min_price=abc", "q=" + "x" * 81])
def test_models_malformed_parameters_are_a_400_naming_them(client, catalog, query):
    response = client.get(f"/api/v1/models?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request" and query.split("=")[0] in body["fields"]


def test_a_held_car_is_not_counted_as_in_stock(client, db, catalog):
    catalog.vehicles[3].status = VehicleStatus.ON_HOLD  # the only Mach-E
    db.flush()
    listed = {m["slug"]: m for m in client.get("/api/v1/models").get_json()["models"]}
    assert listed["mustang-mach-e"]["in_stock_count"] == 0 and listed["kadjar"]["in_stock_count"] == 3


def test_model_detail_has_trims_connectivity_and_stock_by_city(client, catalog):
    kadjar = catalog.car_models[0]
    body = client.get(f"/api/v1/models/{kadjar.id}").get_json()
    assert [t["price_cny"] for t in body["trims"]] == ["160000.00", "200000.00"]
    trim = body["trims"][0]
    assert trim["specs"]["seats"] == 5 and trim["colours"][0]["code"] == "pearl-white"
    assert body["connectivity"][0]["code"] == "alibaba-connect"
    [shanghai] = body["stock_by_city"]
    assert shanghai["city"] == "shanghai" and shanghai["in_stock_count"] == 3
    assert {d["code"]: d["in_stock_count"] for d in shanghai["dealers"]} == {"SH-1": 2, "SH-2": 1}


def test_unknown_model_is_a_json_404(client, catalog):
    response = client.get("/api/v1/models/999999")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_dealers_with_hours_in_shanghai_time_and_services(client, catalog):
    body = client.get("/api/v1/dealers?city=shanghai").get_json()
    assert [d["code"] for d in body["dealers"]] == ["SH-1", "SH-2"]
    first = body["dealers"][0]
    assert first["hours"]["mon"] == {"opens": "09:00", "closes": "18:00"} and first["timezone"] == "Asia/Shanghai"
    assert first["services"] == ["test_drive", "pickup", "self_service_kiosk"]
    assert set(first) >= {"id", "code", "name", "name_zh", "city", "address", "hours", "services"}


def test_dealer_stock_by_trim_and_colour(client, catalog):
    dealer = catalog.dealers[0]
    body = client.get(f"/api/v1/dealers/{dealer.id}/stock").get_json()
    assert [(s["trim_id"], s["colour"], s["units"]) for s in body["stock"]] == [
        (catalog.trims[0].id, "pearl-white", 1), (catalog.trims[1].id, "pearl-white", 1)]
    other = client.get(f"/api/v1/dealers/{dealer.id}/stock?model_id={catalog.car_models[2].id}").get_json()
    assert other["stock"] == []
    assert client.get(f"/api/v1/dealers/{dealer.id}/stock?model_id=999999").status_code == 404
    assert client.get("/api/v1/dealers/999999/stock").status_code == 404
    assert client.get(f"/api/v1/dealers/{dealer.id}/stock?model_id=x").status_code == 400


def test_gets_carry_an_etag_and_answer_304_when_it_matches(client, catalog):
    first = client.get("/api/v1/models")
    assert first.headers["Cache-Control"] == "public, max-age=60" and first.headers["ETag"]
    again = client.get("/api/v1/models", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    changed = client.get("/api/v1/models", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


def test_no_cors_headers_unless_configured(app, client, catalog, monkeypatch):
    response = client.get("/api/v1/dealers", headers={"Origin": "https://partner.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    monkeypatch.setitem(app.config, "API_CORS_ORIGINS", "https://partner.example")
    allowed = client.get("/api/v1/dealers", headers={"Origin": "https://partner.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/v1/dealers", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options("/api/v1/inventory/vehicles/X", headers={
        "Origin": "https://partner.example", "Access-Control-Request-Method": "PUT"})
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]


def test_errors_share_one_shape_including_405_with_allow(client, catalog):
    response = client.delete("/api/v1/models")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and set(missing.get_json()) == {"error", "message"}


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/models/{id}"])
def test_a_catalog_answer_that_misses_every_cache_costs_at_most_four_statements(client, app, catalog, count_queries,
                                                                              path, monkeypatch):
    # As on the catalog pages: lapsed holds are released at most every few seconds, not by every answer.
    monkeypatch.setitem(app.config, "HOLD_RELEASE_INTERVAL_SECONDS", 3600)
    url = path.format(id=catalog.car_models[0].id)
    client.get(url)  # the store's first request wires things up (store clock, settings); then count one answer
    with count_queries() as counter:
        assert client.get(url + "?per_page=50" if "{id}" not in path else url).status_code == 200
    assert counter.count <= 4, counter.count
