"""From a finance product, a price and the shopper's choices to one quote shape, for pages, API and saving.

Pure: no database, no request. It checks the product's rules (terms offered, down-payment range, balloon),
calls the calculator, and maps its four result types onto one `QuoteResult`. Money stays Decimal and is
rounded only by the calculator (`calculator.quantize_fen`, half up to the fen); `to_json` turns money into
strings with two decimals ("4250.81") and never into floats.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from models import FinanceKind, FinanceProduct
from storefront.errors import DomainError
from storefront.finance import calculator
from storefront.finance.calculator import CalculatorError, LeaseEndChoice, ScheduleRow

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
DEFAULT_LOAN_DOWN_PCT = Decimal(20)
DEFAULT_TERM = 36
DEFAULT_MILEAGE_KM = 15_000
_PERCENT_TEXT = re.compile(r"-?\d{1,12}(\.\d{1,2})?")
_WHOLE_TEXT = re.compile(r"\d{1,12}")


# --- Parsing numbers strictly (query strings, form fields, JSON) ----------------------


def parse_percent(value: object, *, allow_float: bool = False) -> Decimal:
    """A percentage with at most two decimals, from an int or a decimal string ("20", "12.5").

    Floats are refused unless `allow_float` (JSON bodies): then they go through `Decimal(str(x))`, so 12.5
    becomes Decimal("12.5") exactly and 0.1 + 0.2 is refused for having too many decimals. No float
    arithmetic ever happens. Raises ValueError with a message for the user.
    """
    if isinstance(value, bool):
        raise ValueError(_("Enter a percentage such as 20 or 12.5."))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and allow_float:
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(_("Enter a percentage such as 20 or 12.5."))
        if number.as_tuple().exponent < -2:  # type: ignore[operator]  # finite: exponent is an int
            raise ValueError(_("Use at most two decimal places."))
        return number
    if isinstance(value, str) and _PERCENT_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError(_("Enter a percentage such as 20 or 12.5."))


def parse_whole(value: object) -> int:
    """A whole number from an int or a string of digits; floats (even 36.0) and booleans are refused."""
    if isinstance(value, bool):
        raise ValueError(_("Enter a whole number."))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _WHOLE_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise ValueError(_("Enter a whole number."))


# --- Inputs and results ---------------------------------------------------------------


@dataclass(frozen=True)
class QuoteInputs:
    """What the shopper chose. `term_months` is 0 for full payment; mileage only matters for leases."""

    down_payment_pct: Decimal
    term_months: int
    balloon_pct: Decimal = ZERO
    annual_mileage_km: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "down_payment_pct": _pct(self.down_payment_pct),
            "term_months": self.term_months,
            "balloon_pct": _pct(self.balloon_pct),
            "annual_mileage_km": self.annual_mileage_km,
        }


@dataclass(frozen=True)
class QuoteResult:
    """One quote, whatever the kind. `total_cost` is all money out for the car and its finance (down
    payment, instalments, balloon or balance, fees); purchase tax, registration and insurance are not in
    it (see `details` of a full payment for their estimate). `outlays[k]` is the money out in month k."""

    kind: FinanceKind
    price: Decimal
    down_payment: Decimal
    amount_financed: Decimal
    monthly_payment: Decimal
    total_interest: Decimal
    fees: Decimal
    balloon: Decimal
    total_cost: Decimal
    apr_pct: Decimal
    term_months: int
    schedule: tuple[ScheduleRow, ...]
    outlays: tuple[Decimal, ...]
    details: dict[str, Any] = field(default_factory=dict)

    def cumulative(self, months: int) -> list[Decimal]:
        return calculator.cumulative_cost(list(self.outlays), months=months)

    def to_json(self) -> dict[str, Any]:
        """The API's quote body (and what a saved quote freezes): money as strings with two decimals."""
        return {
            "kind": self.kind.value,
            "price_cny": _money(self.price),
            "down_payment_cny": _money(self.down_payment),
            "amount_financed_cny": _money(self.amount_financed),
            "monthly_payment_cny": _money(self.monthly_payment),
            "total_interest_cny": _money(self.total_interest),
            "fees_cny": _money(self.fees),
            "balloon_cny": _money(self.balloon),
            "total_cost_cny": _money(self.total_cost),
            "apr_pct": _pct(self.apr_pct),
            "term_months": self.term_months,
            "schedule": [
                {
                    "month": row.month,
                    "payment_cny": _money(row.payment),
                    "interest_cny": _money(row.interest),
                    "principal_cny": _money(row.principal),
                    "balance_cny": _money(row.balance),
                }
                for row in self.schedule
            ],
            "details": {key: _json_value(key, value) for key, value in self.details.items()},
        }


def _money(amount: Decimal) -> str:
    return str(calculator.quantize_fen(amount))


def _pct(value: Decimal) -> str:
    return str(calculator.quantize_fen(value))


def _json_value(key: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return _money(value) if key.endswith("_cny") else _pct(value)
    return value


# --- Product rules --------------------------------------------------------------------


def default_inputs(product: FinanceProduct) -> QuoteInputs:
    """Where the sliders start for a product: a typical 20 % down and 36 months for loans (within the
    product's range), the minimum down (10 % for 一成购) and first term for lease-to-own, 36 months and
    15,000 km a year for an operating lease."""
    terms = sorted(product.terms_months)
    low, high = product.min_down_payment_pct, product.max_down_payment_pct
    if product.kind is FinanceKind.FULL_PAYMENT:
        return QuoteInputs(down_payment_pct=HUNDRED, term_months=0)
    if product.kind is FinanceKind.LOAN:
        term = DEFAULT_TERM if DEFAULT_TERM in terms else max((t for t in terms if t <= DEFAULT_TERM), default=terms[0])
        return QuoteInputs(down_payment_pct=min(max(DEFAULT_LOAN_DOWN_PCT, low), high), term_months=term)
    if product.kind is FinanceKind.LEASE_TO_OWN:
        return QuoteInputs(down_payment_pct=low, term_months=terms[0])
    mileage = product.included_km_per_year or DEFAULT_MILEAGE_KM
    term = DEFAULT_TERM if DEFAULT_TERM in terms else terms[0]
    return QuoteInputs(down_payment_pct=low, term_months=term, annual_mileage_km=mileage)


def check_inputs(product: FinanceProduct, inputs: QuoteInputs) -> QuoteInputs:
    """Refuse what the product does not offer, naming the field; returns the inputs with the mileage
    filled in for an operating lease (the product's included mileage when none was given)."""
    errors: dict[str, str] = {}
    if inputs.term_months not in product.terms_months:
        offered = ", ".join(str(t) for t in sorted(product.terms_months))
        errors["term_months"] = _("Choose a term this product offers: %(terms)s months.", terms=offered)
    low, high = product.min_down_payment_pct, min(product.max_down_payment_pct, HUNDRED)
    if not low <= inputs.down_payment_pct <= high:
        errors["down_payment_pct"] = _(
            "The down payment must be between %(low)s%% and %(high)s%% for this product.",
            low=_plain(low),
            high=_plain(high),
        )
    if inputs.balloon_pct < 0:
        errors["balloon_pct"] = _("The balloon cannot be negative.")
    elif inputs.balloon_pct > 0 and not product.balloon_allowed:
        errors["balloon_pct"] = _("This product has no balloon payment (尾款).")
    elif inputs.balloon_pct > product.max_balloon_pct and product.balloon_allowed:
        errors["balloon_pct"] = _(
            "The balloon can be at most %(max)s%% of the price.", max=_plain(product.max_balloon_pct)
        )
    elif inputs.balloon_pct + inputs.down_payment_pct >= HUNDRED and inputs.balloon_pct > 0:
        errors["balloon_pct"] = _("Down payment and balloon together must leave something to finance.")
    mileage = inputs.annual_mileage_km
    if mileage is None and product.kind is FinanceKind.OPERATING_LEASE:
        mileage = product.included_km_per_year or DEFAULT_MILEAGE_KM
    if mileage is not None and not 0 <= mileage <= calculator.MAX_KM_PER_YEAR:
        errors["annual_mileage_km"] = _(
            "Enter a yearly mileage between 0 and %(max)s km.", max=f"{calculator.MAX_KM_PER_YEAR:,}"
        )
    if errors:
        first = next(iter(errors.values()))
        raise DomainError(first, fields=errors)
    return QuoteInputs(inputs.down_payment_pct, inputs.term_months, inputs.balloon_pct, mileage)


def _plain(pct: Decimal) -> str:
    """20.00 -> "20", 12.50 -> "12.5": percentages as people write them."""
    text = f"{pct:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- Quoting --------------------------------------------------------------------------

# The calculator's argument names, as the fields a shopper can change.
_CALCULATOR_FIELDS = {
    "price": "trim_id",
    "down_payment_pct": "down_payment_pct",
    "term_months": "term_months",
    "months": "term_months",
    "balloon_pct": "balloon_pct",
    "residual_pct": "down_payment_pct",
    "annual_mileage_km": "annual_mileage_km",
}


def build_quote(*, price: Decimal, is_new_energy: bool, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    """Quote `product` for a car at `price`; raises DomainError (with `fields`) on input it cannot quote."""
    inputs = check_inputs(product, inputs)
    try:
        return _QUOTERS[product.kind](price, is_new_energy, product, inputs)
    except CalculatorError as error:
        # Products are checked when saved, so this is rare: say which field, in the calculator's words.
        name = _CALCULATOR_FIELDS.get(error.field, "product_id")
        raise DomainError(error.user_message, fields={name: error.user_message}) from None


def _full_payment(price: Decimal, is_new_energy: bool, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    cash = calculator.full_payment(price=price, is_new_energy=is_new_energy, rules=calculator.DEFAULT_PURCHASE_RULES)
    fees = calculator.quantize_fen(product.fees)
    return QuoteResult(
        kind=product.kind,
        price=cash.price,
        down_payment=cash.price,
        amount_financed=ZERO,
        monthly_payment=ZERO,
        total_interest=ZERO,
        fees=fees,
        balloon=ZERO,
        total_cost=cash.price + fees,
        apr_pct=ZERO,
        term_months=0,
        schedule=(),
        outlays=(cash.price + fees,),
        details={
            "purchase_tax_cny": cash.purchase_tax,
            "nev_tax_relief_cny": cash.nev_tax_relief,
            "registration_fee_cny": cash.registration_fee,
            "insurance_cny": cash.insurance,
            "on_the_road_extras_cny": cash.total - cash.price,
            "on_the_road_total_cny": cash.total + fees,
        },
    )


def _loan(price: Decimal, is_new_energy: bool, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    quote = calculator.loan(
        price=price,
        down_payment_pct=inputs.down_payment_pct,
        term_months=inputs.term_months,
        annual_rate_pct=product.annual_rate_pct,
        balloon_pct=inputs.balloon_pct,
        fees=product.fees,
        subsidised=product.subsidised,
    )
    return QuoteResult(
        kind=product.kind,
        price=quote.price,
        down_payment=quote.down_payment,
        amount_financed=quote.amount_financed,
        monthly_payment=quote.monthly_payment,
        total_interest=quote.total_interest,
        fees=quote.fees,
        balloon=quote.balloon,
        total_cost=quote.total_cost,
        apr_pct=quote.apr_pct,
        term_months=quote.term_months,
        schedule=quote.schedule,
        outlays=tuple(quote.outlays()),
        details={
            "annual_rate_pct": quote.annual_rate_pct,
            "final_payment_cny": quote.final_payment,
            "subsidised": quote.subsidised,
            "interest_subsidy_cny": quote.interest_subsidy,
        },
    )


def _lease_to_own(price: Decimal, is_new_energy: bool, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    residual = product.residual_pct_for(inputs.term_months)
    if residual is None or product.balance_rate_pct is None or product.balance_finance_months is None:
        raise DomainError(_("This product is not set up for that term."), field="term_months")
    quote = calculator.lease_to_own(
        price=price,
        annual_rate_pct=product.annual_rate_pct,
        residual_pct=residual,
        balance_annual_rate_pct=product.balance_rate_pct,
        down_payment_pct=inputs.down_payment_pct,
        months=inputs.term_months,
        balance_finance_months=product.balance_finance_months,
        fees=product.fees,
    )
    return QuoteResult(
        kind=product.kind,
        price=quote.price,
        down_payment=quote.down_payment,
        amount_financed=quote.price - quote.down_payment,
        monthly_payment=quote.monthly_rent,
        total_interest=sum((row.interest for row in quote.rent_schedule), ZERO),
        fees=quote.fees,
        balloon=quote.balance,
        total_cost=quote.total_if_paid_off,
        apr_pct=quote.apr_pct,
        term_months=quote.rent_months,
        schedule=quote.rent_schedule,
        outlays=tuple(quote.outlays(LeaseEndChoice.PAY_BALANCE)),
        details={
            "balance_cny": quote.balance,
            "residual_pct": residual,
            "total_if_paid_off_cny": quote.total_if_paid_off,
            "total_if_financed_cny": quote.total_if_financed,
            "total_if_returned_cny": quote.total_if_returned,
            "balance_finance_months": quote.balance_finance_months,
            "balance_annual_rate_pct": quote.balance_annual_rate_pct,
            "balance_monthly_payment_cny": quote.balance_monthly_payment,
            "balance_interest_cny": quote.balance_interest,
        },
    )


def _operating_lease(price: Decimal, is_new_energy: bool, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    policy = residual_policy(product)
    quote = calculator.operating_lease(
        price=price,
        term_months=inputs.term_months,
        annual_mileage_km=inputs.annual_mileage_km or 0,
        annual_rate_pct=product.annual_rate_pct,
        residual_policy=policy,
        mileage_overage_rate_per_km=product.mileage_overage_per_km or ZERO,
        fees=product.fees,
    )
    return QuoteResult(
        kind=product.kind,
        price=quote.price,
        down_payment=ZERO,
        amount_financed=quote.price,
        monthly_payment=quote.monthly_payment,
        total_interest=quote.monthly_finance_charge * quote.term_months,
        fees=quote.fees,
        balloon=ZERO,
        total_cost=quote.total_cost,
        apr_pct=calculator.operating_lease_apr_pct(quote),
        term_months=quote.term_months,
        schedule=calculator.operating_lease_schedule(quote),
        outlays=tuple(quote.outlays()),
        details={
            "annual_rate_pct": quote.annual_rate_pct,
            "annual_mileage_km": quote.annual_mileage_km,
            "mileage_allowance_km": quote.mileage_allowance_km,
            "mileage_overage_per_km_cny": quote.mileage_overage_rate_per_km,
            "residual_pct": quote.residual_pct,
            "residual_value_cny": quote.residual_value,
            "monthly_depreciation_cny": quote.monthly_depreciation,
            "monthly_finance_charge_cny": quote.monthly_finance_charge,
        },
    )


def residual_policy(product: FinanceProduct) -> calculator.ResidualPolicy:
    """The operating lease's residual rules from the product's columns (calculator defaults where unset)."""
    base = calculator.DEFAULT_RESIDUAL_POLICY
    table = tuple(sorted((int(term), Decimal(pct)) for term, pct in product.residual_by_term.items()))
    return calculator.ResidualPolicy(
        base_residual_pct_by_term=table or base.base_residual_pct_by_term,
        included_km_per_year=product.included_km_per_year
        if product.included_km_per_year is not None
        else base.included_km_per_year,
        step_km=product.km_step or base.step_km,
        reduction_pct_per_step=product.residual_reduction_pct_per_step
        if product.residual_reduction_pct_per_step is not None
        else base.reduction_pct_per_step,
        min_residual_pct=product.min_residual_pct if product.min_residual_pct is not None else base.min_residual_pct,
    )


_QUOTERS = {
    FinanceKind.FULL_PAYMENT: _full_payment,
    FinanceKind.LOAN: _loan,
    FinanceKind.LEASE_TO_OWN: _lease_to_own,
    FinanceKind.OPERATING_LEASE: _operating_lease,
}


# --- Comparison -----------------------------------------------------------------------


def chart_data(labelled: Sequence[tuple[str, QuoteResult]]) -> dict[str, Any]:
    """Cumulative money out per month for each quote, all over the same months (money as strings)."""
    months = max((len(result.outlays) - 1 for _label, result in labelled), default=0)
    return {
        "labels": list(range(months + 1)),
        "datasets": [
            {"label": label, "data": [str(total) for total in result.cumulative(months)]} for label, result in labelled
        ],
    }
