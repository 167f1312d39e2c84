"""Shape of the reservation forms. Rules (is the car free, what the deposit is) live in the services.

The reserve form carries no amount: the deposit always comes from the model's policy.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from models import DepositKind, PaymentStatus, ReservationStatus, VehicleStatus

REQUIRED = _l("This field is required.")


class ReserveForm(FlaskForm):
    vehicle_id = IntegerField(validators=[Optional()])
    trim_id = IntegerField(validators=[Optional()])
    colour = StringField(validators=[Optional(), Length(max=40)])
    dealer_id = IntegerField(validators=[Optional()])
    # One per rendered form: sending the same form twice (double click, retry) finds the first reservation.
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    accept_terms = BooleanField(
        _l("I have read the deposit terms above and agree to them."),
        validators=[DataRequired(_l("Please confirm that you agree to the deposit terms."))],
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])


class StaffCancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason for cancelling (the shopper sees it)"),
                           validators=[DataRequired(REQUIRED), Length(max=500)])


class StaffFilterForm(FlaskForm):
    """GET filters of the staff list; no CSRF token needed to read."""

    class Meta:
        csrf = False

    dealer = SelectField(_l("Showroom"), choices=[], validate_choice=False)
    status = SelectField(_l("Status"), choices=[], validate_choice=False)
    q = StringField(_l("Reference or email"), validators=[Optional(), Length(max=100)])


class PolicyForm(FlaskForm):
    amount = DecimalField(
        _l("Deposit (CNY)"), places=2,
        validators=[InputRequired(REQUIRED), NumberRange(min=Decimal("0.01"), max=Decimal("1000000"))],
    )
    kind = SelectField(
        _l("Kind"),
        choices=[(DepositKind.REFUNDABLE.value, _l("Refundable deposit (订金)")),
                 (DepositKind.BINDING.value, _l("Binding deposit (定金)"))],
    )
    refund_window_days = IntegerField(
        _l("Refund window (days)"), validators=[InputRequired(REQUIRED), NumberRange(min=0, max=365)],
        description=_l("Refundable: days after paying in which cancelling refunds it all (0 = until pick-up). "
                       "Binding: a cooling-off period (0 = none)."),
    )
    price_credit = DecimalField(_l("Counts towards the price as (CNY)"), places=2,
                                validators=[InputRequired(REQUIRED), NumberRange(min=Decimal("0.01"),
                                                                                  max=Decimal("2000000"))])
    is_active = BooleanField(_l("Shoppers can reserve this model online"))


STATUS_LABELS = {
    ReservationStatus.PENDING_PAYMENT: _l("Waiting for payment"),
    ReservationStatus.CONFIRMED: _l("Confirmed"),
    ReservationStatus.COMPLETED: _l("Picked up"),
    ReservationStatus.CANCELLED: _l("Cancelled"),
    ReservationStatus.EXPIRED: _l("Expired"),
    ReservationStatus.REFUNDED: _l("Refunded"),
}

VEHICLE_STATUS_LABELS = {
    VehicleStatus.IN_STOCK: _l("in stock"),
    VehicleStatus.ON_HOLD: _l("on hold"),
    VehicleStatus.RESERVED: _l("reserved"),
    VehicleStatus.SOLD: _l("sold"),
    VehicleStatus.DEMO_FLEET: _l("demo fleet"),
    VehicleStatus.RETIRED: _l("retired"),
}

PAYMENT_STATUS_LABELS = {
    PaymentStatus.PENDING: _l("waiting"),
    PaymentStatus.PAID: _l("paid"),
    PaymentStatus.FAILED: _l("declined"),
    PaymentStatus.EXPIRED: _l("not paid in time"),
    PaymentStatus.REFUNDED: _l("refunded"),
    PaymentStatus.PARTIALLY_REFUNDED: _l("partly refunded"),
}
