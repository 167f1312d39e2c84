"""Shape of the admin forms that issue and revoke API keys."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from storefront.api.services import MAX_RATE_LIMIT
from storefront.staff.forms import MultiCheckboxField


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name (who uses the key)"), validators=[DataRequired(), Length(max=80)])
    showrooms = MultiCheckboxField(_l("Showrooms it may change"), coerce=int, validate_choice=True,
                                   validators=[DataRequired()])
    rate_limit = IntegerField(_l("Requests a minute"), default=120,
                              validators=[DataRequired(), NumberRange(min=1, max=MAX_RATE_LIMIT)])


class RevokeKeyForm(FlaskForm):
    """Only the CSRF token: revoking takes no input."""
