"""From product + price + choices to one quote shape: strict parsing, product rules, every kind, JSON money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import FinanceKind, FinanceProduct
from storefront.errors import DomainError
from storefront.finance.quoting import (
    QuoteInputs,
    build_quote,
    chart_data,
    check_inputs,
    default_inputs,
    parse_percent,
    parse_whole,
)
from storefront.finance.seed import PRODUCTS, VALID_FROM

D = Decimal
PRICE = D("180000.00")


def product(code: str, **changes: object) -> FinanceProduct:
    """A transient product from the seed list (no database needed)."""
    spec = {k: v for k, v in next(p for p in PRODUCTS if p["code"] == code).items() if k != "brand"}
    defaults = {
        "annual_rate_pct": D(0),
        "subsidised": False,
        "balloon_allowed": False,
        "max_balloon_pct": D(0),
        "fees": D(0),
        "residual_by_term": {},
        "mileage_options_km": [],
        "version": 1,
        "is_current": True,
    }
    return FinanceProduct(**{**defaults, **spec, "valid_from": VALID_FROM, **changes})


def money_strings(value: object) -> list[str]:
    """Every *_cny value anywhere in a quote's JSON."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_cny"):
                found.append(item)
            else:
                found += money_strings(item)
    elif isinstance(value, list):
        for item in value:
            found += money_strings(item)
    return found


# --- Parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(20, D(20)), ("20", D(20)), ("12.5", D("12.5")), (" 30 ", D(30)), ("0.05", D("0.05")), ("-5", D(-5))],
)
def test_percentages_parse_to_decimal(raw, expected):
    assert parse_percent(raw) == expected


@pytest.mark.parametrize("raw", [12.5, True, None, "abc", "1e3", "12.345", "NaN", "Infinity", "", "20%", [20]])
def test_percentages_refuse_floats_and_odd_text(raw):
    with pytest.raises(ValueError):
        parse_percent(raw)


def test_json_floats_become_exact_decimals_or_are_refused():
    assert parse_percent(12.5, allow_float=True) == D("12.5")
    assert parse_percent(20.0, allow_float=True) == D("20.0")
    for bad in (0.1 + 0.2, float("nan"), float("inf"), 1e-7):
        with pytest.raises(ValueError):
            parse_percent(bad, allow_float=True)


@pytest.mark.parametrize(("raw", "expected"), [(36, 36), ("36", 36), (" 12 ", 12), (0, 0)])
def test_whole_numbers(raw, expected):
    assert parse_whole(raw) == expected


@pytest.mark.parametrize("raw", [36.0, True, "3.5", "-1", "", None, "1e2", "36 months"])
def test_whole_numbers_refuse_the_rest(raw):
    with pytest.raises(ValueError):
        parse_whole(raw)


# --- Product rules --------------------------------------------------------------------


def test_defaults_per_kind():
    assert default_inputs(product("full-payment")) == QuoteInputs(D(100), 0)
    assert default_inputs(product("renault-finance-loan")) == QuoteInputs(D(20), 36)
    assert default_inputs(product("ford-credit-0pct-24")) == QuoteInputs(D(30), 24)  # min 30 %; 36 not offered
    assert default_inputs(product("yichenggou")) == QuoteInputs(D(10), 12)
    assert default_inputs(product("operating-lease")) == QuoteInputs(D(0), 36, annual_mileage_km=15_000)


@pytest.mark.parametrize(
    ("code", "inputs", "field"),
    [
        ("renault-finance-loan", QuoteInputs(D(20), 30), "term_months"),
        ("renault-finance-loan", QuoteInputs(D(10), 36), "down_payment_pct"),
        ("renault-finance-loan", QuoteInputs(D(81), 36), "down_payment_pct"),
        ("renault-finance-loan", QuoteInputs(D(101), 36), "down_payment_pct"),
        ("renault-finance-loan", QuoteInputs(D(-1), 36), "down_payment_pct"),
        ("renault-finance-loan", QuoteInputs(D(20), 36, balloon_pct=D(31)), "balloon_pct"),
        ("renault-finance-loan", QuoteInputs(D(20), 36, balloon_pct=D(-1)), "balloon_pct"),
        ("renault-finance-loan", QuoteInputs(D(80), 36, balloon_pct=D(20)), "balloon_pct"),
        ("bank-loan", QuoteInputs(D(20), 36, balloon_pct=D(10)), "balloon_pct"),
        ("yichenggou", QuoteInputs(D(10), 36), "term_months"),
        ("operating-lease", QuoteInputs(D(10), 36), "down_payment_pct"),
        ("operating-lease", QuoteInputs(D(0), 36, annual_mileage_km=200_001), "annual_mileage_km"),
        ("full-payment", QuoteInputs(D(20), 0), "down_payment_pct"),
        ("full-payment", QuoteInputs(D(100), 12), "term_months"),
    ],
)
def test_what_a_product_does_not_offer_is_refused_by_field(code, inputs, field):
    with pytest.raises(DomainError) as caught:
        check_inputs(product(code), inputs)
    assert field in caught.value.fields and caught.value.status_code == 422


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(DomainError) as caught:
        check_inputs(product("renault-finance-loan"), QuoteInputs(D(5), 30, balloon_pct=D(50)))
    assert set(caught.value.fields) == {"term_months", "down_payment_pct", "balloon_pct"}


def test_operating_lease_mileage_defaults_to_the_included_kilometres():
    assert check_inputs(product("operating-lease"), QuoteInputs(D(0), 36)).annual_mileage_km == 15_000


def test_a_calculator_refusal_names_a_field():
    # 30 % down + a 65 % balance leaves 5 % to rent down: fine; 40 % down would leave less than nothing.
    lto = product("yichenggou", max_down_payment_pct=D(40))
    with pytest.raises(DomainError) as caught:
        build_quote(price=PRICE, is_new_energy=False, product=lto, inputs=QuoteInputs(D(40), 12))
    assert "down_payment_pct" in caught.value.fields


# --- Every kind, mapped to one shape --------------------------------------------------


def test_loan_quote_maps_the_calculator():
    result = build_quote(
        price=PRICE, is_new_energy=False, product=product("renault-finance-loan"), inputs=QuoteInputs(D(20), 36)
    )
    assert result.kind is FinanceKind.LOAN
    assert (result.down_payment, result.amount_financed, result.fees) == (D("36000.00"), D("144000.00"), D("1500.00"))
    assert sum(row.principal for row in result.schedule) == result.amount_financed
    assert result.total_cost == result.down_payment + sum(r.payment for r in result.schedule) + result.fees
    assert result.apr_pct > D("3.99")  # the fee makes the APR dearer than the rate
    assert result.cumulative(36)[-1] == result.total_cost


def test_subsidised_loan_charges_no_interest_and_says_who_pays():
    result = build_quote(
        price=PRICE, is_new_energy=False, product=product("ford-credit-0pct-24"), inputs=QuoteInputs(D(30), 24)
    )
    assert result.total_interest == D("0.00")
    assert result.details["annual_rate_pct"] == D(0) and result.details["interest_subsidy_cny"] > 0
    assert {row.payment for row in result.schedule[:-1]} == {result.monthly_payment}
    assert result.apr_pct > 0  # the ¥3,000 service fee is the cost of this "0 %" credit


def test_full_payment_has_no_credit_and_estimates_the_on_the_road_costs():
    result = build_quote(
        price=PRICE, is_new_energy=False, product=product("full-payment"), inputs=QuoteInputs(D(100), 0)
    )
    assert (result.total_cost, result.monthly_payment, result.schedule, result.apr_pct) == (PRICE, D("0.00"), (), 0)
    assert result.details["purchase_tax_cny"] == D("15929.20")  # 180,000 / 1.13 × 10 %
    assert result.details["on_the_road_total_cny"] == PRICE + result.details["on_the_road_extras_cny"]


def test_lease_to_own_totals_follow_the_three_paths():
    result = build_quote(price=PRICE, is_new_energy=False, product=product("yichenggou"), inputs=QuoteInputs(D(10), 12))
    d = result.details
    assert result.down_payment == D("18000.00") and d["balance_cny"] == D("117000.00")
    assert result.total_cost == d["total_if_paid_off_cny"] == d["total_if_returned_cny"] + d["balance_cny"]
    assert d["total_if_financed_cny"] > d["total_if_paid_off_cny"]
    assert result.outlays[12] == result.schedule[-1].payment + d["balance_cny"]  # the balance is paid with rent 12


def test_operating_lease_schedule_pays_down_to_the_residual():
    result = build_quote(
        price=PRICE,
        is_new_energy=False,
        product=product("operating-lease"),
        inputs=QuoteInputs(D(0), 36, annual_mileage_km=25_000),
    )
    d = result.details
    assert d["residual_pct"] == D(48)  # 52 % for 36 months, less 2 points for each started 5,000 km over 15,000
    assert sum(row.payment for row in result.schedule) + result.fees == result.total_cost
    assert abs(result.schedule[-1].balance - d["residual_value_cny"]) < D("0.50")
    assert D(5) < result.apr_pct < D(7)


def test_json_has_money_as_strings_with_two_decimals():
    for code, inputs in [
        ("full-payment", QuoteInputs(D(100), 0)),
        ("renault-finance-loan", QuoteInputs(D(20), 36)),
        ("yichenggou", QuoteInputs(D(10), 24)),
        ("operating-lease", QuoteInputs(D(0), 24)),
    ]:
        body = build_quote(price=PRICE, is_new_energy=False, product=product(code), inputs=inputs).to_json()
        amounts = money_strings(body)
        assert amounts and all(
            isinstance(a, str) and a.split(".")[1].isdigit() and len(a.split(".")[1]) == 2 for a in amounts
        ), code
        assert isinstance(body["apr_pct"], str) and len(body["apr_pct"].split(".")[1]) == 2


def test_chart_data_gives_every_option_the_same_months():
    results = [
        (
            code,
            build_quote(price=PRICE, is_new_energy=False, product=product(code), inputs=default_inputs(product(code))),
        )
        for code in ("full-payment", "ford-credit-0pct-24", "operating-lease")
    ]
    chart = chart_data(results)
    assert chart["labels"] == list(range(37))
    assert {len(ds["data"]) for ds in chart["datasets"]} == {37}
    assert chart["datasets"][0]["data"][-1] == "180000.00"
    assert all(isinstance(value, str) for ds in chart["datasets"] for value in ds["data"])


@settings(max_examples=60, deadline=None, database=None)
@given(
    price=st.integers(min_value=50_000, max_value=2_000_000).map(lambda yuan: D(yuan)),
    down=st.integers(min_value=20, max_value=80),
    term=st.sampled_from([12, 24, 36, 48, 60]),
    balloon=st.integers(min_value=0, max_value=30),
)
def test_any_valid_loan_quotes_exactly(price, down, term, balloon):
    inputs = QuoteInputs(D(down), term, balloon_pct=D(balloon))
    loan = product("renault-finance-loan")
    if down + balloon >= 100:
        with pytest.raises(DomainError):
            build_quote(price=price, is_new_energy=False, product=loan, inputs=inputs)
        return
    result = build_quote(price=price, is_new_energy=False, product=loan, inputs=inputs)
    assert sum(row.principal for row in result.schedule) + result.balloon == result.amount_financed
    assert result.schedule[-1].balance == result.balloon
    assert result.cumulative(term)[-1] == result.total_cost
    assert all(a.count(".") == 1 and len(a.split(".")[1]) == 2 for a in money_strings(result.to_json()))


def test_validity_window_of_products():
    promo = product("ford-credit-0pct-24", valid_to=dt.datetime(2027, 12, 31, 16, tzinfo=dt.UTC))
    assert promo.is_valid_at(dt.datetime(2027, 12, 31, 15, 59, tzinfo=dt.UTC))
    assert not promo.is_valid_at(dt.datetime(2027, 12, 31, 16, tzinfo=dt.UTC))
    assert not promo.is_valid_at(VALID_FROM - dt.timedelta(seconds=1))
