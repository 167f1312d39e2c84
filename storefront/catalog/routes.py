"""Catalog pages: the flagship hall, brand pages, model listing/detail, compare and the showroom locator."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Response, abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import Brand, CarModel, City, Dealer, Powertrain, Trim
from storefront.catalog import queries, seed, services
from storefront.catalog.forms import ListingFilterForm
from storefront.extensions import db
from storefront.reservations.availability import release_expired_holds_now
from storefront.visits import record_view_after_response

bp = Blueprint("catalog", __name__, cli_group="catalog")

MAX_COMPARE = 3


def _is_htmx_fragment() -> bool:
    """htmx asked for a fragment (not a history restore, which needs the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _brands() -> list[Brand]:
    return list(db.session.scalars(select(Brand).order_by(Brand.sort_order)))


def _cities() -> list[City]:
    return list(db.session.scalars(select(City).order_by(City.sort_order)))


@bp.get("/")
def home() -> str:
    hot = db.session.scalars(
        select(CarModel).where(CarModel.is_active.is_(True)).options(selectinload(CarModel.brand))
        .order_by(CarModel.popularity.desc()).limit(6)
    ).all()
    new_energy = db.session.scalars(
        select(CarModel).where(CarModel.is_active.is_(True), CarModel.powertrain.in_([Powertrain.BEV, Powertrain.PHEV]))
        .options(selectinload(CarModel.brand)).order_by(CarModel.price_from)
    ).all()
    return render_template("catalog/home.html", brands=_brands(), hot=hot, new_energy=new_energy)


@bp.get("/brands/<slug>")
def brand(slug: str) -> str:
    brand = db.session.scalar(select(Brand).where(Brand.slug == slug)) or abort(404)
    car_models = db.session.scalars(
        select(CarModel).where(CarModel.brand_id == brand.id, CarModel.is_active.is_(True))
        .options(selectinload(CarModel.trims)).order_by(CarModel.sort_order)
    ).all()
    return render_template("catalog/brand.html", brand=brand, car_models=car_models)


@bp.get("/models")
def listing() -> str:
    release_expired_holds_now()  # held cars whose time ran out are back on sale before we count stock
    form = ListingFilterForm(request.args)
    brands, cities = _brands(), _cities()
    form.brand.choices = [("", _("All brands"))] + [(b.slug, b.name_zh if _is_zh() else b.name_en) for b in brands]
    form.city.choices = [("", _("Any city"))] + [(c.slug, c.name_zh if _is_zh() else c.name_en) for c in cities]
    valid = form.validate()
    filters = _filters_from(form) if valid else queries.ListingFilters()
    page_number = request.args.get("page", 1, type=int) or 1
    page = queries.list_models(db.session, filters, page=page_number, per_page=current_app.config["PAGE_SIZE"])
    stock = queries.units_in_stock(db.session, [m.id for m in page.items])
    template = "catalog/_results.html" if _is_htmx_fragment() else "catalog/listing.html"
    return render_template(template, form=form, page=page, stock=stock, filters=filters, valid=valid)


def _is_zh() -> bool:
    from storefront.i18n import is_chinese

    return is_chinese()


def _filters_from(form: ListingFilterForm) -> queries.ListingFilters:
    from models import BodyType

    brand_slugs = {choice[0] for choice in form.brand.choices or []}  # type: ignore[union-attr]
    city_slugs = {choice[0] for choice in form.city.choices or []}  # type: ignore[union-attr]
    return queries.ListingFilters(
        brand=form.brand.data if form.brand.data in brand_slugs else None,
        body_type=BodyType(form.body_type.data) if form.body_type.data else None,
        powertrain=form.powertrain.data or None,
        min_price=form.min_price.data,
        max_price=form.max_price.data,
        seats=form.seats.data,
        city=form.city.data if form.city.data in city_slugs else None,
        q=(form.q.data or "").strip()[:80] or None,
        sort=form.sort_value(),
    )


@bp.get("/models/<slug>")
def model_detail(slug: str) -> str | Response:
    release_expired_holds_now()
    car_model = db.session.scalar(
        select(CarModel).where(CarModel.slug == slug, CarModel.is_active.is_(True))
        .options(selectinload(CarModel.brand), selectinload(CarModel.trims))
    ) or abort(404)
    cities = _cities()
    city_slug = request.args.get("city", "")
    city = next((c for c in cities if c.slug == city_slug), None)
    stock_cities = services.cities_with_stock(db.session, car_model_id=car_model.id)
    if city is None and stock_cities:
        city = stock_cities[0][0]
    showrooms = services.stock_by_dealer(db.session, car_model_id=car_model.id, city_id=city.id if city else None)
    context: dict[str, Any] = {
        "car_model": car_model, "cities": cities, "city": city, "showrooms": showrooms, "stock_cities": stock_cities,
        "deposit_kind": services.deposit_kind_of(db.session, car_model_id=car_model.id),
    }
    if _is_htmx_fragment() and request.args.get("partial") == "stock":
        return render_template("catalog/_stock.html", **context)
    response = make_response(render_template("catalog/detail.html", **context))
    # The funnel view (not the city switch above), written once the page has been sent.
    record_view_after_response(response, db.session, car_model_id=car_model.id,
                               city_id=city.id if city and city.slug == city_slug else None)
    return response


@bp.get("/compare")
def compare() -> str:
    raw_ids = request.args.getlist("trim")
    ids = [int(x) for x in raw_ids if x.isdigit()][:MAX_COMPARE]
    too_many = len(raw_ids) > MAX_COMPARE
    trims = db.session.scalars(
        select(Trim).where(Trim.id.in_(ids)).options(selectinload(Trim.car_model).selectinload(CarModel.brand))
    ).all()
    trims = sorted(trims, key=lambda t: ids.index(t.id))
    all_trims = db.session.scalars(
        select(Trim).join(CarModel).where(Trim.is_active.is_(True), CarModel.is_active.is_(True))
        .options(selectinload(Trim.car_model)).order_by(CarModel.sort_order, Trim.msrp_cny)
    ).all()
    return render_template("catalog/compare.html", trims=trims, all_trims=all_trims, too_many=too_many,
                           max_compare=MAX_COMPARE)


@bp.get("/showrooms")
def showrooms() -> str:
    cities = _cities()
    city_slug = request.args.get("city", "")
    city = next((c for c in cities if c.slug == city_slug), None)
    query = select(Dealer).where(Dealer.is_active.is_(True)).options(selectinload(Dealer.city))
    if city:
        query = query.where(Dealer.city_id == city.id)
    dealers = db.session.scalars(query.order_by(Dealer.city_id, Dealer.name_en)).all()
    return render_template("catalog/showrooms.html", cities=cities, city=city, dealers=dealers)


@bp.cli.command("seed")
@click.option("--scale", type=int, default=0, help="Also add this many extra vehicles (benchmarks).")
def seed_command(scale: int) -> None:
    """Load the demo catalog (idempotent); --scale N adds N generated vehicles."""
    report = seed.seed_catalog(db.session)
    added = seed.seed_scale(db.session, count=scale) if scale else 0
    db.session.commit()
    seed.analyze(db.session)
    click.echo(f"catalog: {report}; extra vehicles added: {added}")
