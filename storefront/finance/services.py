"""Finance rules: which products a trim is offered, versioned product edits, quoting and saved quotes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import QUOTE_VALIDITY, FinanceKind, FinanceProduct, FunnelStep, Quote, Trim, User
from storefront.audit import record_audit
from storefront.errors import ConflictError, DomainError, NotFoundError
from storefront.events import record_event
from storefront.finance import calculator
from storefront.finance.quoting import QuoteInputs, QuoteResult, build_quote, default_inputs

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: read aloud and typed at a counter
REFERENCE_LENGTH = 6
_REFERENCE = re.compile(rf"Q-[{REFERENCE_ALPHABET}]{{{REFERENCE_LENGTH}}}")
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{2,39}")
SAMPLE_PRICE = Decimal("150000.00")  # a product must quote a ¥150,000 car with its default inputs


# --- Products -------------------------------------------------------------------------


def offered_products(session: Session, *, brand_id: int | None, at: dt.datetime) -> list[FinanceProduct]:
    """Current products valid at `at` for a brand (brand-wide and all-brand ones), in display order.

    `brand_id=None` lists every current product valid at `at` (the API without a brand filter).
    """
    query = select(FinanceProduct).where(
        FinanceProduct.is_current.is_(True),
        FinanceProduct.valid_from <= at,
        (FinanceProduct.valid_to.is_(None)) | (FinanceProduct.valid_to > at),
    )
    if brand_id is not None:
        query = query.where((FinanceProduct.brand_id.is_(None)) | (FinanceProduct.brand_id == brand_id))
    query = query.options(selectinload(FinanceProduct.brand)).order_by(FinanceProduct.sort_order, FinanceProduct.id)
    return list(session.scalars(query))


def current_products(session: Session) -> list[FinanceProduct]:
    """The latest version of every product, valid or not (staff list)."""
    query = (
        select(FinanceProduct)
        .where(FinanceProduct.is_current.is_(True))
        .options(selectinload(FinanceProduct.brand))
        .order_by(FinanceProduct.sort_order, FinanceProduct.id)
    )
    return list(session.scalars(query))


def product_history(session: Session, *, code: str) -> list[FinanceProduct]:
    """Every version of one product, newest first."""
    query = select(FinanceProduct).where(FinanceProduct.code == code).order_by(FinanceProduct.version.desc())
    return list(session.scalars(query))


def offered_product(session: Session, *, product_id: int, trim: Trim, at: dt.datetime) -> FinanceProduct:
    """The product a shopper picked, if it is current, valid now and offered for the trim's brand."""
    product = session.get(FinanceProduct, product_id) if 0 < product_id <= 2_147_483_647 else None
    if product is None:
        raise DomainError(_("There is no such finance product."), field="product_id")
    if not product.is_current:
        raise DomainError(_("This product has been updated since; choose it again."), field="product_id")
    if not product.is_valid_at(at) or not product.applies_to_brand(trim.car_model.brand_id):
        raise DomainError(_("This product is not offered for this car."), field="product_id")
    return product


@dataclass(frozen=True)
class ProductValues:
    """Everything an admin sets on a product (all but code and kind can change in a new version)."""

    kind: FinanceKind
    name_en: str
    name_zh: str
    lender_en: str
    lender_zh: str
    annual_rate_pct: Decimal
    terms_months: list[int]
    min_down_payment_pct: Decimal
    max_down_payment_pct: Decimal
    valid_from: dt.datetime
    description_en: str = ""
    description_zh: str = ""
    brand_id: int | None = None
    subsidised: bool = False
    balloon_allowed: bool = False
    max_balloon_pct: Decimal = Decimal("0.00")
    fees: Decimal = Decimal("0.00")
    residual_by_term: dict[str, str] = dataclasses.field(default_factory=dict)
    balance_rate_pct: Decimal | None = None
    balance_finance_months: int | None = None
    included_km_per_year: int | None = None
    km_step: int | None = None
    residual_reduction_pct_per_step: Decimal | None = None
    min_residual_pct: Decimal | None = None
    mileage_overage_per_km: Decimal | None = None
    mileage_options_km: list[int] = dataclasses.field(default_factory=list)
    valid_to: dt.datetime | None = None
    sort_order: int = 0

    @classmethod
    def of(cls, product: FinanceProduct) -> ProductValues:
        return cls(**{f.name: getattr(product, f.name) for f in dataclasses.fields(cls)})

    def audit_view(self) -> dict[str, Any]:
        """JSON-safe values for the audit log."""
        return {key: _json_safe(value) for key, value in dataclasses.asdict(self).items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, FinanceKind):
        return value.value
    if isinstance(value, Decimal | dt.datetime):
        return str(value)
    return value


def create_product(session: Session, *, actor: User, code: str, values: ProductValues) -> FinanceProduct:
    """Add version 1 of a new product; the code must be new."""
    if not _CODE.fullmatch(code):
        raise DomainError(_("Use 3-40 lower-case letters, digits and dashes."), field="code")
    if session.scalar(select(FinanceProduct.id).where(FinanceProduct.code == code).limit(1)) is not None:
        raise DomainError(_("A product with this code exists already."), field="code")
    _check_product(values)
    product = FinanceProduct(
        code=code, version=1, is_current=True, created_by_id=actor.id, **dataclasses.asdict(values)
    )
    session.add(product)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="finance_product.create",
        entity_type="finance_product",
        entity_id=product.id,
        after={"code": code, "version": 1, **values.audit_view()},
    )
    return product


def update_product(
    session: Session, *, actor: User, product: FinanceProduct, values: ProductValues, expected_version: int
) -> FinanceProduct:
    """Save an edit as the next version of the product; the old version stays for the quotes that used it.

    `expected_version` is the version the admin was editing: if someone saved in between, refuse (409)
    instead of silently overwriting their change.
    """
    current = session.scalar(
        select(FinanceProduct)
        .where(FinanceProduct.code == product.code, FinanceProduct.is_current.is_(True))
        .with_for_update()
    )
    if current is None or current.version != expected_version:
        raise ConflictError(_("Someone changed this product while you were editing it. Please review it again."))
    if values.kind is not current.kind:
        raise DomainError(_("The kind of a product cannot change; create a new product instead."), field="kind")
    _check_product(values)
    current.is_current = False
    session.flush()  # the old row stops being current before the new one claims the code
    new_version = FinanceProduct(
        code=current.code,
        version=current.version + 1,
        is_current=True,
        created_by_id=actor.id,
        **dataclasses.asdict(values),
    )
    session.add(new_version)
    session.flush()
    before = {"version": current.version, **ProductValues.of(current).audit_view()}
    record_audit(
        session,
        actor=actor,
        action="finance_product.update",
        entity_type="finance_product",
        entity_id=new_version.id,
        before=before,
        after={"version": new_version.version, **values.audit_view()},
    )
    return new_version


def _check_product(values: ProductValues) -> None:
    """Rules a product must meet to be quotable; each failure names the form field."""
    kind = values.kind
    if not values.terms_months:
        raise DomainError(_("Give at least one term."), field="terms_months")
    if kind is FinanceKind.FULL_PAYMENT and values.terms_months != [0]:
        raise DomainError(_("Full payment has no term: use 0."), field="terms_months")
    if kind is not FinanceKind.FULL_PAYMENT and not all(1 <= t <= 120 for t in values.terms_months):
        raise DomainError(_("Terms are between 1 and 120 months."), field="terms_months")
    if not Decimal(0) <= values.min_down_payment_pct <= values.max_down_payment_pct <= Decimal(100):
        raise DomainError(_("Down payments: 0 ≤ minimum ≤ maximum ≤ 100."), field="min_down_payment_pct")
    if values.balloon_allowed and kind is not FinanceKind.LOAN:
        raise DomainError(_("Only loans have a balloon (尾款)."), field="balloon_allowed")
    if values.valid_to is not None and values.valid_to <= values.valid_from:
        raise DomainError(_("The end of validity must come after its start."), field="valid_to")
    if kind in (FinanceKind.LEASE_TO_OWN, FinanceKind.OPERATING_LEASE):
        missing = [t for t in values.terms_months if str(t) not in values.residual_by_term]
        if missing:
            raise DomainError(_("Give a residual value for every term."), field="residual_by_term")
    if kind is FinanceKind.LEASE_TO_OWN and (values.balance_rate_pct is None or not values.balance_finance_months):
        raise DomainError(_("Give the rate and months for financing the balance."), field="balance_rate_pct")
    # Finally, the product must quote a sample car at the lowest, default and highest down payment.
    probe = FinanceProduct(**dataclasses.asdict(values))
    for down in {values.min_down_payment_pct, values.max_down_payment_pct}:
        for term in values.terms_months:
            base = default_inputs(probe)
            inputs = QuoteInputs(down, term, annual_mileage_km=base.annual_mileage_km)
            try:
                build_quote(price=SAMPLE_PRICE, is_new_energy=False, product=probe, inputs=inputs)
            except DomainError as error:
                message = _(
                    "These settings cannot be quoted (%(term)s months, %(down)s%% down): %(why)s",
                    term=term,
                    down=down,
                    why=error.user_message,
                )
                raise DomainError(message, field="terms_months") from None


# --- Quotes ---------------------------------------------------------------------------


def quote_for_trim(*, trim: Trim, product: FinanceProduct, inputs: QuoteInputs) -> QuoteResult:
    """Quote a trim at its current guide price; raises DomainError naming the field at fault."""
    return build_quote(price=trim.msrp_cny, is_new_energy=trim.powertrain.is_new_energy, product=product, inputs=inputs)


def comparison(*, trim: Trim, products: list[FinanceProduct]) -> list[tuple[FinanceProduct, QuoteResult]]:
    """Every offered product quoted with its default inputs, skipping any that cannot quote this car."""
    quotes = []
    for product in products:
        try:
            quotes.append((product, quote_for_trim(trim=trim, product=product, inputs=default_inputs(product))))
        except DomainError:
            continue
    return quotes


def save_quote(
    session: Session,
    *,
    user: User | None,
    trim: Trim,
    product: FinanceProduct,
    inputs: QuoteInputs,
    now: dt.datetime,
    visit_key: str = "",
) -> Quote:
    """Compute and store a quote with its inputs and results frozen; it is valid for QUOTE_VALIDITY."""
    result = quote_for_trim(trim=trim, product=product, inputs=inputs)
    car_model = trim.car_model
    frozen_inputs = {
        **inputs.to_json(),
        "trim": {
            "id": trim.id,
            "name_en": trim.name_en,
            "name_zh": trim.name_zh,
            "model_year": trim.model_year,
            "model_en": car_model.name_en,
            "model_zh": car_model.name_zh,
            "model_slug": car_model.slug,
            "brand_en": car_model.brand.name_en,
            "brand_zh": car_model.brand.name_zh,
            "price_cny": str(calculator.quantize_fen(trim.msrp_cny)),
        },
        "product": {
            "id": product.id,
            "code": product.code,
            "version": product.version,
            "kind": product.kind.value,
            "name_en": product.name_en,
            "name_zh": product.name_zh,
            "lender_en": product.lender_en,
            "lender_zh": product.lender_zh,
            "annual_rate_pct": str(product.annual_rate_pct),
            "customer_rate_pct": str(product.customer_rate_pct),
            "subsidised": product.subsidised,
            "fees_cny": str(calculator.quantize_fen(product.fees)),
        },
    }
    quote = Quote(
        reference=_new_reference(session),
        trim_id=trim.id,
        product_id=product.id,
        product_version=product.version,
        user_id=user.id if user is not None else None,
        inputs=frozen_inputs,
        results=result.to_json(),
        valid_until=now + QUOTE_VALIDITY,
        created_at=now,
    )
    session.add(quote)
    session.flush()
    record_event(
        session,
        FunnelStep.QUOTE,
        car_model_id=car_model.id,
        visit_key=visit_key,
        finance_kind=product.kind.value,
        term_months=result.term_months,
    )
    return quote


def _new_reference(session: Session) -> str:
    """A random "Q-XXXXXX" not yet used (32^6 ≈ 10^9 codes; the unique constraint backs this up)."""
    for _attempt in range(10):
        code = "Q-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if session.scalar(select(Quote.id).where(Quote.reference == code)) is None:
            return code
    raise ConflictError(_("Could not save the quote just now. Please try again."))


def normalise_reference(code: str) -> str | None:
    """Turn " q-7k3m9p " or "7K3M9P" into "Q-7K3M9P"; None when it cannot be a reference."""
    text = re.sub(r"\s+", "", code or "").upper()
    if len(text) == REFERENCE_LENGTH:
        text = "Q-" + text
    elif len(text) == REFERENCE_LENGTH + 1 and text.startswith("Q"):
        text = "Q-" + text[1:]
    return text if _REFERENCE.fullmatch(text) else None


def find_by_reference(session: Session, code: str) -> Quote | None:
    """The saved quote with this reference (case and spaces forgiven), or None."""
    reference = normalise_reference(code)
    if reference is None:
        return None
    return session.scalar(select(Quote).where(Quote.reference == reference))


def get_by_reference(session: Session, *, code: str) -> Quote:
    quote = find_by_reference(session, code)
    if quote is None:
        raise NotFoundError(_("There is no quote with this reference."))
    return quote


def quotes_of(session: Session, *, user: User, limit: int = 50) -> list[Quote]:
    """A member's saved quotes, newest first (one query: everything shown is frozen in the quote)."""
    query = select(Quote).where(Quote.user_id == user.id).order_by(Quote.created_at.desc(), Quote.id.desc())
    return list(session.scalars(query.limit(limit)))
