"""Recording staff and admin changes in the audit log (same transaction as the change)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Session

from models import AuditLog, User


def record_audit(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditLog:
    """Add one audit entry; values must be JSON-safe (use str() for Decimal and datetimes)."""
    entry = AuditLog(
        actor_id=actor.id if actor is not None else None,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before,
        after=after,
        note=note[:500],
    )
    session.add(entry)
    return entry


# --- how the audit log reads: a label per action, record, field and status code ----------------------------------
# The log stores codes (stable, searchable); pages show these labels. A code without a label is shown as it is,
# marked as a code, and the language check in tests/test_i18n.py tells which one to add.

ACTION_LABELS = {
    "api_key.create": _l("API key created"),
    "api_key.revoke": _l("API key revoked"),
    "presale.campaign_created": _l("Presale set up"),
    "presale.campaign_updated": _l("Presale terms changed"),
    "presale.deposit_paid": _l("Presale deposit paid"),
    "presale.locked_by_shopper": _l("Presale order locked by the shopper"),
    "presale.cancelled": _l("Presale order cancelled"),
    "presale.forfeited": _l("Presale deposit forfeited"),
    "vehicle.retire": _l("Vehicle retired"),
    "demo.clock": _l("Demo clock moved"),
    "deposit_policy.save": _l("Deposit terms saved"),
    "finance_product.create": _l("Finance product added"),
    "finance_product.update": _l("Finance product changed"),
    "price.apply": _l("Guide price applied"),
    "price.schedule": _l("Guide price scheduled"),
    "reservation.cancel": _l("Reservation cancelled"),
    "reservation.complete": _l("Car handed over"),
    "reservation.refunded_at_provider": _l("Refunded at the payment provider"),
    "test_drive.cancel": _l("Test drive cancelled"),
    "test_drive.demo_cars": _l("Demo cars changed"),
    "test_drive.exception": _l("Test-drive day changed"),
    "test_drive.exception_delete": _l("Test-drive day change removed"),
    "test_drive.pick_up": _l("Self-service car picked up"),
    "test_drive.return": _l("Self-service car returned"),
    "test_drive.schedule": _l("Test-drive hours changed"),
    "user.update": _l("User changed"),
    "vehicle.create": _l("Vehicle added"),
    "vehicle.import": _l("Vehicles imported"),
    "vehicle.update": _l("Vehicle changed"),
    "vehicle.status": _l("Vehicle status changed"),
}
ENTITY_LABELS = {
    "car_model": _l("Model"), "dealer": lazy_pgettext("audit record", "Showroom"),
    "showroom": lazy_pgettext("audit record", "Showroom"), "finance_product": _l("Finance product"),
    "reservation": _l("Reservation"), "store_setting": _l("Store setting"),
    "test_drive_booking": _l("Test-drive booking"), "trim": _l("Trim"), "user": _l("User"),
    "vehicle": _l("Vehicle"), "api_key": _l("API key"), "presale_campaign": _l("Presale"),
    "presale_order": _l("Presale order"),
}
FIELD_LABELS = {
    "status": _l("Status"), "vehicle_status": _l("Vehicle status"), "refund": _l("Refunded amount"),
    "refunded": _l("Refunded amount"), "double_return_owed": _l("Owed on top (定金 returned double)"),
    "deposit_refunded": _l("Deposit refunded"), "price": _l("Guide price"), "msrp_cny": _l("Guide price"),
    "effective_from": _l("Effective from"), "code": _l("Code"), "count": _l("Count"),
    "offset_seconds": _l("Clock offset (seconds)"), "slot_minutes": _l("Slot length (minutes)"),
    "version": _l("Version"), "weekly_hours": _l("Weekly hours"), "amount": _l("Amount"),
    "kind": lazy_pgettext("deposit kind", "Kind"), "refund_window_days": _l("Refund window (days)"),
    "price_credit": _l("Counts towards the price"), "is_active": _l("Active"), "vin": _l("VIN"),
    "trim_id": _l("Trim number"), "trim": _l("Trim"), "showroom": lazy_pgettext("audit record", "Showroom"),
    "colour": _l("Colour"), "role": _l("Role"), "name": _l("Name"),
    "number": _l("Launch number"), "edition_size": _l("Launch edition size"), "deposit": _l("Deposit amount"),
    # presale campaigns (the staff form's words)
    "name_zh": _l("Name (Chinese)"), "name_en": _l("Name (English)"), "car_model_id": _l("Model"),
    "presale_price": _l("Presale price (CNY)"), "deposit_amount": _l("Deposit (CNY)"),
    "deposit_credit": _l("Deposit counts for (CNY)"), "opens_at": _l("Orders open (Beijing time)"),
    "closes_at": _l("Orders close (Beijing time)"), "deposit_window_minutes": _l("Minutes to pay the deposit"),
    "refundable_days": _l("Refundable days (0 = binding at once)"),
    "balance_window_days": _l("Days to pay the balance"),
    "benefits_zh": _l("Launch benefits (Chinese)"), "benefits_en": _l("Launch benefits (English)"),
}
VALUE_LABELS = {
    # reservations
    "pending_payment": _l("waiting for payment"), "confirmed": lazy_pgettext("status", "confirmed"),
    "completed": lazy_pgettext("status", "picked up"), "cancelled": lazy_pgettext("status", "cancelled"),
    "expired": lazy_pgettext("status", "expired"), "refunded": lazy_pgettext("status", "refunded"),
    # vehicles
    "in_stock": lazy_pgettext("status", "in stock"), "on_hold": lazy_pgettext("status", "on hold"),
    "reserved": lazy_pgettext("status", "reserved"), "sold": lazy_pgettext("status", "sold"),
    "demo_fleet": lazy_pgettext("status", "demo car"), "retired": lazy_pgettext("status", "retired"),
    # test drives
    "booked": lazy_pgettext("status", "booked"), "picked_up": lazy_pgettext("status", "out on a drive"),
    "returned": lazy_pgettext("status", "returned"), "no_show": lazy_pgettext("status", "no-show"),
    # presale orders
    "held": lazy_pgettext("status", "number held"), "paid": lazy_pgettext("status", "deposit paid"),
    "locked": lazy_pgettext("status", "locked"), "forfeited": lazy_pgettext("status", "forfeited"),
    "waitlisted": lazy_pgettext("status", "on the waitlist"),
    # deposit kinds, flags
    "refundable": _l("Refundable deposit (订金)"), "binding": _l("Binding deposit (定金)"),
    "True": lazy_pgettext("flag", "yes"), "False": lazy_pgettext("flag", "no"),
}


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def entity_label(code: str) -> str:
    label = ENTITY_LABELS.get(code)
    return str(label) if label is not None else code


def field_label(code: str) -> str:
    label = FIELD_LABELS.get(code)
    return str(label) if label is not None else code


def value_label(value: object) -> str:
    label = VALUE_LABELS.get(str(value)) if isinstance(value, str | bool) else None
    return str(label) if label is not None else str(value)
