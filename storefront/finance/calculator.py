"""Car-finance quotes in Decimal: cash, loan, 一成购 lease-to-own, operating lease."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

# Conventions, stated once:
# - Money is Decimal yuan, rounded to the fen by `quantize_fen` (ROUND_HALF_UP, 0.01).
#   Each money figure is rounded once, where it is produced; the arithmetic in between
#   keeps full precision in `_CONTEXT`. The APR shown to customers uses the same
#   two-decimal half-up rule.
# - Percent inputs are percents: Decimal("4.5") means 4.5 %.
# - Payments fall due at the end of each month. Month 0 is signing day: the down
#   payment and the fees.
# - APR is nominal: 12 × the monthly internal rate of return of the customer's cash
#   flows (receives the amount financed less fees at month 0; pays every instalment
#   and the balloon). This is the US Truth-in-Lending convention (periodic rate ×
#   periods per year), used here for the IRR-based 年化利率 too; it is not the
#   compounded effective annual rate, which would be (1 + monthly)^12 - 1.
# - Operating leases charge finance on (price + residual) × money factor, where the
#   money factor = annual rate % / 2400 (the standard lease convention: the monthly
#   rate on the average of the opening and closing value).

FEN = Decimal("0.01")
MAX_PRICE = Decimal(100_000_000)  # ¥100 million; no car costs more, a typo might.
MAX_MONTHS = 120
MAX_RATE_PCT = Decimal(100)
MAX_KM_PER_YEAR = 200_000

_CONTEXT = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)
_APR_TOLERANCE = Decimal("1e-10")  # on the monthly rate: 1.2e-7 points of APR
_MAX_APR_STEPS = 200  # Newton needs about 5; pure bisection would need under 100


def quantize_fen(x: Decimal) -> Decimal:
    """Round to the fen, half up: the one rounding rule for money and shown rates."""
    return x.quantize(FEN, rounding=ROUND_HALF_UP, context=_CONTEXT)


class CalculatorError(ValueError):
    """An input that cannot be quoted. `field` names the argument at fault and
    `user_message` is safe to show next to it."""

    def __init__(self, field: str, user_message: str) -> None:
        super().__init__(f"{field}: {user_message}")
        self.field = field
        self.user_message = user_message


# --- Validation -----------------------------------------------------------------------


def _require_decimal(field_name: str, value: Decimal) -> Decimal:
    """Refuse floats (and anything else) so binary rounding never reaches a quote."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{field_name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise CalculatorError(field_name, "Enter a number.")
    return value


def _check_range(field_name: str, value: Decimal, *, low: Decimal, high: Decimal) -> None:
    _require_decimal(field_name, value)
    if not low <= value <= high:
        raise CalculatorError(field_name, f"Must be between {low} and {high}.")


def _check_money(field_name: str, value: Decimal) -> Decimal:
    """A non-negative amount in whole fen, returned with exactly two decimal places."""
    _check_range(field_name, value, low=Decimal(0), high=MAX_PRICE)
    if value != value.quantize(FEN, context=_CONTEXT):
        raise CalculatorError(field_name, "Use at most two decimal places.")
    return quantize_fen(value)


def _check_price(value: Decimal) -> Decimal:
    if _require_decimal("price", value) <= 0:
        raise CalculatorError("price", "The price must be more than zero.")
    return _check_money("price", value)


def _check_int(field_name: str, value: int, *, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field_name} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise CalculatorError(field_name, f"Must be between {low} and {high}.")


def _check_bool(field_name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{field_name} must be a bool, not {type(value).__name__}")


def _check_fees_below(fees: Decimal, amount_financed: Decimal) -> None:
    if fees >= amount_financed:
        raise CalculatorError("fees", "Fees must be less than the amount financed.")


# --- Shared results -------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRow:
    """One month of an amortization schedule; `balance` is owed after the payment."""

    month: int
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


def cumulative_cost(outlays: Sequence[Decimal], *, months: int | None = None) -> list[Decimal]:
    """Running total of money out at months 0..`months` (default: the last outlay).

    `outlays[k]` is the money paid in month k, from a quote's `outlays()`. Past the
    last outlay the total stays flat, so quotes of different lengths share one chart.
    """
    if months is None:
        months = len(outlays) - 1
    _check_int("months", months, low=0, high=10 * MAX_MONTHS)
    with localcontext(_CONTEXT):
        running = _ZERO
        totals = []
        for month in range(months + 1):
            if month < len(outlays):
                running += _require_decimal("outlays", outlays[month])
            totals.append(running)
        return totals


# --- Full payment ---------------------------------------------------------------------


@dataclass(frozen=True)
class NevTaxRule:
    """Purchase-tax relief for a new-energy vehicle (NEV).

    `rate_factor` is the share of the normal tax still due (0 = exempt, 0.5 = halved);
    `cap` is the most the relief may save per car, in yuan (None = no cap).
    """

    rate_factor: Decimal
    cap: Decimal | None

    def __post_init__(self) -> None:
        _check_range("rate_factor", self.rate_factor, low=Decimal(0), high=Decimal(1))
        if self.cap is not None:
            _check_money("cap", self.cap)


# 2024-2025: exempt, saving at most ¥30,000 per car.
NEV_TAX_RULE_2024_2025 = NevTaxRule(rate_factor=Decimal(0), cap=Decimal(30_000))
# 2026-2027: halved, saving at most ¥15,000 per car.
NEV_TAX_RULE_2026_2027 = NevTaxRule(rate_factor=Decimal("0.5"), cap=Decimal(15_000))


@dataclass(frozen=True)
class PurchaseRules:
    """Taxes and on-the-road costs of a cash purchase.

    Purchase tax (车辆购置税) is `purchase_tax_pct` of the price net of the VAT it
    includes (`vat_pct`). `nev_rule=None` means NEVs pay the full tax. Insurance is
    first-year commercial cover at `insurance_pct` of the price plus `insurance_fixed`
    (compulsory 交强险, ¥950 for up to 6 seats). Fee defaults are estimates.
    """

    purchase_tax_pct: Decimal = Decimal(10)
    vat_pct: Decimal = Decimal(13)
    nev_rule: NevTaxRule | None = NEV_TAX_RULE_2026_2027  # the rule in force in 2026
    registration_fee: Decimal = Decimal(500)
    insurance_pct: Decimal = Decimal(2)
    insurance_fixed: Decimal = Decimal(950)

    def __post_init__(self) -> None:
        percent = {"low": Decimal(0), "high": _HUNDRED}
        _check_range("purchase_tax_pct", self.purchase_tax_pct, **percent)
        _check_range("vat_pct", self.vat_pct, **percent)
        _check_money("registration_fee", self.registration_fee)
        _check_range("insurance_pct", self.insurance_pct, **percent)
        _check_money("insurance_fixed", self.insurance_fixed)


DEFAULT_PURCHASE_RULES = PurchaseRules()


@dataclass(frozen=True)
class FullPaymentQuote:
    """The whole price at signing, plus tax, registration and first-year insurance."""

    price: Decimal
    is_new_energy: bool
    price_excl_vat: Decimal  # 计税价格, the base of the purchase tax
    purchase_tax_before_relief: Decimal
    nev_tax_relief: Decimal
    purchase_tax: Decimal
    registration_fee: Decimal
    insurance: Decimal
    total: Decimal  # on the road

    def outlays(self) -> list[Decimal]:
        """Money out by month: everything at month 0."""
        return [self.total]


def full_payment(*, price: Decimal, is_new_energy: bool, rules: PurchaseRules) -> FullPaymentQuote:
    """Quote a cash purchase: tax = price / (1 + VAT) × tax rate, less NEV relief."""
    price = _check_price(price)
    _check_bool("is_new_energy", is_new_energy)
    with localcontext(_CONTEXT):
        exact_base = price / (1 + rules.vat_pct / _HUNDRED)
        tax_before_relief = quantize_fen(exact_base * rules.purchase_tax_pct / _HUNDRED)
        relief = _ZERO
        if is_new_energy and rules.nev_rule is not None:
            relief = quantize_fen(tax_before_relief * (1 - rules.nev_rule.rate_factor))
            if rules.nev_rule.cap is not None:
                relief = min(relief, quantize_fen(rules.nev_rule.cap))
        purchase_tax = tax_before_relief - relief
        registration_fee = quantize_fen(rules.registration_fee)
        insurance = quantize_fen(price * rules.insurance_pct / _HUNDRED + rules.insurance_fixed)
        return FullPaymentQuote(
            price=price,
            is_new_energy=is_new_energy,
            price_excl_vat=quantize_fen(exact_base),
            purchase_tax_before_relief=tax_before_relief,
            nev_tax_relief=relief,
            purchase_tax=purchase_tax,
            registration_fee=registration_fee,
            insurance=insurance,
            total=price + purchase_tax + registration_fee + insurance,
        )


# --- Loan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoanQuote:
    """A car loan (贷款): the buyer owns the car; the lender holds a mortgage on it.

    `annual_rate_pct` is the rate the customer pays. When `subsidised` (贴息) it is 0
    and `interest_subsidy` is the interest the maker pays the lender at the list rate.
    `monthly_payment` is the regular instalment; `final_payment` is the last one
    (it absorbs rounding), without the balloon (尾款), which is due at the same time.
    """

    price: Decimal
    down_payment: Decimal
    amount_financed: Decimal
    balloon: Decimal
    term_months: int
    annual_rate_pct: Decimal
    subsidised: bool
    monthly_payment: Decimal
    final_payment: Decimal
    total_interest: Decimal
    interest_subsidy: Decimal
    fees: Decimal
    total_cost: Decimal  # down payment + all instalments + balloon + fees
    apr_pct: Decimal  # nominal, fees included
    schedule: tuple[ScheduleRow, ...] = dataclasses.field(repr=False)

    def outlays(self) -> list[Decimal]:
        """Money out by month: down payment and fees at 0, the balloon at the end."""
        with localcontext(_CONTEXT):
            flows = [self.down_payment + self.fees]
            flows += [row.payment for row in self.schedule]
            flows[-1] += self.balloon
            return flows


def loan(
    *,
    price: Decimal,
    down_payment_pct: Decimal,
    term_months: int,
    annual_rate_pct: Decimal,
    balloon_pct: Decimal = _ZERO,
    fees: Decimal = _ZERO,
    subsidised: bool = False,
) -> LoanQuote:
    """Quote an annuity loan with an optional balloon (% of price) and upfront fees."""
    price = _check_price(price)
    _check_range("down_payment_pct", down_payment_pct, low=Decimal(0), high=_HUNDRED)
    _check_int("term_months", term_months, low=1, high=MAX_MONTHS)
    _check_range("annual_rate_pct", annual_rate_pct, low=Decimal(0), high=MAX_RATE_PCT)
    _check_range("balloon_pct", balloon_pct, low=Decimal(0), high=_HUNDRED - down_payment_pct)
    fees = _check_money("fees", fees)
    _check_bool("subsidised", subsidised)
    with localcontext(_CONTEXT):
        down_payment = quantize_fen(price * down_payment_pct / _HUNDRED)
        amount_financed = price - down_payment
        if amount_financed <= 0:
            raise CalculatorError("down_payment_pct", "Nothing is left to finance.")
        _check_fees_below(fees, amount_financed)
        # Two half-up roundings can overshoot by a fen: cap the balloon at the loan.
        balloon = min(quantize_fen(price * balloon_pct / _HUNDRED), amount_financed)
        customer_rate_pct = Decimal(0) if subsidised else annual_rate_pct
        schedule = _amortize(amount_financed, customer_rate_pct, term_months, balloon)
        interest_subsidy = _ZERO
        if subsidised:
            at_list_rate = _amortize(amount_financed, annual_rate_pct, term_months, balloon)
            interest_subsidy = _sum(row.interest for row in at_list_rate)
        payments = [row.payment for row in schedule]
        return LoanQuote(
            price=price,
            down_payment=down_payment,
            amount_financed=amount_financed,
            balloon=balloon,
            term_months=term_months,
            annual_rate_pct=customer_rate_pct,
            subsidised=subsidised,
            monthly_payment=schedule[0].payment,
            final_payment=schedule[-1].payment,
            total_interest=_sum(row.interest for row in schedule),
            interest_subsidy=interest_subsidy,
            fees=fees,
            total_cost=down_payment + _sum(payments) + balloon + fees,
            apr_pct=_apr_pct(amount_financed - fees, payments, balloon),
            schedule=schedule,
        )


# --- Lease-to-own (一成购 finance lease) ---------------------------------------------


class LeaseEndChoice(enum.Enum):
    """What the customer does with the balance when the rental months end."""

    PAY_BALANCE = "pay_balance"  # pay it in one go; the car becomes theirs
    FINANCE_BALANCE = "finance_balance"  # pay it off as an annuity loan
    RETURN_CAR = "return_car"  # hand the car back; nothing more to pay


@dataclass(frozen=True)
class LeaseToOwnQuote:
    """A finance lease (融资租赁): the lessor owns the car until the balance is paid.

    Rent is an annuity on (price - down payment) that leaves `balance` owing after
    `rent_months`. `apr_pct` is the APR of renting and then paying the balance.
    The `total_if_*` fields are the money out, fees included, for each choice.
    """

    price: Decimal
    down_payment: Decimal
    fees: Decimal
    rent_months: int
    annual_rate_pct: Decimal
    monthly_rent: Decimal
    balance: Decimal
    apr_pct: Decimal
    balance_finance_months: int
    balance_annual_rate_pct: Decimal
    balance_monthly_payment: Decimal
    balance_interest: Decimal
    total_if_paid_off: Decimal
    total_if_financed: Decimal
    total_if_returned: Decimal
    rent_schedule: tuple[ScheduleRow, ...] = dataclasses.field(repr=False)
    balance_schedule: tuple[ScheduleRow, ...] = dataclasses.field(repr=False)

    def total_cost(self, choice: LeaseEndChoice) -> Decimal:
        return {
            LeaseEndChoice.PAY_BALANCE: self.total_if_paid_off,
            LeaseEndChoice.FINANCE_BALANCE: self.total_if_financed,
            LeaseEndChoice.RETURN_CAR: self.total_if_returned,
        }[choice]

    def outlays(self, choice: LeaseEndChoice) -> list[Decimal]:
        """Money out by month for one choice; down payment and fees at month 0."""
        with localcontext(_CONTEXT):
            flows = [self.down_payment + self.fees]
            flows += [row.payment for row in self.rent_schedule]
            if choice is LeaseEndChoice.PAY_BALANCE:
                flows[-1] += self.balance
            elif choice is LeaseEndChoice.FINANCE_BALANCE:
                flows += [row.payment for row in self.balance_schedule]
            return flows


def lease_to_own(
    *,
    price: Decimal,
    annual_rate_pct: Decimal,
    residual_pct: Decimal,
    balance_annual_rate_pct: Decimal,
    down_payment_pct: Decimal = Decimal(10),
    months: int = 12,
    balance_finance_months: int = 36,
    fees: Decimal = _ZERO,
) -> LeaseToOwnQuote:
    """Quote 一成购: 10% down, monthly rent, then pay, finance or return the balance.

    `residual_pct` is the balance owed after `months` of rent, as a % of the price
    (typically 60-75).
    """
    price = _check_price(price)
    _check_range("annual_rate_pct", annual_rate_pct, low=Decimal(0), high=MAX_RATE_PCT)
    _check_range("down_payment_pct", down_payment_pct, low=Decimal(0), high=_HUNDRED)
    _check_range("residual_pct", residual_pct, low=Decimal(0), high=_HUNDRED - down_payment_pct)
    if residual_pct == 0:
        raise CalculatorError("residual_pct", "With no balance left, quote a loan.")
    _check_range(
        "balance_annual_rate_pct",
        balance_annual_rate_pct,
        low=Decimal(0),
        high=MAX_RATE_PCT,
    )
    _check_int("months", months, low=1, high=MAX_MONTHS)
    _check_int("balance_finance_months", balance_finance_months, low=1, high=MAX_MONTHS)
    fees = _check_money("fees", fees)
    with localcontext(_CONTEXT):
        down_payment = quantize_fen(price * down_payment_pct / _HUNDRED)
        leased = price - down_payment
        _check_fees_below(fees, leased)
        balance = min(quantize_fen(price * residual_pct / _HUNDRED), leased)
        if balance <= 0:
            raise CalculatorError("residual_pct", "The balance rounds to nothing.")
        rent_schedule = _amortize(leased, annual_rate_pct, months, balance)
        balance_schedule = _amortize(balance, balance_annual_rate_pct, balance_finance_months, _ZERO)
        rents = [row.payment for row in rent_schedule]
        total_if_returned = down_payment + fees + _sum(rents)
        return LeaseToOwnQuote(
            price=price,
            down_payment=down_payment,
            fees=fees,
            rent_months=months,
            annual_rate_pct=annual_rate_pct,
            monthly_rent=rents[0],
            balance=balance,
            apr_pct=_apr_pct(leased - fees, rents, balance),
            balance_finance_months=balance_finance_months,
            balance_annual_rate_pct=balance_annual_rate_pct,
            balance_monthly_payment=balance_schedule[0].payment,
            balance_interest=_sum(row.interest for row in balance_schedule),
            total_if_paid_off=total_if_returned + balance,
            total_if_financed=total_if_returned + _sum(row.payment for row in balance_schedule),
            total_if_returned=total_if_returned,
            rent_schedule=rent_schedule,
            balance_schedule=balance_schedule,
        )


# --- Operating lease ------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualPolicy:
    """What the car is worth at lease end, as a % of price, by term and mileage.

    Residual % = the base % for the term, less `reduction_pct_per_step` for every
    started `step_km` a year above `included_km_per_year`, floored at
    `min_residual_pct` (or the base, if lower). Driving less earns nothing back.
    """

    base_residual_pct_by_term: tuple[tuple[int, Decimal], ...] = (
        (12, Decimal(70)),
        (24, Decimal(60)),
        (36, Decimal(52)),
        (48, Decimal(45)),
        (60, Decimal(38)),
    )
    included_km_per_year: int = 15_000
    step_km: int = 5_000
    reduction_pct_per_step: Decimal = Decimal(2)
    min_residual_pct: Decimal = Decimal(10)

    def __post_init__(self) -> None:
        table = "base_residual_pct_by_term"
        if not self.base_residual_pct_by_term:
            raise CalculatorError(table, "Give a residual for at least one term.")
        for term, pct in self.base_residual_pct_by_term:
            _check_int(table, term, low=1, high=MAX_MONTHS)
            _check_range(table, pct, low=Decimal(0), high=Decimal("99.99"))
        _check_int(
            "included_km_per_year",
            self.included_km_per_year,
            low=0,
            high=MAX_KM_PER_YEAR,
        )
        _check_int("step_km", self.step_km, low=1, high=MAX_KM_PER_YEAR)
        percent = {"low": Decimal(0), "high": _HUNDRED}
        _check_range("reduction_pct_per_step", self.reduction_pct_per_step, **percent)
        _check_range("min_residual_pct", self.min_residual_pct, **percent)

    @property
    def terms(self) -> list[int]:
        return sorted(term for term, _ in self.base_residual_pct_by_term)

    def residual_pct(self, *, term_months: int, annual_mileage_km: int) -> Decimal:
        base = dict(self.base_residual_pct_by_term).get(term_months)
        if base is None:
            offered = ", ".join(str(term) for term in self.terms)
            raise CalculatorError("term_months", f"Choose a term of {offered} months.")
        excess_km = max(annual_mileage_km - self.included_km_per_year, 0)
        started_steps = -(-excess_km // self.step_km)
        floor = min(self.min_residual_pct, base)
        return max(base - started_steps * self.reduction_pct_per_step, floor)


DEFAULT_RESIDUAL_POLICY = ResidualPolicy()


@dataclass(frozen=True)
class OperatingLeaseQuote:
    """An operating lease: a fixed monthly payment; the car goes back at the end.

    Excess mileage is charged at `mileage_overage_rate_per_km` beyond
    `mileage_allowance_km` (the whole term's allowance) and is not in `total_cost`.
    """

    price: Decimal
    term_months: int
    annual_mileage_km: int
    mileage_allowance_km: int
    mileage_overage_rate_per_km: Decimal
    residual_pct: Decimal
    residual_value: Decimal
    annual_rate_pct: Decimal
    monthly_depreciation: Decimal
    monthly_finance_charge: Decimal
    monthly_payment: Decimal
    fees: Decimal
    total_cost: Decimal  # monthly payment × term + fees

    @property
    def money_factor(self) -> Decimal:
        """Annual rate % / 2400, at full precision."""
        with localcontext(_CONTEXT):
            return self.annual_rate_pct / 2400

    def outlays(self) -> list[Decimal]:
        """Money out by month: fees at month 0, then the monthly payment."""
        return [self.fees] + [self.monthly_payment] * self.term_months


def operating_lease(
    *,
    price: Decimal,
    term_months: int,
    annual_mileage_km: int,
    annual_rate_pct: Decimal,
    residual_policy: ResidualPolicy = DEFAULT_RESIDUAL_POLICY,
    mileage_overage_rate_per_km: Decimal = Decimal("0.50"),
    fees: Decimal = _ZERO,
) -> OperatingLeaseQuote:
    """Quote an operating lease: (price - residual) / term + (price + residual) × MF."""
    price = _check_price(price)
    _check_int("term_months", term_months, low=1, high=MAX_MONTHS)
    _check_int("annual_mileage_km", annual_mileage_km, low=0, high=MAX_KM_PER_YEAR)
    _check_range("annual_rate_pct", annual_rate_pct, low=Decimal(0), high=MAX_RATE_PCT)
    overage_rate = _check_money("mileage_overage_rate_per_km", mileage_overage_rate_per_km)
    fees = _check_money("fees", fees)
    with localcontext(_CONTEXT):
        residual_pct = residual_policy.residual_pct(term_months=term_months, annual_mileage_km=annual_mileage_km)
        residual_value = quantize_fen(price * residual_pct / _HUNDRED)
        depreciation = quantize_fen((price - residual_value) / term_months)
        finance_charge = quantize_fen((price + residual_value) * annual_rate_pct / 2400)
        monthly_payment = depreciation + finance_charge
        return OperatingLeaseQuote(
            price=price,
            term_months=term_months,
            annual_mileage_km=annual_mileage_km,
            mileage_allowance_km=annual_mileage_km * term_months // 12,
            mileage_overage_rate_per_km=overage_rate,
            residual_pct=residual_pct,
            residual_value=residual_value,
            annual_rate_pct=annual_rate_pct,
            monthly_depreciation=depreciation,
            monthly_finance_charge=finance_charge,
            monthly_payment=monthly_payment,
            fees=fees,
            total_cost=monthly_payment * term_months + fees,
        )


# --- Amortization and APR (callers hold `_CONTEXT`) -----------------------------------


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    """Sum money; an empty sum is 0.00, not the int 0."""
    return sum(amounts, _ZERO)


def _annuity_payment(amount: Decimal, monthly_rate: Decimal, months: int, balloon: Decimal) -> Decimal:
    """Exact level payment that brings `amount` down to `balloon` over `months`."""
    if monthly_rate == 0:  # 0% promotion: straight line, no division by zero
        return (amount - balloon) / months
    growth = (1 + monthly_rate) ** months
    return (amount * growth - balloon) * monthly_rate / (growth - 1)


def _amortize(amount: Decimal, annual_rate_pct: Decimal, months: int, balloon: Decimal) -> tuple[ScheduleRow, ...]:
    """Schedule at the rounded level payment. Each row's interest is rounded; the last
    row takes whatever principal is left, so the balance ends exactly at `balloon`."""
    monthly_rate = annual_rate_pct / 1200
    payment = quantize_fen(_annuity_payment(amount, monthly_rate, months, balloon))
    rows = []
    balance = amount
    for month in range(1, months + 1):
        interest = quantize_fen(balance * monthly_rate)
        principal = balance - balloon
        if month < months:
            # min() only bites on tiny loans, where rounding up would overpay.
            principal = min(payment - interest, principal)
        balance -= principal
        rows.append(
            ScheduleRow(
                month=month,
                payment=interest + principal,
                interest=interest,
                principal=principal,
                balance=balance,
            )
        )
    return tuple(rows)


def _apr_pct(received: Decimal, payments: Sequence[Decimal], balloon: Decimal) -> Decimal:
    """Nominal APR %: 12 × the monthly rate at which the payments (balloon with the
    last) are worth `received` at month 0.

    Newton's method inside a shrinking bracket, falling back to bisection whenever a
    Newton step would leave the bracket; stops once a step is below `_APR_TOLERANCE`.
    """
    flows = list(payments)
    flows[-1] += balloon
    last_first = flows[::-1]

    def surplus(rate: Decimal) -> tuple[Decimal, Decimal]:
        """Present value of the flows less `received` (it falls as `rate` rises),
        and its derivative with respect to `rate`.

        The present value is the polynomial P(v) = sum of flow_k * v**k in the discount
        factor v = 1 / (1 + rate); Horner's rule gives P(v) and P'(v) in one pass, two
        multiplications a month, and dv/drate = -v**2.
        """
        discount = 1 / (1 + rate)
        value = slope = Decimal(0)  # P and P' of the flows folded in so far
        for flow in last_first:
            folded = value + flow
            slope = slope * discount + folded
            value = folded * discount
        return value - received, -slope * discount * discount

    low, high = Decimal(0), Decimal("0.01")
    if surplus(low)[0] <= 0:  # no interest and no fees
        return quantize_fen(Decimal(0))
    while surplus(high)[0] > 0:  # ends because `received` > 0
        low, high = high, high * 2
    rate = (low + high) / 2
    for _ in range(_MAX_APR_STEPS):
        value, slope = surplus(rate)
        if value > 0:
            low = rate
        else:
            high = rate
        next_rate = rate - value / slope
        if not low < next_rate < high:
            next_rate = (low + high) / 2
        converged = abs(next_rate - rate) < _APR_TOLERANCE
        rate = next_rate
        if converged:
            break
    return quantize_fen(rate * 1200)


# --- Operating lease: schedule and APR (for showing a lease like a loan) --------------


def operating_lease_schedule(quote: OperatingLeaseQuote) -> tuple[ScheduleRow, ...]:
    """The lease month by month: the finance charge as interest, the depreciation as
    principal and, as balance, the value still financed (the price less depreciation
    so far; it ends within rounding of the residual value, when the car goes back)."""
    with localcontext(_CONTEXT):
        rows = []
        balance = quote.price
        for month in range(1, quote.term_months + 1):
            balance -= quote.monthly_depreciation
            rows.append(
                ScheduleRow(
                    month=month,
                    payment=quote.monthly_payment,
                    interest=quote.monthly_finance_charge,
                    principal=quote.monthly_depreciation,
                    balance=balance,
                )
            )
        return tuple(rows)


def operating_lease_apr_pct(quote: OperatingLeaseQuote) -> Decimal:
    """Nominal APR % of a lease, fees included: the rate at which the payments plus
    the car handed back at its residual value are worth the price less the fees.
    With no fees it is close to, not equal to, the lease rate (the money factor
    charges on the average of price and residual, not on the falling balance)."""
    _check_fees_below(quote.fees, quote.price)
    with localcontext(_CONTEXT):
        payments = [quote.monthly_payment] * quote.term_months
        return _apr_pct(quote.price - quote.fees, payments, quote.residual_value)
