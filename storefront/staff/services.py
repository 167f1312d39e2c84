"""Back-office rules: vehicles, trim prices, showrooms and users; every change is audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from models import City, Dealer, Role, Trim, TrimPrice, User, Vehicle, VehicleStatus
from storefront import clock
from storefront.audit import record_audit
from storefront.catalog.services import refresh_price_from
from storefront.catalog.vin import vin_problem
from storefront.errors import ConflictError, DomainError, PermissionDeniedError

# Statuses the back office sets by hand. ON_HOLD and RESERVED belong to the reservation flow.
MANUAL_STATUSES = (VehicleStatus.IN_STOCK, VehicleStatus.DEMO_FLEET, VehicleStatus.SOLD, VehicleStatus.RETIRED)
# Statuses a new car may arrive with (form or CSV import).
ARRIVAL_STATUSES = (VehicleStatus.IN_STOCK, VehicleStatus.DEMO_FLEET)
HELD_BY_RESERVATION = (VehicleStatus.ON_HOLD, VehicleStatus.RESERVED)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_PRICE = Decimal("100000000")
FEN = Decimal("0.01")


def _(message: str, **values: Any) -> str:
    """gettext in a web request; plain English in CLI commands and tests (the locale comes from the request)."""
    if has_request_context():
        return str(gettext(message, **values))
    return message % values if values else message


def stale_edit_error() -> ConflictError:
    return ConflictError(
        _("This vehicle was changed by someone else since you opened it — reload the page and make your change again.")
    )


def vin_message(raw: str) -> str | None:
    """vin_problem's reason, translated (the catalog module keeps plain English)."""
    problem = vin_problem(raw)
    if problem is None:
        return None
    translated: dict[str, str] = {
        "A VIN has exactly 17 characters.": _("A VIN has exactly 17 characters."),
        "A VIN uses only digits and capital letters other than I, O and Q.": _(
            "A VIN uses only digits and capital letters other than I, O and Q."
        ),
        "The VIN check digit (9th character) does not match.": _(
            "The VIN check digit (9th character) does not match."
        ),
    }
    return translated.get(problem, problem)


def normalise_vin(raw: str) -> str:
    return raw.strip().upper()


def money_text(value: Decimal) -> str:
    """A CNY amount as text for the audit log, always with two decimals."""
    return str(Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP))


def changed_values(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value differs, so an audit entry says what actually changed."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


# ---------------------------------------------------------------------------------------------------------------
# Vehicles


def vehicle_snapshot(vehicle: Vehicle) -> dict[str, Any]:
    return {
        "vin": vehicle.vin,
        "trim_id": vehicle.trim.id if vehicle.trim is not None else vehicle.trim_id,
        "trim": vehicle.trim.name_en if vehicle.trim is not None else None,
        "showroom": vehicle.dealer.code if vehicle.dealer is not None else None,
        "colour": vehicle.colour_code,
        "status": vehicle.status.value if vehicle.status is not None else None,
    }


def ensure_works_at(actor: User, dealer: Dealer) -> None:
    """Staff act only for their own showrooms; admins for every showroom."""
    if not actor.works_at(dealer.id):
        raise PermissionDeniedError(_("You can only manage vehicles of your own showrooms."), field="showroom")


def _ensure_not_reserved(vehicle: Vehicle) -> None:
    if vehicle.status in HELD_BY_RESERVATION:
        raise DomainError(
            _("This car is held by a reservation; release or complete the reservation first."), field="status"
        )


def _ensure_current(vehicle: Vehicle, expected_version: int) -> None:
    if vehicle.version != expected_version:
        raise stale_edit_error()


def _check_vin(session: Session, vin: str, *, exclude_id: int | None = None) -> None:
    problem = vin_message(vin)
    if problem:
        raise DomainError(problem, field="vin")
    query = select(Vehicle.id).where(Vehicle.vin == vin)
    if exclude_id is not None:
        query = query.where(Vehicle.id != exclude_id)
    if session.scalar(query) is not None:
        raise DomainError(_("A vehicle with this VIN already exists."), field="vin")


def _check_colour(trim: Trim, colour_code: str) -> None:
    if trim.colours and trim.colour(colour_code) is None:
        raise DomainError(_("This trim does not come in that colour."), field="colour")


def _flush_vehicle(session: Session) -> None:
    """Flush, turning the database's own refusals into messages: a lost update or a VIN taken meanwhile."""
    try:
        session.flush()
    except StaleDataError:
        raise stale_edit_error() from None
    except IntegrityError:
        raise ConflictError(_("A vehicle with this VIN was just added by someone else."), field="vin") from None


def create_vehicle(
    session: Session,
    *,
    actor: User,
    vin: str,
    trim: Trim,
    dealer: Dealer,
    colour_code: str,
    status: VehicleStatus = VehicleStatus.IN_STOCK,
) -> Vehicle:
    """Add one car to a showroom's stock."""
    ensure_works_at(actor, dealer)
    vin = normalise_vin(vin)
    _check_vin(session, vin)
    _check_colour(trim, colour_code)
    if status not in ARRIVAL_STATUSES:
        raise DomainError(_("A new car arrives in stock or in the demo fleet."), field="status")
    vehicle = Vehicle(vin=vin, trim=trim, dealer=dealer, colour_code=colour_code, status=status)
    session.add(vehicle)
    _flush_vehicle(session)
    record_audit(session, actor=actor, action="vehicle.create", entity_type="vehicle", entity_id=vehicle.id,
                 after=vehicle_snapshot(vehicle))
    return vehicle


def update_vehicle(
    session: Session,
    *,
    actor: User,
    vehicle: Vehicle,
    expected_version: int,
    vin: str,
    trim: Trim,
    dealer: Dealer,
    colour_code: str,
) -> Vehicle:
    """Correct a car's VIN, trim, colour or showroom; refused if someone saved it since the form was opened."""
    ensure_works_at(actor, vehicle.dealer)
    ensure_works_at(actor, dealer)
    _ensure_current(vehicle, expected_version)
    _ensure_not_reserved(vehicle)
    vin = normalise_vin(vin)
    _check_vin(session, vin, exclude_id=vehicle.id)
    _check_colour(trim, colour_code)
    before = vehicle_snapshot(vehicle)
    vehicle.vin, vehicle.trim, vehicle.dealer, vehicle.colour_code = vin, trim, dealer, colour_code
    after = vehicle_snapshot(vehicle)
    if after == before:
        return vehicle
    _flush_vehicle(session)
    old, new = changed_values(before, after)
    record_audit(session, actor=actor, action="vehicle.update", entity_type="vehicle", entity_id=vehicle.id,
                 before=old, after=new)
    return vehicle


def change_vehicle_status(
    session: Session,
    *,
    actor: User,
    vehicle: Vehicle,
    expected_version: int,
    status: VehicleStatus,
    note: str = "",
) -> Vehicle:
    """Move a car between in stock, demo fleet, sold and retired (reservations own on-hold and reserved)."""
    ensure_works_at(actor, vehicle.dealer)
    _ensure_current(vehicle, expected_version)
    _ensure_not_reserved(vehicle)
    if status not in MANUAL_STATUSES:
        raise DomainError(_("Reservations set that status; choose another one."), field="status")
    if status is vehicle.status:
        return vehicle
    before = vehicle.status.value
    vehicle.status = status
    _flush_vehicle(session)
    action = "vehicle.retire" if status is VehicleStatus.RETIRED else "vehicle.status"
    record_audit(session, actor=actor, action=action, entity_type="vehicle", entity_id=vehicle.id,
                 before={"status": before}, after={"status": status.value}, note=note)
    return vehicle


def retire_vehicle(
    session: Session, *, actor: User, vehicle: Vehicle, expected_version: int, note: str = ""
) -> Vehicle:
    """Take a car out of the fleet for good (it stays in the records and the audit log)."""
    if vehicle.status is VehicleStatus.RETIRED:
        raise DomainError(_("This car is already retired."), field="status")
    return change_vehicle_status(session, actor=actor, vehicle=vehicle, expected_version=expected_version,
                                 status=VehicleStatus.RETIRED, note=note)


# ---------------------------------------------------------------------------------------------------------------
# Prices


def store_today() -> dt.date:
    """Today's date in Asia/Shanghai, on the store clock (demo time travel included)."""
    return clock.local_now().date()


def schedule_price(
    session: Session, *, actor: User, trim: Trim, price: Decimal, effective_from: dt.date
) -> TrimPrice:
    """Record a new guide price for a trim; one effective today applies at once, later ones when due."""
    price = Decimal(price).quantize(FEN, rounding=ROUND_HALF_UP)
    if price <= 0 or price >= MAX_PRICE:
        raise DomainError(_("Enter a price above zero."), field="price")
    today = store_today()
    if effective_from < today:
        raise DomainError(_("A price change cannot start in the past."), field="effective_from")
    entry = TrimPrice(trim=trim, price=price, effective_from=effective_from, created_by=actor)
    session.add(entry)
    session.flush()
    record_audit(session, actor=actor, action="price.schedule", entity_type="trim", entity_id=trim.id,
                 before={"msrp_cny": money_text(trim.msrp_cny)},
                 after={"price": money_text(price), "effective_from": effective_from.isoformat()})
    if effective_from == today:
        apply_due_prices(session, actor=actor, trim_ids=[trim.id])
    return entry


def apply_due_prices(
    session: Session, *, actor: User | None = None, today: dt.date | None = None, trim_ids: Sequence[int] | None = None
) -> list[TrimPrice]:
    """Carry every price whose day has come onto its trim (the latest one wins); returns the entries applied.

    The pending rows are locked (FOR UPDATE on PostgreSQL), so the cron command and a page read applying at the
    same moment apply each price once.
    """
    today = today or store_today()
    query = (
        select(TrimPrice)
        .where(TrimPrice.applied_at.is_(None), TrimPrice.effective_from <= today)
        .order_by(TrimPrice.trim_id, TrimPrice.effective_from, TrimPrice.id)
        .with_for_update()
    )
    if trim_ids is not None:
        query = query.where(TrimPrice.trim_id.in_(trim_ids))
    due = list(session.scalars(query))
    if not due:
        return []
    latest: dict[int, TrimPrice] = {}
    stamp = clock.now()
    for entry in due:
        latest[entry.trim_id] = entry  # ordered by day then id, so the last one seen wins
        entry.applied_at = stamp
    trims = list(session.scalars(select(Trim).where(Trim.id.in_(latest))))
    changed: list[Trim] = []
    for trim in trims:
        entry = latest[trim.id]
        if trim.msrp_cny == entry.price:
            continue
        before = money_text(trim.msrp_cny)
        trim.msrp_cny = entry.price
        changed.append(trim)
        record_audit(session, actor=actor, action="price.apply", entity_type="trim", entity_id=trim.id,
                     before={"msrp_cny": before}, after={"msrp_cny": money_text(entry.price)},
                     note=f"effective {entry.effective_from.isoformat()}")
    session.flush()
    for car_model in {trim.car_model for trim in changed}:
        refresh_price_from(session, car_model)
    session.flush()
    return due


# ---------------------------------------------------------------------------------------------------------------
# Showrooms (admins)


@dataclass(frozen=True)
class ShowroomValues:
    code: str
    name_en: str
    name_zh: str
    city_id: int
    address_en: str = ""
    address_zh: str = ""
    phone: str = ""
    opening_hours: dict[str, list[str] | None] | None = None
    offers_test_drive: bool = True
    offers_pickup: bool = True
    has_self_service_kiosk: bool = False
    is_active: bool = True


def showroom_snapshot(dealer: Dealer) -> dict[str, Any]:
    return {
        "code": dealer.code, "name_en": dealer.name_en, "name_zh": dealer.name_zh, "city_id": dealer.city_id,
        "address_en": dealer.address_en, "address_zh": dealer.address_zh, "phone": dealer.phone,
        "opening_hours": dealer.opening_hours, "offers_test_drive": dealer.offers_test_drive,
        "offers_pickup": dealer.offers_pickup, "has_self_service_kiosk": dealer.has_self_service_kiosk,
        "is_active": dealer.is_active,
    }


def _check_hours(hours: dict[str, list[str] | None]) -> dict[str, list[str] | None]:
    checked: dict[str, list[str] | None] = {}
    for day in WEEKDAYS:
        span = hours.get(day)
        if span is None:
            checked[day] = None
            continue
        opens, closes = span
        if not opens or not closes:
            raise DomainError(_("Give both opening and closing times, or mark the day closed."), field=day)
        if opens >= closes:
            raise DomainError(_("Closing time must be after opening time."), field=day)
        checked[day] = [opens, closes]
    return checked


def save_showroom(session: Session, *, actor: User, showroom: Dealer | None, values: ShowroomValues) -> Dealer:
    """Create a showroom (showroom=None) or change one; the code stays unique."""
    if not actor.is_admin:
        raise PermissionDeniedError(_("Only admins manage showrooms."))
    code = values.code.strip().upper()
    taken = select(Dealer.id).where(Dealer.code == code)
    if showroom is not None:
        taken = taken.where(Dealer.id != showroom.id)
    if session.scalar(taken) is not None:
        raise DomainError(_("Another showroom already uses this code."), field="code")
    if session.get(City, values.city_id) is None:
        raise DomainError(_("Choose a city."), field="city")
    hours = _check_hours(values.opening_hours or {})
    before = showroom_snapshot(showroom) if showroom is not None else {}
    dealer = showroom or Dealer()
    dealer.code, dealer.name_en, dealer.name_zh = code, values.name_en.strip(), values.name_zh.strip()
    dealer.city_id = values.city_id
    dealer.address_en, dealer.address_zh = values.address_en.strip(), values.address_zh.strip()
    dealer.phone = values.phone.strip()
    dealer.opening_hours = hours
    dealer.offers_test_drive, dealer.offers_pickup = values.offers_test_drive, values.offers_pickup
    dealer.has_self_service_kiosk, dealer.is_active = values.has_self_service_kiosk, values.is_active
    session.add(dealer)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(_("Another showroom already uses this code."), field="code") from None
    old, new = changed_values(before, showroom_snapshot(dealer))
    if new:
        action = "showroom.update" if showroom is not None else "showroom.create"
        record_audit(session, actor=actor, action=action, entity_type="showroom", entity_id=dealer.id,
                     before=old or None, after=new)
    return dealer


# ---------------------------------------------------------------------------------------------------------------
# Users and roles (admins)


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "role": user.role.value,
        "showrooms": sorted(d.code for d in user.dealers),
        "is_active": user.is_active,
    }


def update_user_access(
    session: Session,
    *,
    actor: User,
    user: User,
    role: Role,
    showrooms: Iterable[Dealer],
    is_active: bool,
) -> User:
    """Change a user's role, showrooms and active flag; the store always keeps at least one active admin."""
    if not actor.is_admin:
        raise PermissionDeniedError(_("Only admins change roles."))
    if user.id == actor.id and not is_active:
        raise DomainError(_("You cannot deactivate your own account."), field="is_active")
    stays_admin = role is Role.ADMIN and is_active
    if user.is_admin and user.is_active and not stays_admin:
        # Lock the admin rows so two admins demoting each other at once cannot both succeed.
        admins = session.scalars(
            select(User.id).where(User.role == Role.ADMIN, User.is_active.is_(True)).with_for_update()
        ).all()
        if len([admin_id for admin_id in admins if admin_id != user.id]) == 0:
            message = (
                _("You are the last admin: make someone else an admin first.")
                if user.id == actor.id
                else _("The store needs at least one active admin.")
            )
            raise DomainError(message, field="role")
    before = user_snapshot(user)
    user.role = role
    user.dealers = list(showrooms) if role is not Role.CUSTOMER else []
    if user.is_active and not is_active:
        user.session_token = secrets.token_hex(16)  # signs the user out everywhere
    user.is_active = is_active
    session.flush()
    old, new = changed_values(before, user_snapshot(user))
    if new:
        record_audit(session, actor=actor, action="user.update", entity_type="user", entity_id=user.id,
                     before=old, after=new)
    return user

