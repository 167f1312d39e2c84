"""HTTP routes of the payments area: the Stripe webhook and the demo provider's pay page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template
from flask import request as flask_request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from models import PaymentStatus
from storefront.clock import now
from storefront.errors import json_error
from storefront.extensions import csrf, db
from storefront.payments import services, stripe_gateway
from storefront.payments.services import PaymentOutcome

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__, url_prefix="/payments", cli_group="payments")


@bp.post("/webhook")
@csrf.exempt  # Stripe cannot send a CSRF token; the signature on the raw body is checked instead
def webhook() -> Any:
    """Stripe events: verify the signature on the raw bytes, apply each event id once, answer 2xx fast."""
    try:
        event = stripe_gateway.verify_webhook(flask_request.get_data(), flask_request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as error:
        log.warning("rejected stripe webhook: %s", error)
        return json_error(400, "invalid_signature", "The webhook signature could not be verified.")
    result = services.handle_stripe_event(db.session, event=event)
    db.session.commit()
    return jsonify({"received": True, "result": result})


@bp.get("/demo/<token>")
def demo_page(token: str) -> str:
    payment = services.demo_payment(db.session, token=token)
    return render_template("payments/demo.html", payment=payment, token=token, now=now(),
                           heading=services.heading_for(db.session, payment),
                           pending=payment.status is PaymentStatus.PENDING)


@bp.post("/demo/<token>")
def demo_settle(token: str) -> Response:
    """Pay or Decline on the demo page; goes through the same fulfilment as a Stripe webhook."""
    payment = services.demo_payment(db.session, token=token)
    pay = flask_request.form.get("action") == "pay"
    outcome = services.settle_demo_payment(db.session, payment=payment, pay=pay)
    db.session.commit()
    if outcome is PaymentOutcome.PAID:
        flash(_("Demo payment received. No money moved."), "success")
        return redirect(payment.success_url)
    if outcome is PaymentOutcome.EXPIRED:
        flash(_("The time to pay has run out, so nothing was charged."), "error")
    elif outcome is PaymentOutcome.FAILED:
        flash(_("Payment declined. Nothing was charged."), "info")
    else:
        flash(_("This payment was already settled."), "info")
        if payment.money_received:
            return redirect(payment.success_url)
    return redirect(payment.cancel_url)
