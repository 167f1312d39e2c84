"""JSON API of test drives: the slots of one showroom, model and day with their free places.

Contract (storefront/api/openapi.yaml, served at /api/v1/openapi.json):
GET /api/v1/dealers/<id>/test-drive-slots?model_id=&date=YYYY-MM-DD answers a
list of {"start", "end", "capacity", "remaining"}, times in ISO 8601 with the +08:00 offset (Beijing time).
Slots that start within the booking lead time are left out; full slots stay in with remaining 0.
Missing or malformed parameters: 400; an unknown showroom or model: 404; a day that cannot be booked
(past, more than 90 days ahead, closed) or a model the showroom does not demo: 422. Errors are
{"error", "message", "fields"} with English messages.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import force_locale

from models import CarModel, Dealer
from storefront.errors import DomainError, json_error
from storefront.extensions import db
from storefront.ids import parse_id
from storefront.test_drives import services

api_bp = Blueprint("test_drives_api", __name__, url_prefix="/api/v1")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_query() -> tuple[int | None, dt.date | None, dict[str, str]]:
    raw_model, raw_date = request.args.get("model_id", "").strip(), request.args.get("date", "").strip()
    problems: dict[str, str] = {}
    model_id = parse_id(raw_model)
    if not raw_model:
        problems["model_id"] = "Required: the id of a car model."
    elif model_id is None:
        problems["model_id"] = "Must be a positive whole number."
    day = None
    if not raw_date:
        problems["date"] = "Required: a date as YYYY-MM-DD."
    else:
        try:
            day = dt.date.fromisoformat(raw_date) if _DATE.match(raw_date) else None
        except ValueError:
            day = None
        if day is None:
            problems["date"] = "Must be a real date written YYYY-MM-DD."
    return model_id, day, problems


@api_bp.get("/dealers/<int(max=2147483647):dealer_id>/test-drive-slots")
def test_drive_slots(dealer_id: int) -> Any:
    model_id, day, problems = _parse_query()
    if problems:
        return json_error(400, "bad_request", "Missing or malformed query parameters.", problems)
    assert model_id is not None and day is not None
    dealer = db.session.get(Dealer, dealer_id)
    if dealer is None:
        return json_error(404, "not_found", f"No showroom with id {dealer_id}.")
    car_model = db.session.get(CarModel, model_id)
    if car_model is None:
        return json_error(404, "not_found", f"No car model with id {model_id}.", {"model_id": "Unknown model."})
    with force_locale("en"):
        try:
            services.check_bookable_day(db.session, dealer=dealer, day=day)
            services.check_offered(db.session, dealer=dealer, car_model=car_model)
        except DomainError as error:
            field = "date" if error.field == "date" else "model_id"
            return json_error(422, error.code, error.user_message, {field: error.user_message})
    slots = services.available_slots(db.session, dealer=dealer, car_model=car_model, day=day)
    return jsonify([
        {"start": slot.local_start.isoformat(), "end": slot.local_end.isoformat(), "capacity": slot.capacity,
         "remaining": slot.remaining}
        for slot in slots
    ])
