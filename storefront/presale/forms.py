"""Shape of the presale forms. The rules (the 20% cap, what the deposit may count for) live in the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from storefront.clock import STORE_TZ
from storefront.presale.services import CampaignTerms

REQUIRED = _l("This field is required.")
MONEY = {"places": 2, "validators": [InputRequired(REQUIRED), NumberRange(min=Decimal("0.01"))]}


class ButtonForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class CampaignForm(FlaskForm):
    slug = StringField(
        _l("Web address"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=64),
            Regexp(r"^[a-z0-9-]+$", message=_l("Lower-case letters, digits and hyphens.")),
        ],
    )
    car_model_id = SelectField(_l("Model"), coerce=int, validators=[InputRequired(REQUIRED)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(REQUIRED), Length(max=120)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(REQUIRED), Length(max=120)])
    edition_size = IntegerField(
        _l("Launch edition size"), validators=[InputRequired(REQUIRED), NumberRange(min=1, max=100000)]
    )
    presale_price = DecimalField(_l("Presale price (CNY)"), **MONEY)  # type: ignore[arg-type]
    deposit_amount = DecimalField(_l("Deposit (CNY)"), **MONEY)  # type: ignore[arg-type]
    deposit_credit = DecimalField(_l("Deposit counts for (CNY)"), **MONEY)  # type: ignore[arg-type]
    opens_at = DateTimeLocalField(
        _l("Orders open (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(REQUIRED)]
    )
    closes_at = DateTimeLocalField(
        _l("Orders close (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired(REQUIRED)]
    )
    deposit_window_minutes = IntegerField(
        _l("Minutes to pay the deposit"), default=30, validators=[InputRequired(REQUIRED), NumberRange(min=1, max=1440)]
    )
    refundable_days = IntegerField(
        _l("Refundable days (0 = binding at once)"),
        default=7,
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=365)],
    )
    balance_window_days = IntegerField(
        _l("Days to pay the balance"), default=30, validators=[InputRequired(REQUIRED), NumberRange(min=1, max=365)]
    )
    benefits_zh = TextAreaField(_l("Launch benefits (Chinese)"), validators=[Length(max=2000)])
    benefits_en = TextAreaField(_l("Launch benefits (English)"), validators=[Length(max=2000)])

    def terms(self) -> CampaignTerms:
        def store_time(value: dt.datetime) -> dt.datetime:
            return value.replace(tzinfo=STORE_TZ).astimezone(dt.UTC)

        return CampaignTerms(
            slug=self.slug.data or "",
            car_model_id=int(self.car_model_id.data),
            name_en=self.name_en.data or "",
            name_zh=self.name_zh.data or "",
            edition_size=int(self.edition_size.data or 0),
            presale_price=self.presale_price.data or Decimal("0"),
            deposit_amount=self.deposit_amount.data or Decimal("0"),
            deposit_credit=self.deposit_credit.data or Decimal("0"),
            opens_at=store_time(self.opens_at.data),
            closes_at=store_time(self.closes_at.data),
            deposit_window_minutes=int(self.deposit_window_minutes.data or 30),
            refundable_days=int(self.refundable_days.data or 0),
            balance_window_days=int(self.balance_window_days.data or 30),
            benefits_zh=self.benefits_zh.data or "",
            benefits_en=self.benefits_en.data or "",
        )
