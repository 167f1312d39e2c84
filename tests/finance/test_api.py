"""JSON API: GET /api/v1/finance-products and POST /api/v1/quotes (computes, saves nothing)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models import Event, Quote

MONEY = re.compile(r"^-?\d+\.\d{2}$")
CONTRACT = {
    "price_cny",
    "down_payment_cny",
    "amount_financed_cny",
    "monthly_payment_cny",
    "total_interest_cny",
    "total_cost_cny",
    "apr_pct",
    "schedule",
}
ROW = {"month", "payment_cny", "interest_cny", "principal_cny", "balance_cny"}


@pytest.fixture
def body(products, kadjar):  # type: ignore[no-untyped-def]
    return {
        "trim_id": kadjar.id,
        "product_id": products["renault-finance-loan"].id,
        "down_payment_pct": 20,
        "term_months": 36,
    }


def post(client, payload):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/quotes", json=payload)


def test_products_list_has_the_contract_fields(client, products):
    response = client.get("/api/v1/finance-products")
    assert response.status_code == 200
    listed = response.get_json()["products"]
    assert len(listed) == 6
    loan = next(p for p in listed if p["id"] == products["renault-finance-loan"].id)
    assert {
        "id",
        "kind",
        "name",
        "annual_rate_pct",
        "terms_months",
        "min_down_payment_pct",
        "max_down_payment_pct",
        "fees",
    } <= set(loan)
    assert loan["annual_rate_pct"] == "3.99" and loan["terms_months"] == [12, 24, 36, 48, 60]
    assert (loan["min_down_payment_pct"], loan["max_down_payment_pct"], loan["fees"]) == ("20.00", "80.00", "1500.00")
    promo = next(p for p in listed if p["kind"] == "loan" and p["subsidised"])
    assert promo["annual_rate_pct"] == "0.00"  # what the customer pays; Ford pays the interest


def test_products_can_be_filtered_by_brand(client, products):
    listed = client.get("/api/v1/finance-products?brand=ford").get_json()["products"]
    assert "renault-finance-loan" not in {p["code"] for p in listed} and "ford-credit-0pct-24" in {
        p["code"] for p in listed
    }


def test_a_quote_follows_the_contract(client, db, body):
    response = post(client, body)
    assert response.status_code == 200
    quote = response.get_json()
    assert set(quote) >= CONTRACT
    assert quote["price_cny"] == "160000.00" and quote["down_payment_cny"] == "32000.00"
    assert quote["amount_financed_cny"] == "128000.00" and quote["monthly_payment_cny"] == "3778.50"
    assert quote["apr_pct"] == "4.77" and quote["total_cost_cny"] == "169526.03"
    assert len(quote["schedule"]) == 36 and set(quote["schedule"][0]) == ROW
    assert quote["schedule"][-1]["balance_cny"] == "0.00"
    for key, value in quote.items():
        if key.endswith("_cny"):
            assert isinstance(value, str) and MONEY.match(value), key
    assert all(MONEY.match(row[k]) for row in quote["schedule"] for k in ROW - {"month"})
    # Computing saves nothing: no quote, no funnel event.
    assert db.scalar(select(func.count(Quote.id))) == 0 and db.scalar(select(func.count(Event.id))) == 0


def test_optional_balloon_and_mileage(client, products, kadjar, body):
    balloon = post(client, {**body, "balloon_pct": "25.5"}).get_json()
    assert balloon["balloon_cny"] == "40800.00" and balloon["schedule"][-1]["balance_cny"] == "40800.00"
    lease = post(
        client,
        {
            "trim_id": kadjar.id,
            "product_id": products["operating-lease"].id,
            "down_payment_pct": 0,
            "term_months": 36,
            "annual_mileage_km": 25000,
        },
    ).get_json()
    assert lease["kind"] == "operating_lease" and lease["details"]["residual_pct"] == "48.00"
    lease_default = post(
        client,
        {"trim_id": kadjar.id, "product_id": products["operating-lease"].id, "down_payment_pct": 0, "term_months": 36},
    ).get_json()
    assert lease_default["details"]["annual_mileage_km"] == 15000


def test_json_floats_are_accepted_for_percentages_only(client, body):
    assert post(client, {**body, "down_payment_pct": 20.5}).get_json()["down_payment_cny"] == "32800.00"
    assert post(client, {**body, "down_payment_pct": "20.50"}).status_code == 200
    assert post(client, {**body, "term_months": 36.0}).status_code == 422


def test_full_payment_and_lease_to_own(client, products, kadjar):
    full = post(
        client,
        {"trim_id": kadjar.id, "product_id": products["full-payment"].id, "down_payment_pct": 100, "term_months": 0},
    ).get_json()
    assert (full["monthly_payment_cny"], full["total_cost_cny"], full["schedule"]) == ("0.00", "160000.00", [])
    lto = post(
        client,
        {"trim_id": kadjar.id, "product_id": products["yichenggou"].id, "down_payment_pct": "10", "term_months": 12},
    ).get_json()
    assert lto["kind"] == "lease_to_own" and len(lto["schedule"]) == 12
    assert lto["total_cost_cny"] == lto["details"]["total_if_paid_off_cny"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"term_months": 30}, "term_months"),  # not offered by the product
        ({"down_payment_pct": 10}, "down_payment_pct"),  # below the product's minimum
        ({"down_payment_pct": 101}, "down_payment_pct"),  # above 100 %
        ({"down_payment_pct": -5}, "down_payment_pct"),  # negative
        ({"down_payment_pct": "1e308"}, "down_payment_pct"),  # absurd
        ({"down_payment_pct": 10**30}, "down_payment_pct"),  # absurd
        ({"down_payment_pct": "NaN"}, "down_payment_pct"),
        ({"down_payment_pct": 0.1 + 0.2}, "down_payment_pct"),  # a float with binary noise
        ({"down_payment_pct": "20.123"}, "down_payment_pct"),  # more than two decimals
        ({"down_payment_pct": True}, "down_payment_pct"),  # wrong type
        ({"down_payment_pct": [20]}, "down_payment_pct"),
        ({"term_months": "thirty-six"}, "term_months"),
        ({"term_months": -36}, "term_months"),
        ({"term_months": 10**12}, "term_months"),
        ({"balloon_pct": 31}, "balloon_pct"),
        ({"balloon_pct": "abc"}, "balloon_pct"),
        ({"annual_mileage_km": -1}, "annual_mileage_km"),
        ({"annual_mileage_km": 12.5}, "annual_mileage_km"),
        ({"trim_id": 999_999}, "trim_id"),  # unknown trim
        ({"trim_id": 2**40}, "trim_id"),  # would overflow an integer column
        ({"trim_id": "1; drop table trims"}, "trim_id"),
        ({"product_id": 999_999}, "product_id"),  # unknown product
        ({"product_id": None}, "product_id"),  # missing
        ({"trim_id": None}, "trim_id"),
        ({"down_payment_pct": None}, "down_payment_pct"),
        ({"term_months": None}, "term_months"),
    ],
)
def test_bad_input_is_422_with_field_messages(client, body, changes, field):
    payload = {k: v for k, v in {**body, **changes}.items() if v is not None}
    response = post(client, payload)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["error"] == "invalid" and error["message"] and field in error["fields"]
    assert all(isinstance(message, str) and message for message in error["fields"].values())


def test_another_brands_product_is_422(client, products, body):
    response = post(client, {**body, "product_id": products["ford-credit-0pct-24"].id})
    assert response.status_code == 422 and "product_id" in response.get_json()["fields"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1, 2]", b'"text"', b"null", b"{'single': 'quotes'}", b"[" * 100_000, b"x" * 10_000],
)
def test_malformed_bodies_are_422(client, raw):
    response = client.post("/api/v1/quotes", data=raw, content_type="application/json")
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_json"


def test_a_missing_content_type_still_parses(client, body):
    import json

    assert client.post("/api/v1/quotes", data=json.dumps(body)).status_code == 200


def test_messages_are_english_whatever_the_language(client, body):
    response = client.post("/api/v1/quotes", json={**body, "term_months": 30}, headers={"Accept-Language": "zh-CN"})
    assert "Choose a term" in response.get_json()["fields"]["term_months"]


def test_the_quote_api_needs_no_csrf_token_but_saving_does(csrf_app, body, kadjar):
    client = csrf_app.test_client()
    assert client.post("/api/v1/quotes", json=body).status_code == 200
    assert client.post(f"/finance/quote/{kadjar.id}/save", data={}).status_code in (302, 400, 401)


def test_get_is_not_allowed_on_quotes(client):
    assert client.get("/api/v1/quotes").status_code == 405


def test_the_endpoints_are_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert "get" in document["paths"]["/finance-products"] and "post" in document["paths"]["/quotes"]
    quotes = document["paths"]["/quotes"]["post"]
    assert "csrf" in quotes["description"].lower() and "422" in quotes["responses"]
