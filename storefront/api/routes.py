"""The partner API's own endpoints: the OpenAPI document and its viewer, and the inventory API for showroom
systems (Bearer API keys); plus the admin pages that issue and revoke those keys.

Each area serves its own part of /api/v1 from its `api.py` (wired by the app factory); the conventions all of
them share (ETag/304, Cache-Control, CORS, one error shape) are installed here, app-wide.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Blueprint, Response, abort, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from models import ApiKey, Dealer, Vehicle, VehicleStatus
from storefront import clock
from storefront.api import http, queries, services
from storefront.api.forms import ApiKeyForm, RevokeKeyForm
from storefront.api.params import QueryArgs
from storefront.auth import admin_required, require_staff
from storefront.errors import DomainError, json_error
from storefront.extensions import csrf, db
from storefront.i18n import localised

bp = Blueprint("api", __name__, url_prefix="/api", cli_group="api")
bp.after_app_request(http.finish_api_response)

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)  # how long a retry with the same Idempotency-Key gets the first answer
MAX_BODY_BYTES = 4096


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The one OpenAPI 3.1 document of /api/v1, kept by hand next to the code (storefront/api/openapi.yaml)."""
    import yaml

    document: dict[str, Any] = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    return document


@bp.get("/v1/openapi.json")
@http.cache_for(300)
def openapi_json() -> Response:
    return jsonify(openapi_document())


@bp.get("/docs")
def docs() -> str:
    """A human-readable reference: Swagger UI, vendored under static/vendor/swagger-ui (no CDN)."""
    return render_template("api/docs.html")


# ---------------------------------------------------------------------------------------------------------------
# Inventory: a showroom's dealer-management system reads and pushes its stock


def vehicle_json(vehicle: Vehicle) -> dict[str, Any]:
    return {
        "vin": vehicle.vin,
        "trim_id": vehicle.trim_id,
        "model_id": vehicle.trim.car_model_id,
        "colour": vehicle.colour_code,
        "status": vehicle.status.value,
        "dealer": vehicle.dealer.code,
        "dealer_id": vehicle.dealer_id,
        "version": vehicle.version,
        "etag": etag_of(vehicle),
        "updated_at": vehicle.updated_at.isoformat(),
    }


def etag_of(vehicle: Vehicle) -> str:
    return f'"{vehicle.version}"'


def _vehicle_response(vehicle: Vehicle, status: int = 200) -> tuple[Response, int]:
    response = jsonify(vehicle_json(vehicle))
    response.headers["ETag"] = etag_of(vehicle)
    if status == 201:
        response.headers["Location"] = url_for("api.inventory_vehicle", vin=vehicle.vin)
    return response, status


def _if_match() -> set[str] | None:
    """The versions named in If-Match ("*" for any), or None when the header is absent."""
    if "If-Match" not in request.headers:
        return None
    header = request.if_match
    return {"*"} if header.star_tag else set(header.as_set(include_weak=False))


@bp.get("/v1/inventory/vehicles")
@http.api_key_required
@http.cache_for(0, private=True)
def inventory_vehicles() -> Any:
    key = http.current_key()
    args = QueryArgs()
    dealer_code = args.text("dealer", max_length=20)
    status = args.choice("status", [s.value for s in VehicleStatus])
    updated_since = args.timestamp("updated_since")
    page_number, per_page = args.page()
    if (problem := args.error()) is not None:
        return problem
    dealer_ids = [d.id for d in key.dealers]
    if dealer_code:
        dealer = db.session.scalar(select(Dealer).where(Dealer.code == dealer_code.upper()))
        if dealer is None or not key.covers(dealer.id):
            return json_error(404, "not_found", "No showroom with this code in this key's scope.",
                              {"dealer": "Unknown or not covered by this key."})
        dealer_ids = [dealer.id]
    page = queries.list_vehicles(db.session, dealer_ids=dealer_ids, status=VehicleStatus(status) if status else None,
                                 updated_since=updated_since, page=page_number, per_page=per_page)
    db.session.commit()  # the key's last_used_at
    return jsonify({"vehicles": [vehicle_json(v) for v in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page})


@bp.get("/v1/inventory/vehicles/<vin>")
@http.api_key_required
@http.cache_for(0, private=True)
def inventory_vehicle(vin: str) -> Any:
    vehicle = services.find_vehicle(db.session, key=http.current_key(), vin=vin)
    db.session.commit()
    if vehicle is None:
        return json_error(404, "not_found", "No vehicle with this VIN in this key's showrooms.")
    return _vehicle_response(vehicle)


@bp.put("/v1/inventory/vehicles/<vin>")
@http.api_key_required
def put_inventory_vehicle(vin: str) -> Any:
    def operation() -> tuple[Response, int]:
        body, problem = _json_object()
        if problem is not None:
            raise problem
        values = _vehicle_values(body)
        vehicle, created = services.put_vehicle(db.session, key=http.current_key(), vin=vin, if_match=_if_match(),
                                                values=values)
        return _vehicle_response(vehicle, 201 if created else 200)

    return _write(operation)


@bp.post("/v1/inventory/vehicles/<vin>/retire")
@http.api_key_required
def retire_inventory_vehicle(vin: str) -> Any:
    def operation() -> tuple[Response, int]:
        vehicle = services.retire_vehicle(db.session, key=http.current_key(), vin=vin, if_match=_if_match())
        return _vehicle_response(vehicle)

    return _write(operation)


# Bearer-key endpoints: no cookie identity is used, so a cross-site form gains nothing; no CSRF token applies.
csrf.exempt(put_inventory_vehicle)
csrf.exempt(retire_inventory_vehicle)


class _BadRequest(DomainError):
    status_code = 400
    code = "bad_request"


def _write(operation: Callable[[], tuple[Response, int]]) -> Any:
    """Run one inventory write: replay a retried Idempotency-Key, else do it, keep the answer, commit once."""
    key = http.current_key()
    idem_key, problem = http.idempotency_key()
    if problem is not None:
        return problem
    if idem_key is not None and (replayed := http.replay(key, idem_key)) is not None:
        db.session.commit()
        return replayed
    with force_locale("en"):
        try:
            response, status = operation()
        except DomainError as error:
            db.session.rollback()
            response, status = json_error(error.status_code, error.code, error.user_message, error.fields or None)
    if idem_key is not None:
        http.remember(key, idem_key, response, status)
    replayed = http.commit_or_replay(key, idem_key)
    return replayed if replayed is not None else (response, status)


def _json_object() -> tuple[dict[str, Any], DomainError | None]:
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        return {}, _BadRequest("The request body is too large.")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        return {}, _BadRequest("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return {}, _BadRequest("Send a JSON object.")
    return body, None


def _vehicle_values(body: dict[str, Any]) -> services.VehicleValues:
    problems: dict[str, str] = {}
    trim_id = body.get("trim_id")
    if isinstance(trim_id, bool) or not isinstance(trim_id, int) or not 1 <= trim_id <= 2_147_483_647:
        problems["trim_id"] = "Required: the id of a trim (a whole number)."
    for name in ("colour", "dealer"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 40:
            problems[name] = "Required: a code of at most 40 characters."
    status = body.get("status", VehicleStatus.IN_STOCK.value)
    allowed = [s.value for s in services.PUT_STATUSES]
    if status not in allowed:
        problems["status"] = "One of: " + ", ".join(allowed) + "."
    if problems:
        raise DomainError("Some fields are not valid.", fields=problems)
    return services.VehicleValues(trim_id=trim_id, colour=body["colour"].strip(), status=VehicleStatus(status),
                                  dealer_code=body["dealer"])


# ---------------------------------------------------------------------------------------------------------------
# Back office (admins): issue and revoke keys


staff_bp = Blueprint("api_staff", __name__, url_prefix="/staff/api-keys")
staff_bp.before_request(require_staff)


def _keys_page(form: ApiKeyForm, *, secret: str | None = None, status: int = 200) -> tuple[str, int]:
    form.showrooms.choices = [(d.id, f"{d.code} · {localised(d, 'name')}")
                              for d in db.session.scalars(select(Dealer).order_by(Dealer.code))]
    keys = db.session.scalars(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc())).all()
    return render_template("api/keys.html", form=form, keys=keys, revoke_form=RevokeKeyForm(), secret=secret), status


@staff_bp.get("/")
@admin_required
def api_keys() -> Any:
    return _keys_page(ApiKeyForm(formdata=None))


@staff_bp.post("/")
@admin_required
def create_api_key() -> Any:
    form = ApiKeyForm()
    _keys_page(form)  # fills the showroom choices the form validates against
    if not form.validate():
        return _keys_page(form, status=422)
    dealers = db.session.scalars(select(Dealer).where(Dealer.id.in_(form.showrooms.data or []))).all()
    try:
        key, secret = services.issue_key(db.session, actor=current_user, name=form.name.data or "", dealers=dealers,
                                         rate_limit_per_minute=form.rate_limit.data or 0, at=clock.now())
    except DomainError as error:
        form.form_errors.append(error.user_message)
        return _keys_page(form, status=error.status_code)
    db.session.commit()
    page, _status = _keys_page(ApiKeyForm(formdata=None), secret=secret, status=201)
    response = make_response(page, 201)
    response.headers["Cache-Control"] = "no-store"  # the secret is on this page, once
    return response


@staff_bp.post("/<int(max=2147483647):key_id>/revoke")
@admin_required
def revoke_api_key(key_id: int) -> Any:
    key = db.session.get(ApiKey, key_id) or abort(404)
    if not RevokeKeyForm().validate():
        abort(400)
    services.revoke_key(db.session, actor=current_user, key=key, at=clock.now())
    db.session.commit()
    flash(_("The key “%(name)s” is revoked; requests with it are refused from now on.", name=key.name), "success")
    return redirect(url_for(".api_keys"))


@bp.cli.command("forget-idempotent-responses")
def forget_idempotent_responses_command() -> None:
    """Drop kept Idempotency-Key answers older than 24 hours (run daily from cron)."""
    dropped = services.forget_idempotent_responses(db.session, before=clock.now() - IDEMPOTENCY_WINDOW)
    db.session.commit()
    click.echo(f"idempotent responses dropped: {dropped}")
