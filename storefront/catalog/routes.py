"""Catalog pages: the flagship hall, brand pages, model listing/detail, compare and the showroom locator."""

from __future__ import annotations

import click
from flask import Blueprint, Response, abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from models import Brand, CarModel, City, Dealer, DepositPolicy, Powertrain, Trim
from storefront import caching
from storefront.caching import CachedPage, cached_page
from storefront.catalog import illustrations, live, queries, seed, seo, services
from storefront.catalog.forms import ListingFilterForm
from storefront.extensions import db
from storefront.i18n import localised as loc
from storefront.ids import parse_ids
from storefront.reservations.availability import release_expired_holds_now_and_then
from storefront.visits import record_view_after_response

bp = Blueprint("catalog", __name__, cli_group="catalog")
bp.add_app_template_global(live.units_marker, "live_units_marker")
bp.add_app_template_global(seo.head_links, "seo_links")

MAX_COMPARE = 3


def _is_htmx_fragment() -> bool:
    """htmx asked for a fragment (not a history restore, which needs the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _brands() -> list[Brand]:
    return list(db.session.scalars(select(Brand).order_by(Brand.sort_order)))


def _cities() -> list[City]:
    return list(db.session.scalars(select(City).order_by(City.sort_order)))


@bp.get("/")
def home() -> Response:
    def render() -> CachedPage:
        hot = db.session.scalars(
            select(CarModel).where(CarModel.is_active.is_(True)).options(joinedload(CarModel.brand))
            .order_by(CarModel.popularity.desc()).limit(8)
        ).all()
        new_energy = db.session.scalars(
            select(CarModel)
            .where(CarModel.is_active.is_(True), CarModel.powertrain.in_([Powertrain.BEV, Powertrain.PHEV]))
            .options(joinedload(CarModel.brand)).order_by(CarModel.price_from)
        ).all()
        return CachedPage(render_template("catalog/home.html", brands=_brands(), hot=hot, new_energy=new_energy))

    return caching.page_response(cached_page(render).body, last_modified=caching.catalog_changed_at())


@bp.get("/brands/<slug>")
def brand(slug: str) -> Response:
    def render() -> CachedPage:
        brand = db.session.scalar(select(Brand).where(Brand.slug == slug)) or abort(404)
        car_models = db.session.scalars(
            select(CarModel).where(CarModel.brand_id == brand.id, CarModel.is_active.is_(True))
            .order_by(CarModel.sort_order)
        ).all()
        return CachedPage(render_template("catalog/brand.html", brand=brand, car_models=car_models))

    return caching.page_response(cached_page(render).body, last_modified=caching.catalog_changed_at())


@bp.get("/models")
def listing() -> Response:
    """Models, filtered and paginated. The page is cached per catalog version; the page with its unit counts
    filled in is kept for the stock staleness bound (5 s), so a hit costs no query at all."""
    release_expired_holds_now_and_then()  # held cars whose time ran out go back on sale (bounded staleness)

    def render() -> CachedPage:
        brands, cities = _brands(), _cities()
        # A signed-in shopper's preferred city leads when the URL names none (signed-in pages are never shared).
        preferred = None if "city" in request.args else services.preferred_city(cities, current_user)
        form = ListingFilterForm(request.args, city=preferred.slug if preferred else None)
        form.brand.choices = [("", _("All brands"))] + [(b.slug, loc(b, "name")) for b in brands]
        form.city.choices = [("", _("Any city"))] + [(c.slug, loc(c, "name")) for c in cities]
        valid = form.validate()
        filters = _filters_from(form) if valid else queries.ListingFilters()
        page_number = request.args.get("page", 1, type=int) or 1
        page = queries.list_models(db.session, filters, page=page_number, per_page=current_app.config["PAGE_SIZE"])
        template = "catalog/_results.html" if _is_htmx_fragment() else "catalog/listing.html"
        return CachedPage(render_template(template, form=form, page=page, filters=filters, valid=valid,
                                          live_stock=True))

    def with_stock() -> CachedPage:
        page = cached_page(render, stock_dependent=bool(request.args.get("city")))
        return CachedPage(live.fill_unit_counts(page.body))

    return caching.page_response(cached_page(with_stock, variant="with-stock", stock_dependent=True).body)


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
def model_detail(slug: str) -> Response:
    """A model. The page is cached per catalog version and city shown; the page with where it is in stock
    filled in is kept for the stock staleness bound (5 s)."""
    release_expired_holds_now_and_then()
    requested = request.args.get("city", "")
    if "city" not in request.args and current_user.is_authenticated:  # a signed-in shopper's preferred city leads
        preferred = services.preferred_city(_cities(), current_user)
        requested = preferred.slug if preferred else ""
    page = cached_page(lambda: _detail_with_stock(slug, requested), variant="with-stock", stock_dependent=True)
    if _is_htmx_fragment() and request.args.get("partial") == "stock":
        return make_response(page.meta["stock"])
    response = caching.page_response(page.body)
    # The funnel view (not the city switch above), written once the page has been sent.
    city = page.meta["city"]
    record_view_after_response(response, db.session, car_model_id=page.meta["model_id"],
                               city_id=city["id"] if city and city["slug"] == requested else None)
    return response


def _detail_with_stock(slug: str, requested: str) -> CachedPage:
    holdings = live.stock_of_model(slug)
    # With no city asked for (or an unknown one), show the first city that has the car.
    first_with_stock = holdings[0].city.slug if holdings else ""
    shown = requested or first_with_stock
    page = cached_page(lambda: _render_detail(slug, shown), variant=shown)
    if requested and page.meta["city"] is None and first_with_stock:
        page = cached_page(lambda: _render_detail(slug, first_with_stock), variant=first_with_stock)
    city = live.CityName(**page.meta["city"]) if page.meta["city"] else None
    stock = live.render_stock(slug, city, holdings)
    return CachedPage(page.body.replace(live.STOCK_LIST, stock), {**page.meta, "stock": stock})


def _render_detail(slug: str, city_slug: str) -> CachedPage:
    # The model with the kind of deposit it is reserved with (订金 or 定金, None: not online), in one statement.
    found = db.session.execute(
        select(CarModel, DepositPolicy.kind)
        .outerjoin(DepositPolicy, (DepositPolicy.car_model_id == CarModel.id) & DepositPolicy.is_active.is_(True))
        .where(CarModel.slug == slug, CarModel.is_active.is_(True))
        .options(joinedload(CarModel.brand), selectinload(CarModel.trims))
    ).first() or abort(404)
    car_model, deposit_kind = found
    cities = _cities()
    city = next((c for c in cities if c.slug == city_slug), None)
    colours = car_model.trims[0].colours if car_model.trims else []
    colour = next((c for c in colours if c.get("code") == request.args.get("colour")), colours[0] if colours else None)
    body = render_template("catalog/detail.html", car_model=car_model, cities=cities, city=city, colours=colours,
                           colour=colour, deposit_kind=deposit_kind, stock_list=live.STOCK_LIST,
                           json_ld=seo.car_json_ld(car_model))
    city_meta = {"id": city.id, "slug": city.slug, "name_zh": city.name_zh, "name_en": city.name_en} if city else None
    return CachedPage(body, {"model_id": car_model.id, "city": city_meta})


@bp.app_template_filter("kw")
def kilowatts(power_kw: int) -> str:
    return _("%(kw)d kW", kw=power_kw)


@bp.app_template_filter("fuel_or_range")
def fuel_or_range(trim: Trim) -> str:
    """"430 km range" for an EV, "7.6 L/100 km" otherwise, "—" when unknown."""
    if trim.range_km:
        return _("%(km)d km range", km=trim.range_km)
    if trim.fuel_l_per_100km:
        return _("%(l)s L/100 km", l=trim.fuel_l_per_100km)
    return "—"


@bp.app_template_global("car_drawing")
def car_drawing(car_model: CarModel, *, view: illustrations.View = "side", paint: str | None = None,
                label: str = "") -> Markup:
    """The model's drawing (storefront/catalog/illustrations.py) for any area's template."""
    return illustrations.draw(slug=car_model.slug, brand=car_model.brand.slug, body_type=car_model.body_type.value,
                              view=view, paint=paint, label=label)


@bp.get("/compare")
def compare() -> str:
    raw_ids = request.args.getlist("trim")
    ids = parse_ids(raw_ids)[:MAX_COMPARE]
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
                           differences_only=request.args.get("diff") == "1",
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


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    def render() -> CachedPage:
        brands = db.session.scalars(select(Brand.slug).order_by(Brand.sort_order)).all()
        car_models = db.session.scalars(
            select(CarModel.slug).where(CarModel.is_active.is_(True)).order_by(CarModel.sort_order)
        ).all()
        return CachedPage(render_template("catalog/sitemap.xml", entries=seo.sitemap_entries(brands, car_models)))

    response = caching.page_response(cached_page(render).body, last_modified=caching.catalog_changed_at())
    response.mimetype = "application/xml"
    return response


@bp.get("/robots.txt")
def robots() -> Response:
    response = make_response(seo.robots_txt())
    response.mimetype = "text/plain"
    return response


@bp.cli.command("seed")
@click.option("--scale", type=int, default=0, help="Also add this many extra vehicles (benchmarks).")
def seed_command(scale: int) -> None:
    """Load the demo catalog (idempotent); --scale N adds N generated vehicles."""
    report = seed.seed_catalog(db.session)
    added = seed.seed_scale(db.session, count=scale) if scale else 0
    db.session.commit()
    seed.analyze(db.session)
    click.echo(f"catalog: {report}; extra vehicles added: {added}")
