"""Shape of the back-office forms (Flask-WTF); the rules live in services."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from models import Role, VehicleStatus
from storefront.staff.services import ARRIVAL_STATUSES, MANUAL_STATUSES, WEEKDAYS

STATUS_LABELS = {
    VehicleStatus.IN_STOCK: _l("In stock"),
    VehicleStatus.ON_HOLD: _l("On hold"),
    VehicleStatus.RESERVED: lazy_pgettext("vehicle status", "Reserved"),
    VehicleStatus.SOLD: _l("Sold"),
    VehicleStatus.DEMO_FLEET: _l("Demo fleet"),
    VehicleStatus.RETIRED: _l("Retired"),
}
ROLE_LABELS = {Role.CUSTOMER: _l("Customer"), Role.STAFF: _l("Staff"), Role.ADMIN: _l("Admin")}
WEEKDAY_LABELS = {
    "mon": _l("Monday"), "tue": _l("Tuesday"), "wed": _l("Wednesday"), "thu": _l("Thursday"),
    "fri": _l("Friday"), "sat": _l("Saturday"), "sun": _l("Sunday"),
}


AUTOSUBMIT = {"data-autosubmit": True}  # static/js/app.js submits the filter form when the select changes


def _status_choices(statuses: tuple[VehicleStatus, ...]) -> list[tuple[str, Any]]:
    return [(status.value, STATUS_LABELS[status]) for status in statuses]


MAX_ID = 2**31 - 1  # ids beyond this fit no integer column: treat them as unknown, never send them to the database


def _optional_int(value: Any) -> int | None:
    """Coerce for filter selects: '' or junk means 'any'."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and 0 < number <= MAX_ID else None


class VehicleFilterForm(FlaskForm):
    """Query-string filters of the vehicle list (GET, so no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(_l("VIN"), validators=[Optional(), Length(max=17)])
    showroom = SelectField(_l("Showroom"), coerce=_optional_int, validate_choice=False, render_kw=AUTOSUBMIT)
    brand = SelectField(_l("Brand"), coerce=_optional_int, validate_choice=False, render_kw=AUTOSUBMIT)
    model = SelectField(_l("Model"), coerce=_optional_int, validate_choice=False, render_kw=AUTOSUBMIT)
    trim = SelectField(_l("Trim"), coerce=_optional_int, validate_choice=False, render_kw=AUTOSUBMIT)
    status = SelectField(_l("Status"), choices=[("", _l("Any status")), *_status_choices(tuple(VehicleStatus))],
                         validate_choice=False, render_kw=AUTOSUBMIT)
    colour = SelectField(_l("Colour"), validate_choice=False, render_kw=AUTOSUBMIT)


class VehicleForm(FlaskForm):
    """Add or edit one car. `version` is the row version the form was opened with (lost-update check)."""

    vin = StringField(_l("VIN"), validators=[DataRequired(), Length(min=17, max=17)],
                      render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"})
    trim = SelectField(_l("Trim"), coerce=int, validators=[InputRequired()])
    showroom = SelectField(_l("Showroom"), coerce=int, validators=[InputRequired()])
    colour = SelectField(_l("Colour"), validators=[DataRequired()])
    status = SelectField(_l("Arrives as"), choices=_status_choices(ARRIVAL_STATUSES),
                         default=VehicleStatus.IN_STOCK.value)
    version = HiddenField()


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=_status_choices(MANUAL_STATUSES))
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])
    version = HiddenField(validators=[InputRequired()])


class RetireForm(FlaskForm):
    note = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])
    version = HiddenField(validators=[InputRequired()])


class PriceForm(FlaskForm):
    price = DecimalField(_l("New guide price (¥)"), places=2,
                         validators=[InputRequired(), NumberRange(min=1, max=99_999_999)])
    effective_from = DateField(_l("Effective from (Beijing time)"), validators=[InputRequired()])


class DayHoursForm(Form):
    closed = BooleanField(_l("Closed"))
    opens = TimeField(_l("Opens"), validators=[Optional()])
    closes = TimeField(_l("Closes"), validators=[Optional()])


class ShowroomForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20),
                                              Regexp(r"^[A-Za-z0-9-]+$", message=_l("Letters, digits and dashes."))])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=120)])
    city = SelectField(_l("City"), coerce=int, validators=[InputRequired()])
    address_en = StringField(_l("Address (English)"), validators=[Optional(), Length(max=200)])
    address_zh = StringField(_l("Address (Chinese)"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30),
                                                Regexp(r"^[0-9 +()-]*$", message=_l("Digits, spaces and dashes."))])
    mon = FormField(DayHoursForm, label=WEEKDAY_LABELS["mon"])
    tue = FormField(DayHoursForm, label=WEEKDAY_LABELS["tue"])
    wed = FormField(DayHoursForm, label=WEEKDAY_LABELS["wed"])
    thu = FormField(DayHoursForm, label=WEEKDAY_LABELS["thu"])
    fri = FormField(DayHoursForm, label=WEEKDAY_LABELS["fri"])
    sat = FormField(DayHoursForm, label=WEEKDAY_LABELS["sat"])
    sun = FormField(DayHoursForm, label=WEEKDAY_LABELS["sun"])
    offers_test_drive = BooleanField(_l("Test drives"))
    offers_pickup = BooleanField(_l("Pick-up of reserved cars"))
    has_self_service_kiosk = BooleanField(_l("Self-service kiosk (自助提车)"))
    is_active = BooleanField(_l("Open (shown to shoppers)"), default=True)

    def day_fields(self) -> list[FormField[DayHoursForm]]:
        return [getattr(self, day) for day in WEEKDAYS]

    def opening_hours(self) -> dict[str, list[str] | None]:
        hours: dict[str, list[str] | None] = {}
        for day in WEEKDAYS:
            sub = getattr(self, day).form
            if sub.closed.data:
                hours[day] = None
            else:
                hours[day] = [sub.opens.data.strftime("%H:%M") if sub.opens.data else "",
                              sub.closes.data.strftime("%H:%M") if sub.closes.data else ""]
        return hours


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserAccessForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[(role.value, ROLE_LABELS[role]) for role in Role])
    showrooms = MultiCheckboxField(_l("Works at"), coerce=int, validate_choice=True)
    is_active = BooleanField(_l("Active (may sign in)"))


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Name or email"), validators=[Optional(), Length(max=80)])
    role = SelectField(_l("Role"), choices=[("", _l("Any role"))] + [(r.value, ROLE_LABELS[r]) for r in Role],
                       validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file.")),
                                                 FileAllowed(["csv", "txt"], _l("Upload a .csv file."))])


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    actor = SelectField(_l("Who"), coerce=_optional_int, validate_choice=False)
    action = SelectField(_l("Action"), validate_choice=False)
    entity = SelectField(_l("Record type"), validate_choice=False)
    date_from = DateField(_l("Since (date)"), validators=[Optional()])
    date_to = DateField(_l("Until (date)"), validators=[Optional()])

