"""JSON API of the finance area: the products on offer and stateless quotes (nothing is saved).

Contract (storefront/api/openapi.yaml, served at /api/v1/openapi.json): money is a string with two decimals
("4250.81"), percentages too ("4.00").
Input numbers are parsed strictly: ids, terms and mileage are JSON integers (or digit strings);
percentages are integers, decimal strings ("12.5") or JSON numbers, which go through Decimal(str(x)) and
may have at most two decimals. Every bad input, unknown ids included, is a 422 with
{"error", "message", "fields": {field: message}}; messages are in English.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_babel import force_locale

from models import FinanceProduct, Trim
from storefront.clock import now
from storefront.errors import DomainError, json_error
from storefront.extensions import csrf, db, limiter
from storefront.finance import queries, services
from storefront.finance.calculator import quantize_fen
from storefront.finance.quoting import ZERO, QuoteInputs, parse_percent, parse_whole

api_bp = Blueprint("finance_api", __name__, url_prefix="/api/v1")

MAX_BODY_BYTES = 4096  # a quote request is ~150 bytes; refuse anything that is clearly not one
REQUIRED = ("trim_id", "product_id", "down_payment_pct", "term_months")


def _two(value: Decimal) -> str:
    """A percentage or an amount as a string with two decimals (the one rounding rule: quantize_fen)."""
    return str(quantize_fen(value))


def _product_json(product: FinanceProduct) -> dict[str, Any]:
    return {
        "id": product.id,
        "code": product.code,
        "version": product.version,
        "kind": product.kind.value,
        "name": product.name_en,
        "name_zh": product.name_zh,
        "lender": product.lender_en,
        "brand": product.brand.slug if product.brand else None,
        "annual_rate_pct": _two(product.customer_rate_pct),
        "subsidised": product.subsidised,
        "terms_months": sorted(product.terms_months),
        "min_down_payment_pct": _two(product.min_down_payment_pct),
        "max_down_payment_pct": _two(product.max_down_payment_pct),
        "max_balloon_pct": _two(product.max_balloon_pct) if product.balloon_allowed else None,
        "fees": _two(product.fees),
        "valid_to": product.valid_to.isoformat() if product.valid_to else None,
    }


@api_bp.get("/finance-products")
def finance_products() -> Response:
    """Products offered now; `?brand=<slug>` keeps those open to that brand (all-brand products included)."""
    products = services.offered_products(db.session, brand_id=None, at=now())
    brand = request.args.get("brand")
    if brand:
        products = [p for p in products if p.brand is None or p.brand.slug == brand]
    return jsonify({"products": [_product_json(p) for p in products]})


@api_bp.post("/quotes")
@limiter.limit("120 per minute")
def create_quote() -> Any:
    """Compute a quote. Nothing is stored, so nothing needs a CSRF token (see the exemption below)."""
    with force_locale("en"):
        body, problem = _read_json_object()
        if problem:
            return json_error(422, "invalid_json", problem)
        fields, values = _parse_quote_request(body)
        if fields:
            return json_error(422, "invalid", "Some fields are not valid.", fields)
        try:
            trim, product = _load(values)
            inputs = QuoteInputs(
                values["down_payment_pct"], values["term_months"], values["balloon_pct"], values["annual_mileage_km"]
            )
            result = services.quote_for_trim(trim=trim, product=product, inputs=inputs)
        except DomainError as error:
            return json_error(422, "invalid", error.user_message, error.fields)
    body = result.to_json()
    body.update(trim_id=trim.id, product={"id": product.id, "code": product.code, "version": product.version})
    return jsonify(body)


# The quote endpoint only computes: it changes no state and uses no cookie-authenticated identity, so a
# forged cross-site request gains nothing; external clients must be able to POST plain JSON without a token.
csrf.exempt(create_quote)


def _read_json_object() -> tuple[dict[str, Any], str | None]:
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return {}, "The request body is too large."
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
        return {}, "The request body is not valid JSON."
    if not isinstance(body, dict):
        return {}, "Send a JSON object."
    return body, None


def _parse_quote_request(body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Field errors and parsed values; a missing required field is an error, optional ones default."""
    fields: dict[str, str] = {}
    values: dict[str, Any] = {"balloon_pct": ZERO, "annual_mileage_km": None}
    for name in REQUIRED:
        if body.get(name) is None:
            fields[name] = "This field is required."
    parsers = {
        "trim_id": parse_whole,
        "product_id": parse_whole,
        "term_months": parse_whole,
        "annual_mileage_km": parse_whole,
        "down_payment_pct": _percent,
        "balloon_pct": _percent,
    }
    for name, parse in parsers.items():
        if name in fields or body.get(name) is None:
            continue
        try:
            values[name] = parse(body[name])
        except ValueError as error:
            fields[name] = str(error)
    return fields, values


def _percent(value: object) -> Decimal:
    return parse_percent(value, allow_float=True)


def _load(values: dict[str, Any]) -> tuple[Trim, FinanceProduct]:
    """Unknown ids are input errors like any other (422), so clients handle one error shape."""
    trim = queries.find_trim(db.session, values["trim_id"])
    if trim is None:
        raise DomainError("There is no such trim.", field="trim_id")
    product = services.offered_product(db.session, product_id=values["product_id"], trim=trim, at=now())
    return trim, product
