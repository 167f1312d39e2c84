"""Shape of the test-drive forms; opening hours, free places and the phone rule are checked by the services."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

REQUIRED = _l("This field is required.")
MOBILE_MESSAGE = _l("Enter an 11-digit mainland China mobile number, e.g. 13800138000.")


def parse_instant(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time with its offset ('2026-12-01T10:00:00+08:00'); None when missing, naive or malformed."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class ContactFields(FlaskForm):
    contact_name = StringField(_l("Driver's name"), validators=[DataRequired(REQUIRED), Length(max=80)])
    mobile = StringField(
        _l("Mobile number"),
        validators=[DataRequired(REQUIRED), Length(max=20), Regexp(r"^\s*(\+86)?[\s\-]*1[3-9][\d\s\-]{9,13}$",
                                                                   message=MOBILE_MESSAGE)],
    )
    licence_confirmed = BooleanField(
        _l("The driver holds a valid driving licence and will bring it"),
        validators=[DataRequired(_l("Please confirm that the driver holds a valid driving licence."))],
    )


class BookingForm(ContactFields):
    dealer_id = HiddenField(validators=[DataRequired(REQUIRED)])
    starts_at = StringField(_l("Time"), validators=[DataRequired(_l("Choose a time from the list."))])

    def validate_starts_at(self, field: StringField) -> None:
        if parse_instant(field.data) is None:
            raise ValidationError(_l("Choose a time from the list."))


class RescheduleForm(FlaskForm):
    starts_at = StringField(_l("New time"), validators=[DataRequired(_l("Choose a time from the list."))])

    def validate_starts_at(self, field: StringField) -> None:
        if parse_instant(field.data) is None:
            raise ValidationError(_l("Choose a time from the list."))


class SelfServiceForm(ContactFields):
    dealer_id = HiddenField(validators=[DataRequired(REQUIRED)])
    days = RadioField(_l("How long"), choices=[("1", _l("1 day")), ("3", _l("3 days"))], default="1",
                      validators=[InputRequired(REQUIRED)])
    starts_at = StringField(_l("Pick-up time"), validators=[DataRequired(_l("Choose a pick-up time from the list."))])

    def validate_starts_at(self, field: StringField) -> None:
        if parse_instant(field.data) is None:
            raise ValidationError(_l("Choose a pick-up time from the list."))


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])


class MarkForm(FlaskForm):
    action = SelectField(choices=[("check_in", _l("Check in")), ("no_show", _l("No-show")),
                                  ("complete", _l("Completed"))], validators=[InputRequired(REQUIRED)])
    back = HiddenField()


class PickupForm(FlaskForm):
    pickup_code = StringField(_l("Pick-up code"), validators=[DataRequired(REQUIRED), Length(min=6, max=6)])
    back = HiddenField()


class ReturnForm(FlaskForm):
    note = StringField(_l("Condition notes (optional)"), validators=[Optional(), Length(max=200)])
    back = HiddenField()


class ScheduleForm(FlaskForm):
    """Weekly hours (a pair of times per weekday; both empty = closed) and the slot length."""

    slot_minutes = IntegerField(_l("Slot length (minutes)"), validators=[InputRequired(REQUIRED),
                                                                         NumberRange(15, 240)])
    mon_opens = TimeField(_l("Monday opens"), validators=[Optional()])
    mon_closes = TimeField(_l("Monday closes"), validators=[Optional()])
    tue_opens = TimeField(_l("Tuesday opens"), validators=[Optional()])
    tue_closes = TimeField(_l("Tuesday closes"), validators=[Optional()])
    wed_opens = TimeField(_l("Wednesday opens"), validators=[Optional()])
    wed_closes = TimeField(_l("Wednesday closes"), validators=[Optional()])
    thu_opens = TimeField(_l("Thursday opens"), validators=[Optional()])
    thu_closes = TimeField(_l("Thursday closes"), validators=[Optional()])
    fri_opens = TimeField(_l("Friday opens"), validators=[Optional()])
    fri_closes = TimeField(_l("Friday closes"), validators=[Optional()])
    sat_opens = TimeField(_l("Saturday opens"), validators=[Optional()])
    sat_closes = TimeField(_l("Saturday closes"), validators=[Optional()])
    sun_opens = TimeField(_l("Sunday opens"), validators=[Optional()])
    sun_closes = TimeField(_l("Sunday closes"), validators=[Optional()])

    WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    def weekly_hours(self) -> dict[str, object]:
        hours: dict[str, object] = {}
        for weekday in self.WEEKDAYS:
            opens, closes = getattr(self, f"{weekday}_opens").data, getattr(self, f"{weekday}_closes").data
            if opens is None and closes is None:
                hours[weekday] = None
            else:
                hours[weekday] = [opens.strftime("%H:%M") if opens else "", closes.strftime("%H:%M") if closes else ""]
        return hours


class ExceptionForm(FlaskForm):
    day = DateField(_l("Date"), validators=[InputRequired(_l("Enter a date."))])
    closed = BooleanField(_l("Closed all day"), default=True)
    opens = TimeField(lazy_pgettext("test-drive hours", "Opens"), validators=[Optional()])
    closes = TimeField(lazy_pgettext("test-drive hours", "Closes"), validators=[Optional()])
    note = StringField(_l("Note (e.g. public holiday)"), validators=[Optional(), Length(max=200)])
