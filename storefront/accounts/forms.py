"""Shape of the account forms; password strength, phone format and duplicate emails are checked by the services."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, Optional

REQUIRED = _l("This field is required.")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def printable(value: object) -> object:
    """Drop control characters from one-line text: never meant, and PostgreSQL refuses NUL in a string."""
    return _CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


TEXT = [printable]


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), filters=TEXT, validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField(filters=TEXT)


class RegisterForm(FlaskForm):
    name = StringField(_l("Name"), filters=TEXT, validators=[Optional(), Length(max=80)])
    email = EmailField(_l("Email"), filters=TEXT, validators=[
        DataRequired(REQUIRED), Email(_l("Enter a valid email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[InputRequired(REQUIRED), EqualTo("password", _l("The two passwords are not the same."))],
    )
    next = HiddenField(filters=TEXT)


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), filters=TEXT, validators=[Optional(), Length(max=80)])
    phone = StringField(_l("Mobile number"), filters=TEXT, validators=[Optional(), Length(max=20)])
    preferred_city = SelectField(_l("Preferred city"), choices=[], validate_choice=True)


class PhoneCodeForm(FlaskForm):
    """Send a code to the profile's mobile, or enter the code that came back."""

    code = StringField(_l("Code from the text message"), filters=TEXT, validators=[Optional(), Length(max=12)])
    next = HiddenField()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    new_password = PasswordField(_l("New password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[InputRequired(REQUIRED), EqualTo("new_password", _l("The two passwords are not the same."))],
    )


class ChangeEmailForm(FlaskForm):
    new_email = EmailField(_l("New email address"), filters=TEXT, validators=[
        DataRequired(REQUIRED), Email(_l("Enter a valid email address.")), Length(max=254)])
    password = PasswordField(_l("Current password"), validators=[InputRequired(REQUIRED), Length(max=1000)])


class ConfirmEmailForm(FlaskForm):
    """Only the CSRF token: opening the link shows what will change, the button makes the change."""


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email"), filters=TEXT, validators=[
        DataRequired(REQUIRED), Email(_l("Enter a valid email address.")), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[InputRequired(REQUIRED), EqualTo("password", _l("The two passwords are not the same."))],
    )


class ReauthForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    next = HiddenField(filters=TEXT)
