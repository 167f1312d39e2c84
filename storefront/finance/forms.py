"""Shape of the finance area's input: the quote builder (GET), saving a quote (POST) and product edits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from models import FinanceKind, FinanceProduct
from storefront.finance.quoting import QuoteInputs, default_inputs, parse_percent, parse_whole
from storefront.i18n import localised

ZERO = Decimal(0)


class PercentField(StringField):
    """A percentage with at most two decimals, parsed to Decimal (never float): "20", "12.5"."""

    data: Decimal | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = parse_percent(valuelist[0])
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{self.data:f}"


class MoneyField(StringField):
    """Yuan with at most two decimals ("1500", "0.50"), parsed to Decimal."""

    data: Decimal | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "") or ""
        if not text.strip():
            self.data = None
            return
        if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text.strip()):
            self.data = None
            raise ValueError(_l("Enter an amount in yuan such as 1500 or 0.50."))
        self.data = Decimal(text.strip())

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else f"{self.data:f}"


# --- The quote builder ----------------------------------------------------------------


class QuoteForm(FlaskForm):
    """The builder's inputs, read from the query string. `shown` is the product the inputs were drawn
    for: when the shopper picks another product, its own defaults replace the old product's numbers."""

    class Meta:
        csrf = False  # a GET form: it changes nothing

    product = SelectField(_l("Finance product"), coerce=int)
    down_payment_pct = PercentField(_l("Down payment (首付), percent of the price"), validators=[InputRequired()])
    term_months = SelectField(_l("Term (期数)"), coerce=int, validate_choice=False)  # the service says which terms
    balloon_pct = PercentField(_l("Balloon (尾款), percent of the price"), validators=[Optional()])
    annual_mileage_km = SelectField(_l("Kilometres a year"), coerce=lambda v: _optional_int(v), validate_choice=False)
    shown = HiddenField()

    @classmethod
    def for_request(cls, args: MultiDict[str, str], products: Sequence[FinanceProduct]) -> tuple[QuoteForm, bool]:
        """The form for these query arguments and whether the product's default inputs were used."""
        chosen = _chosen_product(args.get("product", ""), products)
        fresh = chosen is None or args.get("shown") != str(chosen.id)
        # Without a choice, start on the first loan: what most shoppers come to see.
        product = chosen or next((p for p in products if p.kind is FinanceKind.LOAN), products[0])
        if fresh:
            base = default_inputs(product)
            defaults = {
                "product": str(product.id),
                "down_payment_pct": f"{base.down_payment_pct.normalize():f}",
                "term_months": str(base.term_months),
                "balloon_pct": "0",
            }
            if base.annual_mileage_km is not None:
                defaults["annual_mileage_km"] = str(base.annual_mileage_km)
            # A product id that is not offered still goes through validation, to say so.
            if args.get("product") and chosen is None:
                defaults["product"] = args["product"]
            args = MultiDict(defaults)
        form = cls(formdata=args)
        form.product.choices = [(p.id, localised(p, "name")) for p in products]
        form.term_months.choices = [(t, str(_l("%(num)s months", num=t))) for t in sorted(product.terms_months)]
        form.annual_mileage_km.choices = [(km, f"{km:,} km") for km in product.mileage_options_km]
        form.shown.data = str(product.id)
        form.current_product = product
        return form, fresh

    current_product: FinanceProduct

    def inputs(self) -> QuoteInputs:
        mileage = self.annual_mileage_km.data if self.current_product.kind is FinanceKind.OPERATING_LEASE else None
        return QuoteInputs(
            down_payment_pct=self.down_payment_pct.data if self.down_payment_pct.data is not None else ZERO,
            term_months=self.term_months.data or 0,
            balloon_pct=self.balloon_pct.data or ZERO,
            annual_mileage_km=mileage,
        )


def show_errors(form: FlaskForm, fields: dict[str, str]) -> None:
    """Show a service's field messages next to the inputs ("product_id" is the product select); messages
    for fields the form does not have go to the top of the form."""
    for name, message in fields.items():
        field = form._fields.get("product" if name == "product_id" else name)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


def _optional_int(value: Any) -> int | None:
    """Coerce for an optional select: "" means not given."""
    return None if value in ("", None) else int(value)


def _chosen_product(raw: str, products: Sequence[FinanceProduct]) -> FinanceProduct | None:
    try:
        wanted = parse_whole(raw)
    except ValueError:
        return None
    return next((p for p in products if p.id == wanted), None)


class SaveQuoteForm(FlaskForm):
    """POST: keep this quote. The numbers are checked again by the service against the product."""

    product = HiddenField(validators=[DataRequired()])
    down_payment_pct = PercentField(validators=[InputRequired()])
    term_months = IntegerField(validators=[InputRequired(), NumberRange(min=0, max=120)])
    balloon_pct = PercentField(validators=[Optional()])
    annual_mileage_km = IntegerField(validators=[Optional(), NumberRange(min=0, max=200_000)])

    def product_id(self) -> int | None:
        try:
            return parse_whole(self.product.data or "")
        except ValueError:
            return None

    def inputs(self) -> QuoteInputs:
        return QuoteInputs(
            down_payment_pct=self.down_payment_pct.data if self.down_payment_pct.data is not None else ZERO,
            term_months=self.term_months.data or 0,
            balloon_pct=self.balloon_pct.data or ZERO,
            annual_mileage_km=self.annual_mileage_km.data,
        )


# --- Staff: products ------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    """Parse "12, 24 36" into [12, 24, 36]; raises ValueError on anything else."""
    parts = [p for p in re.split(r"[\s,，]+", text.strip()) if p]
    if not all(re.fullmatch(r"\d{1,6}", p) for p in parts):
        raise ValueError(_l("Enter whole numbers separated by commas."))
    return sorted({int(p) for p in parts})


def _residual_table(text: str) -> dict[str, str]:
    """Parse "12:65, 24:50" into {"12": "65", "24": "50"} (term in months: residual %)."""
    table = {}
    for part in (p for p in re.split(r"[\s,，]+", text.strip()) if p):
        match = re.fullmatch(r"(\d{1,3})[:：=](\d{1,2}(?:\.\d{1,2})?)", part)
        if not match:
            raise ValueError(_l("Write term:residual pairs such as 36:52, 48:45."))
        table[str(int(match[1]))] = match[2]
    return table


def _parsed(parse: Any, text: str | None) -> Any:
    """Run a list parser as a form validator (WTForms wants ValidationError, not ValueError)."""
    try:
        return parse(text or "")
    except ValueError as error:
        raise ValidationError(str(error)) from None


class ProductForm(FlaskForm):
    """Create or edit a finance product; each save is a new version."""

    code = StringField(
        _l("Code (stays the same across versions)"),
        validators=[
            Optional(),
            Regexp(r"^[a-z0-9][a-z0-9-]{2,39}$", message=_l("3-40 lower-case letters, digits and dashes.")),
        ],
    )
    kind = SelectField(
        _l("Kind"),
        choices=[
            (FinanceKind.FULL_PAYMENT.value, _l("Full payment")),
            (FinanceKind.LOAN.value, _l("Loan")),
            (FinanceKind.LEASE_TO_OWN.value, _l("Lease-to-own (一成购)")),
            (FinanceKind.OPERATING_LEASE.value, _l("Operating lease")),
        ],
    )
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=120)])
    lender_en = StringField(_l("Lender (English)"), validators=[DataRequired(), Length(max=120)])
    lender_zh = StringField(_l("Lender (Chinese)"), validators=[DataRequired(), Length(max=120)])
    description_en = TextAreaField(_l("Description (English)"), validators=[Optional(), Length(max=500)])
    description_zh = TextAreaField(_l("Description (Chinese)"), validators=[Optional(), Length(max=500)])
    brand = SelectField(_l("Brand"), choices=[], validate_choice=True)
    annual_rate_pct = PercentField(_l("Annual rate %"), validators=[InputRequired()])
    subsidised = BooleanField(_l("Subsidised (贴息): the customer pays 0 %, the maker pays the rate above"))
    terms_months = StringField(_l("Terms in months (e.g. 12, 24, 36; 0 for full payment)"), validators=[DataRequired()])
    min_down_payment_pct = PercentField(_l("Minimum down payment %"), validators=[InputRequired()])
    max_down_payment_pct = PercentField(_l("Maximum down payment %"), validators=[InputRequired()])
    balloon_allowed = BooleanField(_l("Balloon (尾款) allowed"))
    max_balloon_pct = PercentField(_l("Largest balloon %"), validators=[Optional()])
    fees = MoneyField(_l("Fees at signing (¥)"), validators=[Optional()])
    residual_by_term = StringField(_l("Leases: residual % by term (e.g. 36:52, 48:45)"), validators=[Optional()])
    balance_rate_pct = PercentField(_l("Lease-to-own: rate for financing the balance %"), validators=[Optional()])
    balance_finance_months = IntegerField(
        _l("Lease-to-own: months to finance the balance"), validators=[Optional(), NumberRange(min=1, max=120)]
    )
    included_km_per_year = IntegerField(
        _l("Operating lease: km a year included"), validators=[Optional(), NumberRange(min=0, max=200_000)]
    )
    km_step = IntegerField(
        _l("Operating lease: km step above that"), validators=[Optional(), NumberRange(min=1, max=200_000)]
    )
    residual_reduction_pct_per_step = PercentField(
        _l("Operating lease: residual points lost per step"), validators=[Optional()]
    )
    min_residual_pct = PercentField(_l("Operating lease: lowest residual %"), validators=[Optional()])
    mileage_overage_per_km = MoneyField(_l("Operating lease: charge per extra km (¥)"), validators=[Optional()])
    mileage_options_km = StringField(
        _l("Operating lease: yearly mileage choices (e.g. 10000, 15000)"), validators=[Optional()]
    )
    valid_from = DateField(_l("Offered from (Beijing date)"), validators=[DataRequired()])
    last_day = DateField(_l("Last day offered (Beijing date, empty = open-ended)"), validators=[Optional()])
    sort_order = IntegerField(_l("Sort order"), default=0, validators=[Optional(), NumberRange(min=0, max=10_000)])
    version = HiddenField()

    def validate_terms_months(self, field: StringField) -> None:
        self._parsed_terms = _parsed(_int_list, field.data)

    def validate_residual_by_term(self, field: StringField) -> None:
        self._parsed_residuals = _parsed(_residual_table, field.data)

    def validate_mileage_options_km(self, field: StringField) -> None:
        self._parsed_mileages = _parsed(_int_list, field.data)

    def fill_from(self, product: FinanceProduct, *, local_date: Any) -> None:
        """Prefill an edit with the current version (GET)."""
        for name in (
            "kind",
            "name_en",
            "name_zh",
            "lender_en",
            "lender_zh",
            "description_en",
            "description_zh",
            "annual_rate_pct",
            "subsidised",
            "min_down_payment_pct",
            "max_down_payment_pct",
            "balloon_allowed",
            "max_balloon_pct",
            "fees",
            "balance_rate_pct",
            "balance_finance_months",
            "included_km_per_year",
            "km_step",
            "residual_reduction_pct_per_step",
            "min_residual_pct",
            "mileage_overage_per_km",
            "sort_order",
        ):
            value = getattr(product, name)
            getattr(self, name).data = value.value if isinstance(value, FinanceKind) else value
        self.code.data = product.code
        self.brand.data = str(product.brand_id or "")
        self.terms_months.data = ", ".join(str(t) for t in product.terms_months)
        self.residual_by_term.data = ", ".join(f"{t}:{p}" for t, p in product.residual_by_term.items())
        self.mileage_options_km.data = ", ".join(str(km) for km in product.mileage_options_km)
        self.valid_from.data = local_date(product.valid_from)
        self.last_day.data = local_date(product.valid_to - dt.timedelta(days=1)) if product.valid_to else None
        self.version.data = str(product.version)

    def values(self, *, to_utc: Any) -> dict[str, Any]:
        """Keyword arguments for services.ProductValues (after validate())."""
        return {
            "kind": FinanceKind(self.kind.data),
            "name_en": self.name_en.data.strip(),
            "name_zh": self.name_zh.data.strip(),
            "lender_en": self.lender_en.data.strip(),
            "lender_zh": self.lender_zh.data.strip(),
            "description_en": (self.description_en.data or "").strip(),
            "description_zh": (self.description_zh.data or "").strip(),
            "brand_id": int(self.brand.data) if self.brand.data else None,
            "annual_rate_pct": self.annual_rate_pct.data,
            "subsidised": self.subsidised.data,
            "terms_months": getattr(self, "_parsed_terms", []),
            "min_down_payment_pct": self.min_down_payment_pct.data,
            "max_down_payment_pct": self.max_down_payment_pct.data,
            "balloon_allowed": self.balloon_allowed.data,
            "max_balloon_pct": self.max_balloon_pct.data or ZERO,
            "fees": self.fees.data or ZERO,
            "residual_by_term": getattr(self, "_parsed_residuals", {}),
            "balance_rate_pct": self.balance_rate_pct.data,
            "balance_finance_months": self.balance_finance_months.data,
            "included_km_per_year": self.included_km_per_year.data,
            "km_step": self.km_step.data,
            "residual_reduction_pct_per_step": self.residual_reduction_pct_per_step.data,
            "min_residual_pct": self.min_residual_pct.data,
            "mileage_overage_per_km": self.mileage_overage_per_km.data,
            "mileage_options_km": getattr(self, "_parsed_mileages", []),
            "valid_from": to_utc(self.valid_from.data),
            "valid_to": to_utc(self.last_day.data + dt.timedelta(days=1)) if self.last_day.data else None,
            "sort_order": self.sort_order.data or 0,
        }
