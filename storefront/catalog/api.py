"""JSON API of the catalog: models with their trims and stock, showrooms with their hours and stock.

Contract: storefront/api/openapi.yaml (served at /api/v1/openapi.json). Public and read-only; money is a string
with two decimals ("159800.00"); stock counts only cars on sale (in stock, not held). Malformed query
parameters are a 400 naming each one; unknown ids a 404; errors are {"error", "message", "fields"}.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from models import BodyType, CarModel, City, Dealer, Powertrain, Trim, Vehicle, VehicleStatus
from storefront.api.http import cache_for
from storefront.api.params import QueryArgs
from storefront.caching import CachedPage, cached_page
from storefront.catalog import queries, services
from storefront.errors import json_error
from storefront.extensions import db
from storefront.outbox import public_url
from storefront.reservations.availability import release_expired_holds_now, release_expired_holds_now_and_then

api_bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STORE_TIMEZONE = "Asia/Shanghai"
POWERTRAIN_FILTERS = [p.value for p in Powertrain] + [queries.NEW_ENERGY]


def _money(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


@api_bp.get("/models")
@cache_for(60)
def models() -> Any:
    args = QueryArgs()
    body_type = args.choice("body_type", [b.value for b in BodyType])
    filters = queries.ListingFilters(
        brand=args.text("brand", max_length=40),
        body_type=BodyType(body_type) if body_type else None,
        powertrain=args.choice("powertrain", POWERTRAIN_FILTERS),
        min_price=args.price("min_price"),
        max_price=args.price("max_price"),
        seats=args.whole("seats", minimum=2, maximum=9),
        city=args.text("city", max_length=40),
        q=args.text("q"),
        sort=args.choice("sort", list(queries.SORTS), default="popular") or "popular",
    )
    page_number, per_page = args.page()
    if (problem := args.error()) is not None:
        return problem

    def render() -> CachedPage:
        page = queries.list_models(db.session, filters, page=page_number, per_page=per_page)
        stock = queries.units_in_stock(db.session, [m.id for m in page.items])
        return CachedPage(current_app.json.dumps({
            "models": [_model_summary(m, stock.get(m.id, 0)) for m in page.items],
            "total": page.total, "page": page.page, "per_page": page.per_page,
        }))

    return _cached_json(render)


def _cached_json(render: Callable[[], CachedPage]) -> Response:
    """The answer from the catalog page cache: kept per catalog version and URL, for at most the stock staleness
    bound (5 s), like the catalog pages, since it carries stock counts. Holds whose time ran out are released as
    on the pages (at most every few seconds per worker)."""
    release_expired_holds_now_and_then()
    # Without PUBLIC_BASE_URL the answer's links follow the request's host: keep such answers apart per host.
    host = "" if current_app.config.get("PUBLIC_BASE_URL") else request.host
    page = cached_page(render, variant=f"api:{host}", stock_dependent=True)
    return Response(page.body, mimetype="application/json")


def _model_summary(car_model: CarModel, in_stock: int) -> dict[str, Any]:
    return {
        "id": car_model.id,
        "slug": car_model.slug,
        "brand": car_model.brand.slug,
        "name": car_model.name_en,
        "name_zh": car_model.name_zh,
        "body_type": car_model.body_type.value,
        "powertrain": car_model.powertrain.value,
        "model_year": car_model.model_year,
        "min_price_cny": _money(car_model.price_from),
        "in_stock_count": in_stock,
        "url": public_url("catalog.model_detail", slug=car_model.slug),
    }


@api_bp.get("/models/<int(max=2147483647):model_id>")
@cache_for(60)
def model(model_id: int) -> Any:
    def render() -> CachedPage:
        # The model with its brand and trims in one statement: a miss costs 4 (this, units, cities, showrooms).
        car_model = db.session.execute(
            select(CarModel).where(CarModel.id == model_id, CarModel.is_active.is_(True))
            .options(joinedload(CarModel.brand), joinedload(CarModel.trims))
        ).unique().scalar_one_or_none()
        if car_model is None:
            return CachedPage("", {"missing": True})
        stock = queries.units_in_stock(db.session, [car_model.id]).get(car_model.id, 0)
        body = _model_summary(car_model, stock)
        body.update(
            description=car_model.description_en,
            description_zh=car_model.description_zh,
            trims=[_trim_json(t) for t in car_model.trims if t.is_active],
            connectivity=[{"code": f.get("code", ""), "name": f.get("name_en", ""), "name_zh": f.get("name_zh", "")}
                          for f in car_model.features or []],
            stock_by_city=_stock_by_city(car_model.id),
        )
        return CachedPage(current_app.json.dumps(body))

    answer = _cached_json(render)
    if not answer.get_data():
        return json_error(404, "not_found", f"No car model with id {model_id}.")
    return answer


def _trim_json(trim: Trim) -> dict[str, Any]:
    return {
        "id": trim.id,
        "name": trim.name_en,
        "name_zh": trim.name_zh,
        "price_cny": _money(trim.msrp_cny),
        "specs": {
            "model_year": trim.model_year,
            "powertrain": trim.powertrain.value,
            "engine": trim.engine,
            "power_kw": trim.power_kw,
            "transmission": trim.transmission,
            "drive": trim.drive,
            "seats": trim.seats,
            "fuel_l_per_100km": f"{trim.fuel_l_per_100km:.1f}" if trim.fuel_l_per_100km is not None else None,
            "range_km": trim.range_km,
            "connectivity": trim.connectivity,
        },
        "colours": [{"code": c.get("code", ""), "name": c.get("name_en", ""), "name_zh": c.get("name_zh", ""),
                     "hex": c.get("hex", "")} for c in trim.colours or []],
    }


def _stock_by_city(car_model_id: int) -> list[dict[str, Any]]:
    by_city: dict[int, dict[str, Any]] = {}
    cities = {c.id: c for c in db.session.scalars(select(City))}  # one query, not one per showroom
    for dealer, units in services.stock_by_dealer(db.session, car_model_id=car_model_id):
        place = cities[dealer.city_id]
        city = by_city.setdefault(dealer.city_id, {
            "city": place.slug, "city_name": place.name_en, "city_name_zh": place.name_zh,
            "in_stock_count": 0, "dealers": [],
        })
        city["in_stock_count"] += units
        city["dealers"].append({"id": dealer.id, "code": dealer.code, "in_stock_count": units})
    return list(by_city.values())


@api_bp.get("/dealers")
@cache_for(300)
def dealers() -> Any:
    args = QueryArgs()
    city = args.text("city", max_length=40)
    if (problem := args.error()) is not None:
        return problem
    query = select(Dealer).join(City, City.id == Dealer.city_id).where(Dealer.is_active.is_(True))
    if city:
        query = query.where(City.slug == city)
    rows = db.session.scalars(query.options(selectinload(Dealer.city)).order_by(City.sort_order, Dealer.code)).all()
    return jsonify({"dealers": [_dealer_json(d) for d in rows]})


def _dealer_json(dealer: Dealer) -> dict[str, Any]:
    hours = dealer.opening_hours or {}
    return {
        "id": dealer.id,
        "code": dealer.code,
        "name": dealer.name_en,
        "name_zh": dealer.name_zh,
        "city": dealer.city.slug,
        "address": dealer.address_en,
        "address_zh": dealer.address_zh,
        "phone": dealer.phone,
        "timezone": STORE_TIMEZONE,
        "hours": {day: ({"opens": span[0], "closes": span[1]} if span else None)
                  for day in WEEKDAYS for span in [hours.get(day)]},
        "services": [name for name, offered in (("test_drive", dealer.offers_test_drive),
                                                ("pickup", dealer.offers_pickup),
                                                ("self_service_kiosk", dealer.has_self_service_kiosk)) if offered],
    }


@api_bp.get("/dealers/<int(max=2147483647):dealer_id>/stock")
@cache_for(30)
def dealer_stock(dealer_id: int) -> Response | tuple[Response, int]:
    args = QueryArgs()
    model_id = args.whole("model_id")
    if (problem := args.error()) is not None:
        return problem
    dealer = db.session.get(Dealer, dealer_id)
    if dealer is None or not dealer.is_active:
        return json_error(404, "not_found", f"No showroom with id {dealer_id}.")
    if model_id is not None and db.session.get(CarModel, model_id) is None:
        return json_error(404, "not_found", f"No car model with id {model_id}.", {"model_id": "Unknown model."})
    release_expired_holds_now()
    units = func.count(Vehicle.id)
    query = (
        select(Trim, Vehicle.colour_code, units)
        .join(Vehicle, Vehicle.trim_id == Trim.id)
        .where(Vehicle.dealer_id == dealer.id, Vehicle.status == VehicleStatus.IN_STOCK)
        .group_by(Trim.id, Vehicle.colour_code)
        .order_by(Trim.car_model_id, Trim.msrp_cny, Trim.id, Vehicle.colour_code)
    )
    if model_id is not None:
        query = query.where(Trim.car_model_id == model_id)
    stock = []
    for trim, colour_code, count in db.session.execute(query):
        colour = trim.colour(colour_code) or {}
        stock.append({"model_id": trim.car_model_id, "trim_id": trim.id, "trim_name": trim.name_en,
                      "trim_name_zh": trim.name_zh, "colour": colour_code, "colour_name": colour.get("name_en", ""),
                      "colour_name_zh": colour.get("name_zh", ""), "units": count})
    return jsonify({"dealer_id": dealer.id, "dealer": dealer.code, "model_id": model_id, "stock": stock})
