"""The operating-lease additions to the calculator: a month-by-month schedule and a solved APR."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storefront.finance.calculator import (
    CalculatorError,
    operating_lease,
    operating_lease_apr_pct,
    operating_lease_schedule,
)

D = Decimal


def lease(**changes):  # type: ignore[no-untyped-def]
    return operating_lease(
        **{
            "price": D("180000.00"),
            "term_months": 36,
            "annual_mileage_km": 15_000,
            "annual_rate_pct": D("5.5"),
            **changes,
        }
    )


def test_schedule_rows_add_up_to_the_payments():
    quote = lease()
    rows = operating_lease_schedule(quote)
    assert len(rows) == 36 and {row.payment for row in rows} == {quote.monthly_payment} == {D("3027.00")}
    assert rows[0].interest == quote.monthly_finance_charge and rows[0].principal == quote.monthly_depreciation
    assert rows[-1].balance == quote.price - 36 * quote.monthly_depreciation == D("93600.00")  # = the residual here


def test_apr_of_a_fee_free_lease_is_close_to_its_rate_and_fees_raise_it():
    assert operating_lease_apr_pct(lease()) == D("5.41")
    assert operating_lease_apr_pct(lease(fees=D(3000))) > D("5.41")
    assert operating_lease_apr_pct(lease(annual_rate_pct=D(0))) == D("0.00")


def test_apr_refuses_fees_as_large_as_the_car():
    with pytest.raises(CalculatorError):
        operating_lease_apr_pct(lease(price=D("1000.00"), fees=D("1000.00")))


@settings(max_examples=50, deadline=None, database=None)
@given(
    price=st.integers(min_value=30_000, max_value=3_000_000).map(D),
    term=st.sampled_from([12, 24, 36, 48, 60]),
    rate=st.integers(min_value=0, max_value=1500).map(lambda bp: D(bp) / 100),
)
def test_schedule_ends_within_rounding_of_the_residual(price, term, rate):
    quote = lease(price=price, term_months=term, annual_rate_pct=rate)
    rows = operating_lease_schedule(quote)
    assert abs(rows[-1].balance - quote.residual_value) <= D("0.005") * term
    assert sum(row.payment for row in rows) + quote.fees == quote.total_cost
    assert D(0) <= operating_lease_apr_pct(quote) < rate + D(1)
