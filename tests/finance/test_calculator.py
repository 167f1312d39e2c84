"""Tests for the finance calculator: hand-checked values, invariants and validation."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storefront.finance.calculator import (
    DEFAULT_PURCHASE_RULES,
    FEN,
    NEV_TAX_RULE_2024_2025,
    NEV_TAX_RULE_2026_2027,
    CalculatorError,
    LeaseEndChoice,
    LoanQuote,
    NevTaxRule,
    PurchaseRules,
    ResidualPolicy,
    ScheduleRow,
    cumulative_cost,
    full_payment,
    lease_to_own,
    loan,
    operating_lease,
    quantize_fen,
)

D = Decimal
# No example database: a failure must reproduce from the printed example, not from a
# local .hypothesis/ store. Amortizing products get the most examples.
PROPERTY = settings(max_examples=200, deadline=None, database=None)
QUICK_PROPERTY = settings(max_examples=100, deadline=None, database=None)


# --- Independent reference maths (exact fractions, no calculator code) ----------------


def to_fen(x: Fraction) -> Decimal:
    """Half-up to the fen for a non-negative exact value."""
    return D(math.floor(x * 100 + Fraction(1, 2))).scaleb(-2)


def exact_payment(amount: str, annual_pct: str, months: int, balloon: str = "0") -> Decimal:
    """Textbook annuity: PV = P·(1 - v^n)/r + B·v^n, solved for P, rounded half up."""
    a, b = Fraction(amount), Fraction(balloon)
    r = Fraction(annual_pct) / 1200
    if r == 0:
        return to_fen((a - b) / months)
    v_n = (1 + r) ** -months
    return to_fen((a - b * v_n) * r / (1 - v_n))


def present_value(flows: list[Decimal], annual_pct: Decimal) -> Fraction:
    v = 1 / (1 + Fraction(annual_pct) / 1200)
    return sum((Fraction(f) * v ** (k + 1) for k, f in enumerate(flows)), Fraction(0))


def assert_fen(quote: Any) -> None:
    """Every money Decimal in a quote and its schedules has exactly two decimals;
    rates (`*_pct`) are exempt, and no field is a float."""
    for f in dataclasses.fields(quote):
        value = getattr(quote, f.name)
        assert not isinstance(value, float), f.name
        if isinstance(value, Decimal) and not f.name.endswith("_pct"):
            assert value.as_tuple().exponent == -2, (f.name, value)
        elif isinstance(value, tuple):
            exponents = {
                amount.as_tuple().exponent
                for row in value
                for amount in (row.payment, row.interest, row.principal, row.balance)
            }
            assert exponents == {-2}, f.name


def assert_schedule_closes(rows: tuple[ScheduleRow, ...], amount: D, balloon: D) -> None:
    assert sum((row.principal for row in rows), D(0)) == amount - balloon
    assert rows[-1].balance == balloon
    assert [row.month for row in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row.payment == row.interest + row.principal
        assert row.interest >= 0 and row.payment >= 0


# --- Rounding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.005", "0.01"), ("0.004999", "0.00"), ("2.675", "2.68"), ("-1.005", "-1.01")],
)
def test_quantize_fen_rounds_half_up(value: str, expected: str) -> None:
    assert quantize_fen(D(value)) == D(expected)
    assert quantize_fen(D(value)).as_tuple().exponent == FEN.as_tuple().exponent


# --- Full payment ---------------------------------------------------------------------


def test_purchase_tax_is_charged_on_the_price_net_of_vat() -> None:
    quote = full_payment(price=D(149800), is_new_energy=False, rules=DEFAULT_PURCHASE_RULES)

    assert quote.price_excl_vat == D("132566.37")
    assert quote.purchase_tax == D("13256.64")  # 149800 / 1.13 × 10% = 13256.637…
    assert quote.nev_tax_relief == D("0.00")
    assert quote.insurance == D("3946.00")  # 2% of price + ¥950
    assert quote.total == D("149800.00") + D("13256.64") + D("500.00") + D("3946.00")
    assert quote.outlays() == [quote.total]
    assert_fen(quote)


@pytest.mark.parametrize(
    ("rule", "price", "relief", "tax"),
    [
        (NEV_TAX_RULE_2024_2025, "200000", "17699.12", "0.00"),  # fully exempt
        (NEV_TAX_RULE_2024_2025, "339000", "30000.00", "0.00"),  # exactly at the cap
        (NEV_TAX_RULE_2024_2025, "400000", "30000.00", "5398.23"),  # 35398.23 - cap
        (NEV_TAX_RULE_2026_2027, "200000", "8849.56", "8849.56"),  # halved
        (NEV_TAX_RULE_2026_2027, "339000", "15000.00", "15000.00"),  # half = cap
        (NEV_TAX_RULE_2026_2027, "400000", "15000.00", "20398.23"),  # cap bites
        (None, "200000", "0.00", "17699.12"),  # no relief configured
    ],
)
def test_nev_purchase_tax_relief(rule: NevTaxRule | None, price: str, relief: str, tax: str) -> None:
    rules = PurchaseRules(nev_rule=rule)

    quote = full_payment(price=D(price), is_new_energy=True, rules=rules)

    assert quote.nev_tax_relief == D(relief)
    assert quote.purchase_tax == D(tax)
    assert quote.purchase_tax + quote.nev_tax_relief == quote.purchase_tax_before_relief
    assert_fen(quote)


def test_fuel_car_gets_no_nev_relief() -> None:
    rules = PurchaseRules(nev_rule=NEV_TAX_RULE_2024_2025)
    quote = full_payment(price=D(200000), is_new_energy=False, rules=rules)
    assert quote.purchase_tax == D("17699.12")


@given(
    price=st.integers(1, 10**10).map(lambda fen: D(fen).scaleb(-2)),
    nev=st.booleans(),
    rule=st.sampled_from([None, NEV_TAX_RULE_2024_2025, NEV_TAX_RULE_2026_2027]),
)
@QUICK_PROPERTY
def test_full_payment_adds_up(price: D, nev: bool, rule: NevTaxRule | None) -> None:
    quote = full_payment(price=price, is_new_energy=nev, rules=PurchaseRules(nev_rule=rule))

    assert_fen(quote)
    parts = quote.price + quote.purchase_tax + quote.registration_fee + quote.insurance
    assert quote.total == parts
    assert 0 <= quote.purchase_tax <= quote.purchase_tax_before_relief
    if rule is not None and rule.cap is not None:
        assert quote.nev_tax_relief <= rule.cap


# --- Loan -----------------------------------------------------------------------------


def test_loan_hand_checked_payment() -> None:
    quote = loan(price=D(100000), down_payment_pct=D(0), term_months=36, annual_rate_pct=D(4))

    assert quote.monthly_payment == D("2952.40")
    assert quote.monthly_payment == exact_payment("100000", "4", 36)
    assert quote.final_payment == D("2952.34")  # absorbs 35 months of rounding
    assert quote.total_interest == D("6286.34")
    assert quote.total_cost == D("106286.34")
    assert quote.apr_pct == D("4.00")
    assert_schedule_closes(quote.schedule, D(100000), D(0))
    first = quote.schedule[0]
    assert (first.interest, first.principal) == (D("333.33"), D("2619.07"))


@pytest.mark.parametrize(
    ("price", "down_pct", "months", "rate", "balloon_pct"),
    [
        ("100000", "0", 36, "4", "0"),
        ("149800", "20", 12, "3.99", "0"),
        ("249900", "15", 60, "5.5", "0"),
        ("300000", "20", 36, "3.99", "30"),  # Tesla-style 30% 尾款
        ("88888.88", "30", 24, "7.25", "25.5"),
        ("120000", "50", 18, "0", "0"),  # Tmall 2014-style 18-month 0%
        ("1000000", "0", 120, "99.99", "0"),
    ],
)
def test_loan_payment_matches_the_textbook_formula(
    price: str, down_pct: str, months: int, rate: str, balloon_pct: str
) -> None:
    quote = loan(
        price=D(price),
        down_payment_pct=D(down_pct),
        term_months=months,
        annual_rate_pct=D(rate),
        balloon_pct=D(balloon_pct),
    )

    down = to_fen(Fraction(price) * Fraction(down_pct) / 100)
    balloon = to_fen(Fraction(price) * Fraction(balloon_pct) / 100)
    financed = D(price) - down
    assert (quote.down_payment, quote.balloon) == (down, balloon)
    assert quote.monthly_payment == exact_payment(str(financed), rate, months, str(balloon))
    assert_schedule_closes(quote.schedule, financed, balloon)


def test_zero_rate_promotion_splits_evenly_and_fixes_the_last_row() -> None:
    quote = loan(price=D(100000), down_payment_pct=D(0), term_months=36, annual_rate_pct=D(0))

    assert quote.monthly_payment == D("2777.78")
    assert quote.final_payment == D("2777.70")  # 100000 - 35 × 2777.78
    assert quote.total_interest == D("0.00")
    assert quote.apr_pct == D("0.00")
    assert quote.total_cost == D("100000.00")
    assert_schedule_closes(quote.schedule, D(100000), D(0))


def test_fees_raise_the_apr() -> None:
    quote = loan(
        price=D(100000),
        down_payment_pct=D(0),
        term_months=36,
        annual_rate_pct=D(4),
        fees=D(2000),
    )

    assert quote.apr_pct == D("5.35")
    assert quote.total_cost == D("108286.34")
    # Independent check: the true APR lies within half a basis point of the shown one.
    received = Fraction(98000)
    flows = [row.payment for row in quote.schedule]
    assert present_value(flows, quote.apr_pct - D("0.005")) > received
    assert present_value(flows, quote.apr_pct + D("0.005")) < received


def test_subsidised_loan_charges_the_customer_nothing_but_shows_fees_in_apr() -> None:
    quote = loan(
        price=D(100000),
        down_payment_pct=D(0),
        term_months=36,
        annual_rate_pct=D(4),
        fees=D(2000),  # the usual 金融服务费 next to a 0% offer
        subsidised=True,
    )

    assert quote.annual_rate_pct == 0
    assert quote.monthly_payment == D("2777.78")
    assert quote.total_interest == D("0.00")
    assert quote.interest_subsidy == D("6286.34")  # what the maker pays the lender
    assert quote.apr_pct == D("1.32")


def test_loan_outlays_and_cumulative_cost() -> None:
    quote = loan(
        price=D(300000),
        down_payment_pct=D(20),
        term_months=36,
        annual_rate_pct=D("3.99"),
        balloon_pct=D(30),
        fees=D(1000),
    )

    outlays = quote.outlays()
    assert outlays[0] == D("61000.00")  # down payment + fees
    assert outlays[-1] == quote.final_payment + D("90000.00")
    totals = cumulative_cost(outlays)
    assert len(totals) == 37
    assert totals[0] == D("61000.00")
    assert totals[-1] == quote.total_cost
    padded = cumulative_cost(outlays, months=60)
    assert len(padded) == 61 and padded[60] == quote.total_cost
    assert cumulative_cost(outlays, months=0) == [D("61000.00")]


PRICES = st.integers(10_000_00, 3_000_000_00).map(lambda fen: D(fen).scaleb(-2))
PERCENTS = st.integers(0, 90).map(D)
RATES = st.integers(0, 2400).map(lambda bp: D(bp).scaleb(-2))


@st.composite
def loan_quotes(draw: st.DrawFn) -> LoanQuote:
    price = draw(PRICES)
    down_pct = draw(PERCENTS)
    balloon_pct = draw(st.integers(0, 90 - int(down_pct)).map(D))
    financed = price - quantize_fen(price * down_pct / 100)
    fees_fen = draw(st.one_of(st.just(0), st.integers(1, int(financed * 10))))
    return loan(
        price=price,
        down_payment_pct=down_pct,
        term_months=draw(st.integers(1, 120)),
        annual_rate_pct=draw(RATES),
        balloon_pct=balloon_pct,
        fees=D(fees_fen).scaleb(-2),
        subsidised=draw(st.booleans()),
    )


@given(quote=loan_quotes())
@PROPERTY
def test_loan_invariants(quote: LoanQuote) -> None:
    assert_fen(quote)
    assert quote.apr_pct.as_tuple().exponent == -2
    assert_schedule_closes(quote.schedule, quote.amount_financed, quote.balloon)
    payments = sum((row.payment for row in quote.schedule), D(0))
    expected_total = quote.down_payment + payments + quote.balloon + quote.fees
    assert quote.total_cost == expected_total
    assert quote.total_cost == quote.price + quote.total_interest + quote.fees
    assert cumulative_cost(quote.outlays())[-1] == quote.total_cost
    if quote.fees > 0:
        assert quote.apr_pct >= quote.annual_rate_pct
    else:
        assert abs(quote.apr_pct - quote.annual_rate_pct) <= D("0.01")


# --- Lease-to-own ---------------------------------------------------------------------


def test_lease_to_own_three_paths() -> None:
    quote = lease_to_own(
        price=D(150000),
        annual_rate_pct=D(6),
        residual_pct=D(65),
        balance_annual_rate_pct=D(6),
        fees=D(500),
    )

    assert quote.down_payment == D("15000.00")  # 一成 = 10%
    assert quote.balance == D("97500.00")
    assert quote.monthly_rent == exact_payment("135000", "6", 12, "97500")
    assert quote.balance_monthly_payment == exact_payment("97500", "6", 36)
    assert_schedule_closes(quote.rent_schedule, D(135000), D(97500))
    assert_schedule_closes(quote.balance_schedule, D(97500), D(0))
    rents = sum((row.payment for row in quote.rent_schedule), D(0))
    assert quote.total_if_returned == D(15000) + D(500) + rents
    assert quote.total_if_paid_off == quote.total_if_returned + D(97500)
    assert quote.total_if_financed == quote.total_if_paid_off + quote.balance_interest
    assert quote.apr_pct > D(6)  # the fee
    assert_fen(quote)
    lengths = {choice: len(quote.outlays(choice)) for choice in LeaseEndChoice}
    assert lengths == {
        LeaseEndChoice.PAY_BALANCE: 13,
        LeaseEndChoice.RETURN_CAR: 13,
        LeaseEndChoice.FINANCE_BALANCE: 49,
    }
    for choice in LeaseEndChoice:
        assert cumulative_cost(quote.outlays(choice))[-1] == quote.total_cost(choice)
        assert quote.outlays(choice)[0] == D("15500.00")


@given(
    price=PRICES,
    down_pct=st.integers(0, 30).map(D),
    residual_pct=st.integers(1, 70).map(D),
    rate=RATES,
    balance_rate=RATES,
    months=st.integers(1, 36),
    balance_months=st.integers(1, 60),
    fees=st.integers(0, 500_00).map(lambda fen: D(fen).scaleb(-2)),
)
@PROPERTY
def test_lease_to_own_invariants(
    price: D,
    down_pct: D,
    residual_pct: D,
    rate: D,
    balance_rate: D,
    months: int,
    balance_months: int,
    fees: D,
) -> None:
    quote = lease_to_own(
        price=price,
        down_payment_pct=down_pct,
        annual_rate_pct=rate,
        residual_pct=residual_pct,
        balance_annual_rate_pct=balance_rate,
        months=months,
        balance_finance_months=balance_months,
        fees=fees,
    )

    assert_fen(quote)
    assert_schedule_closes(quote.rent_schedule, price - quote.down_payment, quote.balance)
    assert_schedule_closes(quote.balance_schedule, quote.balance, D(0))
    for choice in LeaseEndChoice:
        assert sum(quote.outlays(choice), D(0)) == quote.total_cost(choice)
    assert quote.total_if_returned < quote.total_if_paid_off <= quote.total_if_financed
    assert quote.apr_pct >= rate if fees > 0 else abs(quote.apr_pct - rate) <= D("0.01")


# --- Operating lease ------------------------------------------------------------------


def test_operating_lease_hand_checked() -> None:
    quote = operating_lease(
        price=D(150000),
        term_months=36,
        annual_mileage_km=25_000,
        annual_rate_pct=D(6),
        fees=D(800),
    )

    assert quote.residual_pct == D(48)  # 52% base, two started 5,000 km steps over
    assert quote.residual_value == D("72000.00")
    assert quote.monthly_depreciation == D("2166.67")  # 78000 / 36
    assert quote.money_factor == D("0.0025")  # 6 / 2400
    assert quote.monthly_finance_charge == D("555.00")  # 222000 × 0.0025
    assert quote.monthly_payment == D("2721.67")
    assert quote.total_cost == D("2721.67") * 36 + D(800)
    assert quote.mileage_allowance_km == 75_000
    assert quote.mileage_overage_rate_per_km == D("0.50")
    assert cumulative_cost(quote.outlays())[-1] == quote.total_cost
    assert cumulative_cost(quote.outlays())[0] == D("800.00")
    assert_fen(quote)


@pytest.mark.parametrize(
    ("km", "expected_pct"),
    [(0, 52), (15_000, 52), (15_001, 50), (20_000, 50), (20_001, 48), (200_000, 10)],
)
def test_residual_falls_per_started_step_above_the_included_mileage(km: int, expected_pct: int) -> None:
    policy = ResidualPolicy()
    assert policy.residual_pct(term_months=36, annual_mileage_km=km) == expected_pct


@given(
    price=PRICES,
    term=st.sampled_from(ResidualPolicy().terms),
    km=st.integers(0, 200_000),
    rate=RATES,
)
@QUICK_PROPERTY
def test_operating_lease_invariants(price: D, term: int, km: int, rate: D) -> None:
    quote = operating_lease(price=price, term_months=term, annual_mileage_km=km, annual_rate_pct=rate)

    assert_fen(quote)
    assert 0 < quote.residual_value < quote.price
    assert quote.monthly_payment == quote.monthly_depreciation + quote.monthly_finance_charge
    assert quote.total_cost == quote.monthly_payment * term + quote.fees


# --- Validation -----------------------------------------------------------------------

LOAN_OK: dict[str, Any] = {
    "price": D(100000),
    "down_payment_pct": D(20),
    "term_months": 36,
    "annual_rate_pct": D(4),
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": D(0)}, "price"),
        ({"price": D(-1)}, "price"),
        ({"price": D("0.001")}, "price"),
        ({"price": D("1e9")}, "price"),
        ({"price": D("NaN")}, "price"),
        ({"price": D("Infinity")}, "price"),
        ({"down_payment_pct": D(-1)}, "down_payment_pct"),
        ({"down_payment_pct": D("100.01")}, "down_payment_pct"),
        ({"down_payment_pct": D(100)}, "down_payment_pct"),  # nothing to finance
        ({"term_months": 0}, "term_months"),
        ({"term_months": 121}, "term_months"),
        ({"annual_rate_pct": D("-0.01")}, "annual_rate_pct"),
        ({"annual_rate_pct": D("100.01")}, "annual_rate_pct"),
        ({"balloon_pct": D(-1)}, "balloon_pct"),
        ({"balloon_pct": D("80.01")}, "balloon_pct"),  # 20% down leaves 80%
        ({"fees": D(-1)}, "fees"),
        ({"fees": D("0.001")}, "fees"),
        ({"fees": D(80000)}, "fees"),  # not less than the amount financed
    ],
)
def test_loan_rejects_bad_input(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(CalculatorError) as excinfo:
        loan(**{**LOAN_OK, **changes})
    assert excinfo.value.field == field
    assert excinfo.value.user_message
    assert str(excinfo.value).startswith(f"{field}: ")
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    "changes",
    [
        {"price": 100000.0},
        {"price": 100000},
        {"price": "100000"},
        {"annual_rate_pct": 4.0},
        {"down_payment_pct": 20.0},
        {"balloon_pct": 0.0},
        {"fees": 0.0},
        {"term_months": 36.0},
        {"term_months": True},
        {"subsidised": 1},
    ],
)
def test_loan_refuses_floats_and_other_types(changes: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        loan(**{**LOAN_OK, **changes})


def test_other_quotes_refuse_floats() -> None:
    with pytest.raises(TypeError):
        full_payment(price=149800.0, is_new_energy=False, rules=DEFAULT_PURCHASE_RULES)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        operating_lease(
            price=D(150000),
            term_months=36,
            annual_mileage_km=20_000,
            annual_rate_pct=6.0,  # type: ignore[arg-type]
        )
    with pytest.raises(TypeError):
        cumulative_cost([D(1), 2.0])  # type: ignore[list-item]


LEASE_OK: dict[str, Any] = {
    "price": D(150000),
    "annual_rate_pct": D(6),
    "residual_pct": D(65),
    "balance_annual_rate_pct": D(6),
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price": D(-150000)}, "price"),
        ({"residual_pct": D(0)}, "residual_pct"),
        ({"residual_pct": D("90.01")}, "residual_pct"),  # 10% down leaves 90%
        ({"down_payment_pct": D(101)}, "down_payment_pct"),
        ({"annual_rate_pct": D(101)}, "annual_rate_pct"),
        ({"balance_annual_rate_pct": D(-1)}, "balance_annual_rate_pct"),
        ({"months": 0}, "months"),
        ({"balance_finance_months": 121}, "balance_finance_months"),
        ({"fees": D(135000)}, "fees"),
    ],
)
def test_lease_to_own_rejects_bad_input(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(CalculatorError) as excinfo:
        lease_to_own(**{**LEASE_OK, **changes})
    assert excinfo.value.field == field


OPERATING_OK: dict[str, Any] = {
    "price": D(150000),
    "term_months": 36,
    "annual_mileage_km": 20_000,
    "annual_rate_pct": D(6),
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"term_months": 30}, "term_months"),  # not offered by the residual table
        ({"term_months": 0}, "term_months"),
        ({"annual_mileage_km": -1}, "annual_mileage_km"),
        ({"annual_mileage_km": 200_001}, "annual_mileage_km"),
        ({"annual_rate_pct": D(-1)}, "annual_rate_pct"),
        ({"mileage_overage_rate_per_km": D("-0.5")}, "mileage_overage_rate_per_km"),
        ({"fees": D(-1)}, "fees"),
    ],
)
def test_operating_lease_rejects_bad_input(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(CalculatorError) as excinfo:
        operating_lease(**{**OPERATING_OK, **changes})
    assert excinfo.value.field == field


def test_unoffered_lease_term_lists_the_offered_ones() -> None:
    with pytest.raises(CalculatorError, match="12, 24, 36, 48, 60"):
        operating_lease(**{**OPERATING_OK, "term_months": 30})


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: NevTaxRule(rate_factor=D("1.5"), cap=None), "rate_factor"),
        (lambda: NevTaxRule(rate_factor=D(0), cap=D(-1)), "cap"),
        (lambda: PurchaseRules(vat_pct=D(-13)), "vat_pct"),
        (lambda: PurchaseRules(registration_fee=D("-500")), "registration_fee"),
        (lambda: PurchaseRules(insurance_pct=D(101)), "insurance_pct"),
        (lambda: ResidualPolicy(base_residual_pct_by_term=()), "base_residual_pct_by_term"),
        (
            lambda: ResidualPolicy(base_residual_pct_by_term=((36, D(100)),)),
            "base_residual_pct_by_term",
        ),
        (lambda: ResidualPolicy(step_km=0), "step_km"),
        (lambda: cumulative_cost([D(1)], months=-1), "months"),
    ],
)
def test_rule_objects_reject_bad_settings(build: Any, field: str) -> None:
    with pytest.raises(CalculatorError) as excinfo:
        build()
    assert excinfo.value.field == field
