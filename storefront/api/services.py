"""Rules of the partner API: issuing and revoking API keys, and the inventory writes a showroom system makes.

A key acts only for its showrooms: a car elsewhere is answered as if it did not exist (404). Updates name the
version they were based on (If-Match); the vehicle row is locked first, so of two writes based on the same
version exactly one wins and the other is told it is stale (412). Cars held or reserved by a shopper belong to
the reservation flow and are not moved or retired here (409). Every write is audited with the key's name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import ApiIdempotentResponse, ApiKey, Dealer, Trim, User, Vehicle, VehicleStatus
from storefront.audit import record_audit
from storefront.catalog.vin import VIN_PATTERN, vin_problem
from storefront.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError

KEY_PREFIX = "fsk_"  # "flagship key": lets secret scanners and people recognise one
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # write last_used_at at most once a minute per key
MAX_RATE_LIMIT = 100_000
# Statuses a showroom system may set with PUT; on_hold/reserved belong to reservations, retired to /retire.
PUT_STATUSES = (VehicleStatus.IN_STOCK, VehicleStatus.DEMO_FLEET, VehicleStatus.SOLD)
HELD = (VehicleStatus.ON_HOLD, VehicleStatus.RESERVED)


def _(message: str, **values: object) -> str:
    """gettext on the admin pages; plain English elsewhere (the inventory API answers in English)."""
    if has_request_context():
        return str(gettext(message, **values))
    return message % values if values else message


class PreconditionFailedError(DomainError):
    """The client's If-Match names a version that is no longer current."""

    status_code = 412
    code = "precondition_failed"


class PreconditionRequiredError(DomainError):
    """An update without If-Match would overwrite blindly."""

    status_code = 428
    code = "precondition_required"


# ---------------------------------------------------------------------------------------------------------------
# Keys


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_key(
    session: Session,
    *,
    actor: User,
    name: str,
    dealers: Sequence[Dealer],
    rate_limit_per_minute: int = 120,
    at: dt.datetime,
) -> tuple[ApiKey, str]:
    """A new key for `dealers`; returns it with its secret, which is shown once and never stored."""
    if not actor.is_admin:
        raise PermissionDeniedError(_("Only admins manage API keys."))
    name = name.strip()
    if not name:
        raise DomainError(_("Give the key a name."), field="name")
    if not dealers:
        raise DomainError(_("Choose at least one showroom."), field="showrooms")
    if not 1 <= rate_limit_per_minute <= MAX_RATE_LIMIT:
        raise DomainError(_("Choose a limit from 1 to %(most)s requests a minute.", most=MAX_RATE_LIMIT),
                          field="rate_limit")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name[:80], prefix=secret[: len(KEY_PREFIX) + 8], key_hash=hash_secret(secret),
                 rate_limit_per_minute=rate_limit_per_minute, created_by=actor, created_at=at, dealers=list(dealers))
    session.add(key)
    session.flush()
    record_audit(session, actor=actor, action="api_key.create", entity_type="api_key", entity_id=key.id,
                 after={"name": key.name, "prefix": key.prefix, "showrooms": [d.code for d in key.dealers],
                        "rate_limit_per_minute": rate_limit_per_minute})
    return key, secret


def revoke_key(session: Session, *, actor: User, key: ApiKey, at: dt.datetime) -> ApiKey:
    if not actor.is_admin:
        raise PermissionDeniedError(_("Only admins manage API keys."))
    if key.revoked_at is not None:
        return key
    key.revoke(at=at)
    session.flush()
    record_audit(session, actor=actor, action="api_key.revoke", entity_type="api_key", entity_id=key.id,
                 before={"revoked_at": None}, after={"revoked_at": at.isoformat()})
    return key


def authenticate(session: Session, *, secret: str, at: dt.datetime) -> ApiKey | None:
    """The active key with this secret (noting when it was used), or None."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret)))
    if key is None or not key.is_active:
        return None
    if key.last_used_at is None or at - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = at
    return key


def forget_idempotent_responses(session: Session, *, before: dt.datetime) -> int:
    """Drop kept answers older than `before` (a retry after that is treated as a new request); returns how many."""
    result = session.execute(delete(ApiIdempotentResponse).where(ApiIdempotentResponse.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _audit_note(key: ApiKey) -> str:
    return f"API key “{key.name}” ({key.prefix}…)"


# ---------------------------------------------------------------------------------------------------------------
# Inventory


@dataclass(frozen=True)
class VehicleValues:
    """What a showroom system says about one car (already shape-checked by the route)."""

    trim_id: int
    colour: str
    status: VehicleStatus
    dealer_code: str


def normalise_vin(raw: str) -> str:
    return raw.strip().upper()


def find_vehicle(session: Session, *, key: ApiKey, vin: str, lock: bool = False) -> Vehicle | None:
    """The car with this VIN if the key may see it; a car of another showroom is not there for this key."""
    vin = normalise_vin(vin)
    if not VIN_PATTERN.match(vin):  # not a VIN at all (e.g. a NUL, which PostgreSQL refuses in text): not found
        return None
    query = select(Vehicle).where(Vehicle.vin == vin)
    if lock:  # FOR UPDATE on PostgreSQL; reread so the version compared is the committed one
        query = query.with_for_update().execution_options(populate_existing=True)
    vehicle = session.scalar(query)
    if vehicle is None or not key.covers(vehicle.dealer_id):
        return None
    return vehicle


def check_if_match(vehicle: Vehicle, if_match: set[str] | None) -> None:
    """`if_match` is the set of versions the client sent ("*" for any); None when it sent no If-Match."""
    if if_match is None:
        raise PreconditionRequiredError("Send If-Match with the vehicle's current ETag to change it.")
    if "*" not in if_match and str(vehicle.version) not in if_match:
        raise PreconditionFailedError(
            f"The vehicle has changed since you read it (it is now at version {vehicle.version}); "
            "fetch it again and retry with its new ETag."
        )


def _ensure_not_held(vehicle: Vehicle, doing: str) -> None:
    if vehicle.status in HELD:
        raise ConflictError(
            f"This car is {vehicle.status.value.replace('_', ' ')} by a shopper's reservation, so it cannot be "
            f"{doing} by the API until the reservation ends.",
            field="status",
        )
    if vehicle.status is VehicleStatus.RETIRED:
        raise ConflictError(f"This car is retired, so it cannot be {doing}.", field="status")


def _load_values(session: Session, *, key: ApiKey, values: VehicleValues) -> tuple[Trim, Dealer]:
    problems: dict[str, str] = {}
    trim = session.get(Trim, values.trim_id)
    if trim is None or not trim.is_active:
        problems["trim_id"] = "There is no such trim."
    elif trim.colours and trim.colour(values.colour) is None:
        problems["colour"] = "This trim does not come in that colour: " + ", ".join(c["code"] for c in trim.colours)
    if values.status not in PUT_STATUSES:
        problems["status"] = "Set in_stock, demo_fleet or sold (retire with POST …/retire)."
    dealer = session.scalar(select(Dealer).where(Dealer.code == values.dealer_code.strip().upper()))
    if dealer is None:
        problems["dealer"] = "There is no showroom with this code."
    if problems:
        raise DomainError("Some fields are not valid.", fields=problems)
    assert trim is not None and dealer is not None
    if not key.covers(dealer.id):
        raise PermissionDeniedError("This key does not act for that showroom.", field="dealer")
    return trim, dealer


def _snapshot(vehicle: Vehicle) -> dict[str, object]:
    return {"vin": vehicle.vin, "trim_id": vehicle.trim_id, "showroom": vehicle.dealer.code,
            "colour": vehicle.colour_code, "status": vehicle.status.value}


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise PreconditionFailedError("The vehicle was changed by another request at the same moment.") from None
    except IntegrityError:
        raise ConflictError("A vehicle with this VIN was just added by another request.", field="vin") from None


def put_vehicle(
    session: Session, *, key: ApiKey, vin: str, if_match: set[str] | None, values: VehicleValues
) -> tuple[Vehicle, bool]:
    """Create the car or bring it to `values`; returns it and whether it was created."""
    vin = normalise_vin(vin)
    problem = vin_problem(vin)
    if problem:
        raise DomainError(problem, field="vin")
    existing = session.scalar(select(Vehicle.dealer_id).where(Vehicle.vin == vin))
    if existing is not None and not key.covers(existing):
        raise NotFoundError("No vehicle with this VIN in this key's showrooms.")
    trim, dealer = _load_values(session, key=key, values=values)
    vehicle = find_vehicle(session, key=key, vin=vin, lock=True)
    if vehicle is None:
        if if_match is not None:  # RFC 9110: If-Match fails when there is no current vehicle
            raise PreconditionFailedError("There is no vehicle with this VIN yet; send no If-Match to create it.")
        vehicle = Vehicle(vin=vin, trim=trim, dealer=dealer, colour_code=values.colour, status=values.status)
        session.add(vehicle)
        _flush(session)
        record_audit(session, actor=None, action="vehicle.create", entity_type="vehicle", entity_id=vehicle.id,
                     after=_snapshot(vehicle), note=_audit_note(key))
        return vehicle, True
    check_if_match(vehicle, if_match)
    before = _snapshot(vehicle)
    if (trim.id, dealer.id, values.colour, values.status) == (
        vehicle.trim_id, vehicle.dealer_id, vehicle.colour_code, vehicle.status
    ):
        return vehicle, False  # nothing to change: the same version, no audit entry
    _ensure_not_held(vehicle, "changed")
    vehicle.trim, vehicle.dealer, vehicle.colour_code, vehicle.status = trim, dealer, values.colour, values.status
    _flush(session)
    after = _snapshot(vehicle)
    changed = [name for name in after if before[name] != after[name]]
    record_audit(session, actor=None, action="vehicle.update", entity_type="vehicle", entity_id=vehicle.id,
                 before={n: before[n] for n in changed}, after={n: after[n] for n in changed}, note=_audit_note(key))
    return vehicle, False


def retire_vehicle(session: Session, *, key: ApiKey, vin: str, if_match: set[str] | None) -> Vehicle:
    """Take the car out of the showroom's stock for good (it stays in the records)."""
    vehicle = find_vehicle(session, key=key, vin=vin, lock=True)
    if vehicle is None:
        raise NotFoundError("No vehicle with this VIN in this key's showrooms.")
    check_if_match(vehicle, if_match)
    _ensure_not_held(vehicle, "retired")
    before = vehicle.status.value
    vehicle.status = VehicleStatus.RETIRED
    _flush(session)
    record_audit(session, actor=None, action="vehicle.retire", entity_type="vehicle", entity_id=vehicle.id,
                 before={"status": before}, after={"status": VehicleStatus.RETIRED.value}, note=_audit_note(key))
    return vehicle
