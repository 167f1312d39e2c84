"""Shape of the catalog's query-string filters (GET forms, so no CSRF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional

from storefront.catalog.queries import SORTS


class ListingFilterForm(FlaskForm):
    class Meta:
        csrf = False

    brand = SelectField(_l("Brand"), choices=[], validate_choice=False)
    body_type = SelectField(
        _l("Body type"),
        choices=[("", _l("Any")), ("suv", _l("SUV")), ("sedan", _l("Sedan")), ("hatchback", _l("Hatchback")),
                 ("coupe", _l("Coupé")), ("mpv", _l("MPV"))],
        validators=[Optional()],
    )
    powertrain = SelectField(
        _l("Powertrain"),
        choices=[("", _l("Any")), ("nev", _l("New energy (EV + PHEV)")), ("bev", _l("Electric (EV)")),
                 ("phev", _l("Plug-in hybrid")), ("hev", _l("Hybrid")), ("ice", _l("Petrol"))],
        validators=[Optional()],
    )
    min_price = DecimalField(_l("Min price (¥)"), places=0, validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    max_price = DecimalField(_l("Max price (¥)"), places=0, validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    seats = IntegerField(_l("Seats (at least)"), validators=[Optional(), NumberRange(min=2, max=9)])
    city = SelectField(_l("In stock in"), choices=[], validate_choice=False)
    q = StringField(_l("Search"), validators=[Optional()])
    sort = SelectField(
        _l("Sort by"),
        choices=[("popular", _l("Most popular")), ("price_asc", _l("Price: low to high")),
                 ("price_desc", _l("Price: high to low")), ("newest", _l("Newest"))],
        default="popular",
        validators=[Optional()],
    )

    def sort_value(self) -> str:
        return self.sort.data if self.sort.data in SORTS else "popular"
