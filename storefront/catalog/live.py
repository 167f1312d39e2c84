"""The live parts of cached catalog pages: unit counts on listing cards and where a model is in stock.

A cached page body holds markers where these go; each request fills them from one small query, so a reservation
shows on the next page view and never empties the page cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import render_template
from flask_babel import gettext, ngettext
from markupsafe import Markup

from storefront import caching
from storefront.catalog import queries, services
from storefront.extensions import db

_UNITS = re.compile(r"<!--live:units:(\d+)-->")
STOCK_LIST = Markup("<!--live:stock-list-->")


def units_marker(car_model_id: int) -> Markup:
    return Markup("<!--live:units:{}-->").format(int(car_model_id))


def fill_unit_counts(body: str) -> str:
    """Every card's "N units in stock", from one grouped query over the models on the page (kept for at most
    STOCK_STALENESS_SECONDS, so a reservation shows within that bound)."""
    ids = [int(found) for found in _UNITS.findall(body)]
    if not ids:
        return body
    key = "units:" + ",".join(map(str, sorted(set(ids))))
    units: dict[int, int] | None = caching.cache.get(key)
    if units is None:
        units = queries.units_in_stock(db.session, ids)
        caching.remember_stock(key, units)
    return _UNITS.sub(lambda match: units_line(units.get(int(match.group(1)), 0)), body)


def units_line(units: int) -> str:
    if units:
        text = ngettext("%(num)d unit in stock", "%(num)d units in stock", units)
    else:
        text = gettext("Currently no stock")
    return Markup('<p class="stock">{}</p>').format(text)


@dataclass(frozen=True)
class CityName:
    """A city as the stock list shows it (kept with cached pages and stock: no row to load)."""

    id: int
    slug: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class ShowroomStock:
    """A showroom holding in-stock units of one model, and how many."""

    id: int
    name_zh: str
    name_en: str
    address_zh: str
    address_en: str
    has_self_service_kiosk: bool
    city: CityName
    units: int


@dataclass(frozen=True)
class ModelRef:
    slug: str


def stock_of_model(model_slug: str) -> list[ShowroomStock]:
    """Where a model is in stock, by showroom: one grouped query, kept for at most STOCK_STALENESS_SECONDS."""
    key = f"stock:{model_slug}"
    found: list[ShowroomStock] | None = caching.cache.get(key)
    if found is None:
        found = [
            ShowroomStock(dealer.id, dealer.name_zh, dealer.name_en, dealer.address_zh, dealer.address_en,
                          dealer.has_self_service_kiosk, CityName(city.id, city.slug, city.name_zh, city.name_en),
                          units)
            for dealer, city, units in services.stock_holdings(db.session, car_model_slug=model_slug)
        ]
        caching.remember_stock(key, found)
    return found


def render_stock(model_slug: str, city: CityName | None, holdings: list[ShowroomStock]) -> str:
    """The "where to see it" list: showrooms in `city` with their units, and the other cities that have some."""
    showrooms = [(showroom, showroom.units) for showroom in holdings if city is None or showroom.city.id == city.id]
    per_city: dict[int, tuple[CityName, int]] = {}
    for showroom in holdings:
        per_city[showroom.city.id] = (showroom.city, per_city.get(showroom.city.id, (showroom.city, 0))[1] + 1)
    return render_template("catalog/_stock.html", car_model=ModelRef(model_slug), city=city, showrooms=showrooms,
                           stock_cities=list(per_city.values()))
