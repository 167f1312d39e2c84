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

from models import City, Dealer
from storefront.catalog import queries
from storefront.extensions import db

_UNITS = re.compile(r"<!--live:units:(\d+)-->")
STOCK_LIST = Markup("<!--live:stock-list-->")


def units_marker(car_model_id: int) -> Markup:
    return Markup("<!--live:units:{}-->").format(int(car_model_id))


def fill_unit_counts(body: str) -> str:
    """Every card's "N units in stock", from one grouped query over the models on the page."""
    ids = [int(found) for found in _UNITS.findall(body)]
    if not ids:
        return body
    units = queries.units_in_stock(db.session, ids)
    return _UNITS.sub(lambda match: units_line(units.get(int(match.group(1)), 0)), body)


def units_line(units: int) -> str:
    if units:
        text = ngettext("%(num)d unit in stock", "%(num)d units in stock", units)
    else:
        text = gettext("Currently no stock")
    return Markup('<p class="stock">{}</p>').format(text)


@dataclass(frozen=True)
class CityName:
    """The city a model page shows stock for, as kept with the cached page (no row to load)."""

    id: int
    slug: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class ModelRef:
    slug: str


def render_stock(model_slug: str, city: CityName | None, holdings: list[tuple[Dealer, City, int]]) -> str:
    """The "where to see it" list: showrooms in `city` with their units, and the other cities that have some."""
    showrooms = [(dealer, units) for dealer, place, units in holdings if city is None or place.id == city.id]
    per_city: dict[int, tuple[City, int]] = {}
    for _dealer, place, _units in holdings:
        per_city[place.id] = (place, per_city.get(place.id, (place, 0))[1] + 1)
    return render_template("catalog/_stock.html", car_model=ModelRef(model_slug), city=city, showrooms=showrooms,
                           stock_cities=list(per_city.values()))
