"""Shape of the demo area's input: time travel, the insights date range, handover look-up."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class TimeTravelForm(FlaskForm):
    amount = IntegerField(_l("Move forward by"), validators=[DataRequired(), NumberRange(min=1, max=527_040)])
    unit = SelectField(
        _l("Unit"), choices=[("m", _l("minutes")), ("h", _l("hours")), ("d", _l("days"))], default="h",
    )


class ConfirmForm(FlaskForm):
    """A bare POST form (CSRF token only) for buttons such as 'back to now'."""


class ResetForm(FlaskForm):
    confirm = HiddenField(validators=[DataRequired()])


class SignInForm(FlaskForm):
    account = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class TourForm(FlaskForm):
    step = HiddenField()


class DateRangeForm(FlaskForm):
    """GET filter of the insights dashboard; dates are Asia/Shanghai calendar days, both included."""

    class Meta:
        csrf = False

    start = DateField(lazy_pgettext("start of a period", "From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


class HandoverForm(FlaskForm):
    class Meta:
        csrf = False

    code = StringField(_l("Reference code"), validators=[DataRequired(), Length(max=40)])
