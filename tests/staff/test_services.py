"""Back-office rules: vehicles (VIN, showrooms, lost updates), prices, showrooms, users and the CSV import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from models import AuditLog, Role, TrimPrice, Vehicle, VehicleStatus
from storefront.catalog.vin import with_check_digit
from storefront.errors import ConflictError, DomainError, PermissionDeniedError
from storefront.staff import csv_import, services
from tests import factories


def wrong_check_digit() -> str:
    vin = with_check_digit("LTEST0AB0LS000077")
    return vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]


def audit(db, action: str) -> list[AuditLog]:
    return list(db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


# --- vehicles --------------------------------------------------------------------------------------------------


def test_staff_add_a_vehicle_to_their_showroom_and_it_is_audited(db, catalog, staff_user):
    vin = factories.make_vin()
    vehicle = services.create_vehicle(db, actor=staff_user, vin=f"  {vin.lower()} ", trim=catalog.trims[0],
                                      dealer=catalog.dealers[0], colour_code="flame-red")
    assert vehicle.vin == vin and vehicle.status is VehicleStatus.IN_STOCK and vehicle.version == 1
    [entry] = audit(db, "vehicle.create")
    assert entry.actor_id == staff_user.id and entry.entity_id == str(vehicle.id)
    assert entry.after == {"vin": vin, "trim_id": catalog.trims[0].id, "trim": catalog.trims[0].name_en,
                           "showroom": "SH-1", "colour": "flame-red", "status": "in_stock"}


@pytest.mark.parametrize(
    ("vin", "message"),
    [
        ("LTEST0AB0LS00001", "17 characters"),
        ("LTEST0AB0LS0000I1", "other than I, O and Q"),
        (wrong_check_digit(), "check digit"),
    ],
)
def test_bad_vins_are_refused(db, catalog, admin_user, vin, message):
    with pytest.raises(DomainError, match=message) as caught:
        services.create_vehicle(db, actor=admin_user, vin=vin, trim=catalog.trims[0], dealer=catalog.dealers[0],
                                colour_code="pearl-white")
    assert caught.value.field == "vin"


def test_vin_must_be_unique(db, catalog, admin_user):
    with pytest.raises(DomainError, match="already exists"):
        services.create_vehicle(db, actor=admin_user, vin=catalog.vehicles[0].vin, trim=catalog.trims[0],
                                dealer=catalog.dealers[0], colour_code="pearl-white")


def test_colour_must_be_offered_on_the_trim(db, catalog, admin_user):
    with pytest.raises(DomainError, match="colour") as caught:
        services.create_vehicle(db, actor=admin_user, vin=factories.make_vin(), trim=catalog.trims[0],
                                dealer=catalog.dealers[0], colour_code="ocean-blue")
    assert caught.value.field == "colour"


def test_staff_act_only_for_their_own_showrooms(db, catalog, staff_user):
    beijing_car = catalog.vehicles[3]
    with pytest.raises(PermissionDeniedError):
        services.create_vehicle(db, actor=staff_user, vin=factories.make_vin(), trim=catalog.trims[0],
                                dealer=catalog.dealers[2], colour_code="pearl-white")
    with pytest.raises(PermissionDeniedError):
        services.change_vehicle_status(db, actor=staff_user, vehicle=beijing_car, expected_version=1,
                                       status=VehicleStatus.SOLD)
    own_car = catalog.vehicles[0]
    with pytest.raises(PermissionDeniedError):  # nor move their own car to someone else's showroom
        services.update_vehicle(db, actor=staff_user, vehicle=own_car, expected_version=1, vin=own_car.vin,
                                trim=own_car.trim, dealer=catalog.dealers[2], colour_code=own_car.colour_code)
    assert beijing_car.status is VehicleStatus.IN_STOCK and own_car.dealer is catalog.dealers[0]


def test_update_records_only_what_changed(db, catalog, admin_user):
    vehicle = catalog.vehicles[0]
    services.update_vehicle(db, actor=admin_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                            trim=vehicle.trim, dealer=catalog.dealers[1], colour_code="flame-red")
    assert vehicle.version == 2
    [entry] = audit(db, "vehicle.update")
    assert entry.before == {"showroom": "SH-1", "colour": "pearl-white"}
    assert entry.after == {"showroom": "SH-2", "colour": "flame-red"}


def test_saving_without_changes_writes_nothing(db, catalog, admin_user):
    vehicle = catalog.vehicles[0]
    services.update_vehicle(db, actor=admin_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                            trim=vehicle.trim, dealer=vehicle.dealer, colour_code=vehicle.colour_code)
    assert vehicle.version == 1 and audit(db, "vehicle.update") == []


def test_a_form_opened_before_someone_elses_save_is_refused(db, catalog, admin_user, staff_user):
    vehicle = catalog.vehicles[0]
    services.update_vehicle(db, actor=staff_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                            trim=vehicle.trim, dealer=vehicle.dealer, colour_code="flame-red")
    with pytest.raises(ConflictError, match="changed by someone else"):
        services.update_vehicle(db, actor=admin_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                                trim=catalog.trims[1], dealer=vehicle.dealer, colour_code="pearl-white")
    db.refresh(vehicle)
    assert (vehicle.version, vehicle.colour_code, vehicle.trim_id) == (2, "flame-red", catalog.trims[0].id)


def test_a_save_racing_another_one_is_refused_by_the_version_column(db, catalog, admin_user):
    """Both read version 1; the other save lands between our read and our write (UPDATE ... WHERE version = 1)."""
    vehicle = catalog.vehicles[0]
    db.execute(update(Vehicle).where(Vehicle.id == vehicle.id).values(version=2, colour_code="flame-red"))
    with pytest.raises(ConflictError, match="changed by someone else"):
        services.update_vehicle(db, actor=admin_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                                trim=vehicle.trim, dealer=vehicle.dealer, colour_code="pearl-white")
    db.rollback()


def test_status_changes_and_retirement_are_audited(db, catalog, staff_user):
    vehicle = catalog.vehicles[0]
    services.change_vehicle_status(db, actor=staff_user, vehicle=vehicle, expected_version=1,
                                   status=VehicleStatus.DEMO_FLEET, note="for test drives")
    services.retire_vehicle(db, actor=staff_user, vehicle=vehicle, expected_version=2, note="flood damage")
    assert vehicle.status is VehicleStatus.RETIRED
    [moved] = audit(db, "vehicle.status")
    [retired] = audit(db, "vehicle.retire")
    assert (moved.before, moved.after, moved.note) == ({"status": "in_stock"}, {"status": "demo_fleet"},
                                                       "for test drives")
    assert retired.after == {"status": "retired"} and retired.note == "flood damage"
    with pytest.raises(DomainError, match="already retired"):
        services.retire_vehicle(db, actor=staff_user, vehicle=vehicle, expected_version=3)


@pytest.mark.parametrize("held", [VehicleStatus.ON_HOLD, VehicleStatus.RESERVED])
def test_cars_held_by_a_reservation_are_left_to_the_reservation(db, catalog, admin_user, held):
    vehicle = factories.make_vehicle(db, trim=catalog.trims[0], dealer=catalog.dealers[0], status=held)
    with pytest.raises(DomainError, match="reservation"):
        services.change_vehicle_status(db, actor=admin_user, vehicle=vehicle, expected_version=1,
                                       status=VehicleStatus.IN_STOCK)
    with pytest.raises(DomainError, match="reservation"):
        services.update_vehicle(db, actor=admin_user, vehicle=vehicle, expected_version=1, vin=vehicle.vin,
                                trim=vehicle.trim, dealer=catalog.dealers[1], colour_code=vehicle.colour_code)


def test_reservation_statuses_cannot_be_set_by_hand(db, catalog, admin_user):
    with pytest.raises(DomainError):
        services.change_vehicle_status(db, actor=admin_user, vehicle=catalog.vehicles[0], expected_version=1,
                                       status=VehicleStatus.RESERVED)


# --- prices ----------------------------------------------------------------------------------------------------


@pytest.fixture
def today(monkeypatch):
    day = dt.date(2026, 11, 23)
    monkeypatch.setattr(services, "store_today", lambda: day)
    return day


def test_a_price_effective_today_applies_at_once(db, catalog, staff_user, today):
    trim, kadjar = catalog.trims[0], catalog.car_models[0]
    entry = services.schedule_price(db, actor=staff_user, trim=trim, price=Decimal("149800.004"), effective_from=today)
    assert entry.is_applied and entry.price == Decimal("149800.00")
    assert trim.msrp_cny == Decimal("149800.00") and kadjar.price_from == Decimal("149800.00")
    [scheduled] = audit(db, "price.schedule")
    [applied] = audit(db, "price.apply")
    assert scheduled.before == {"msrp_cny": "160000.00"} and scheduled.after["effective_from"] == "2026-11-23"
    assert (applied.before, applied.after, applied.actor_id) == (
        {"msrp_cny": "160000.00"}, {"msrp_cny": "149800.00"}, staff_user.id)


def test_a_future_price_waits_for_its_day_and_applies_once(db, catalog, staff_user, today):
    trim = catalog.trims[1]
    services.schedule_price(db, actor=staff_user, trim=trim, price=Decimal("190000"),
                            effective_from=today + dt.timedelta(days=3))
    assert trim.msrp_cny == Decimal("200000") and services.apply_due_prices(db, today=today) == []
    applied = services.apply_due_prices(db, today=today + dt.timedelta(days=3))
    assert len(applied) == 1 and trim.msrp_cny == Decimal("190000")
    assert services.apply_due_prices(db, today=today + dt.timedelta(days=4)) == []
    [entry] = audit(db, "price.apply")
    assert entry.actor_id is None and entry.note == "effective 2026-11-26"


def test_the_latest_due_price_wins(db, catalog, staff_user, today):
    trim = catalog.trims[3]
    for days, price in ((1, "118000"), (2, "116000"), (2, "115000")):
        services.schedule_price(db, actor=staff_user, trim=trim, price=Decimal(price),
                                effective_from=today + dt.timedelta(days=days))
    assert len(services.apply_due_prices(db, today=today + dt.timedelta(days=5))) == 3
    assert trim.msrp_cny == Decimal("115000") and catalog.car_models[2].price_from == Decimal("115000")
    assert db.scalar(select(TrimPrice).where(TrimPrice.applied_at.is_(None))) is None


@pytest.mark.parametrize(
    ("price", "days", "field"), [(Decimal("0"), 0, "price"), (Decimal("-5"), 0, "price"),
                                 (Decimal("150000"), -1, "effective_from")],
)
def test_bad_price_changes_are_refused(db, catalog, staff_user, today, price, days, field):
    with pytest.raises(DomainError) as caught:
        services.schedule_price(db, actor=staff_user, trim=catalog.trims[0], price=price,
                                effective_from=today + dt.timedelta(days=days))
    assert caught.value.field == field and catalog.trims[0].msrp_cny == Decimal("160000")


# --- showrooms -------------------------------------------------------------------------------------------------


def showroom_values(catalog, **changes) -> services.ShowroomValues:
    hours = {day: ["09:00", "18:00"] for day in services.WEEKDAYS} | {"sun": None}
    values = {"code": "gz-1", "name_en": "Guangzhou One", "name_zh": "广州一店", "city_id": catalog.cities[0].id,
              "opening_hours": hours, "has_self_service_kiosk": True}
    return services.ShowroomValues(**(values | changes))


def test_admins_create_and_edit_showrooms_with_audit(db, catalog, admin_user):
    dealer = services.save_showroom(db, actor=admin_user, showroom=None, values=showroom_values(catalog))
    assert dealer.code == "GZ-1" and dealer.opening_hours["sun"] is None and dealer.has_self_service_kiosk
    services.save_showroom(db, actor=admin_user, showroom=dealer,
                           values=showroom_values(catalog, phone="020-1234 5678", has_self_service_kiosk=False))
    [created] = audit(db, "showroom.create")
    [updated] = audit(db, "showroom.update")
    assert created.after["code"] == "GZ-1"
    assert updated.before == {"phone": "", "has_self_service_kiosk": True}
    assert updated.after == {"phone": "020-1234 5678", "has_self_service_kiosk": False}


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"code": "sh-1"}, "code"), ({"opening_hours": {"mon": ["18:00", "09:00"]}}, "mon"),
     ({"opening_hours": {"tue": ["09:00", ""]}}, "tue"), ({"city_id": 999_999}, "city")],
)
def test_bad_showrooms_are_refused(db, catalog, admin_user, changes, field):
    with pytest.raises(DomainError) as caught:
        services.save_showroom(db, actor=admin_user, showroom=None, values=showroom_values(catalog, **changes))
    assert caught.value.field == field


def test_staff_cannot_manage_showrooms(db, catalog, staff_user):
    with pytest.raises(PermissionDeniedError):
        services.save_showroom(db, actor=staff_user, showroom=None, values=showroom_values(catalog))


# --- users and roles -------------------------------------------------------------------------------------------


def test_admin_promotes_a_customer_to_staff_at_two_showrooms(db, catalog, admin_user, customer):
    services.update_user_access(db, actor=admin_user, user=customer, role=Role.STAFF,
                                showrooms=catalog.dealers[:2], is_active=True)
    assert customer.is_staff and customer.works_at(catalog.dealers[1].id)
    [entry] = audit(db, "user.update")
    assert entry.before == {"role": "customer", "showrooms": []}
    assert entry.after == {"role": "staff", "showrooms": ["SH-1", "SH-2"]}


def test_the_last_admin_cannot_demote_themselves(db, catalog, admin_user):
    with pytest.raises(DomainError, match="last admin"):
        services.update_user_access(db, actor=admin_user, user=admin_user, role=Role.STAFF, showrooms=[],
                                    is_active=True)
    assert admin_user.is_admin


def test_an_admin_can_step_down_when_another_admin_remains(db, catalog, admin_user):
    second = factories.make_user(db, email="boss@example.com", role=Role.ADMIN)
    services.update_user_access(db, actor=admin_user, user=admin_user, role=Role.STAFF,
                                showrooms=[catalog.dealers[0]], is_active=True)
    assert not admin_user.is_admin and second.is_admin


def test_deactivating_signs_the_user_out_everywhere(db, catalog, admin_user, staff_user):
    token = staff_user.session_token
    services.update_user_access(db, actor=admin_user, user=staff_user, role=Role.STAFF,
                                showrooms=staff_user.dealers, is_active=False)
    assert not staff_user.is_active and staff_user.session_token != token
    with pytest.raises(DomainError, match="your own account"):
        services.update_user_access(db, actor=admin_user, user=admin_user, role=Role.ADMIN, showrooms=[],
                                    is_active=False)


def test_staff_cannot_change_roles(db, catalog, staff_user, customer):
    with pytest.raises(PermissionDeniedError):
        services.update_user_access(db, actor=staff_user, user=customer, role=Role.ADMIN, showrooms=[],
                                    is_active=True)


# --- CSV import ------------------------------------------------------------------------------------------------


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def test_parse_accepts_bom_gb18030_any_column_order_and_extra_columns(catalog):
    vin = factories.make_vin()
    for data in (
        b"\xef\xbb\xbf" + csv_bytes("VIN,trim_id,showroom,colour", f"{vin},1,sh-1,Pearl-White"),
        csv_bytes("备注,colour,showroom,trim_id,vin,status", f"新车,pearl-white,SH-1,1,{vin},", encoding="gb18030"),
    ):
        [row] = csv_import.parse_csv(data)
        assert (row.vin, row.trim_id, row.showroom, row.colour, row.status_value) == (
            vin, "1", "SH-1", "pearl-white", "in_stock")


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (csv_bytes("vin,trim_id,colour"), "missing: showroom"),
     (csv_bytes("vin,trim_id,showroom,colour", ",,,"), "no vehicles"), (b"\xff\xfe\x00v\x00i", "UTF-8")],
)
def test_parse_refuses_unusable_files(data, message):
    with pytest.raises(DomainError, match=message):
        csv_import.parse_csv(data)


def test_parse_refuses_more_than_the_row_limit(monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    lines = [f"{factories.make_vin()},1,SH-1,pearl-white" for _ in range(4)]
    with pytest.raises(DomainError, match="At most 3"):
        csv_import.parse_csv(csv_bytes("vin,trim_id,showroom,colour", *lines))


def test_dry_run_lists_every_problem_of_every_row(db, catalog, staff_user):
    trim = catalog.trims[0].id
    good, dup = factories.make_vin(), factories.make_vin()
    rows = csv_import.parse_csv(csv_bytes(
        "vin,trim_id,showroom,colour,status",
        f"{good},{trim},SH-1,pearl-white,in_stock",
        f"{dup},{trim},SH-1,pearl-white,",
        f"{dup},{trim},SH-2,flame-red,demo_fleet",
        f"{catalog.vehicles[0].vin},{trim},SH-1,pearl-white,in_stock",
        f"LTEST0AB0LS00001X,{trim},SH-1,pearl-white,in_stock",
        f"{factories.make_vin()},99999,NOPE,pearl-white,sold",
        f"{factories.make_vin()},{trim},BJ-1,ocean-blue,in_stock",
    ))
    checked = csv_import.validate_rows(db, actor=staff_user, rows=rows)
    errors = {row.line: " | ".join(row.errors) for row in checked}
    assert errors[2] == ""
    assert "more than once" in errors[3] and "more than once" in errors[4]
    assert "already exists" in errors[5]
    assert "check digit" in errors[6] or "17 characters" in errors[6]
    assert "Unknown trim id 99999" in errors[7] and "Unknown showroom NOPE" in errors[7]
    assert "Status sold" in errors[7]
    assert "do not work at showroom BJ-1" in errors[8] and "ocean-blue" in errors[8]


def test_import_is_all_or_nothing(db, catalog, admin_user):
    trim = catalog.trims[0].id
    rows = csv_import.parse_csv(csv_bytes(
        "vin,trim_id,showroom,colour",
        f"{factories.make_vin()},{trim},SH-1,pearl-white",
        f"{factories.make_vin()},{trim},SH-1,not-a-colour",
    ))
    with pytest.raises(csv_import.ImportRejected) as caught:
        csv_import.import_rows(db, actor=admin_user, rows=rows)
    assert "1 of 2 rows" in caught.value.user_message and caught.value.rows[1].errors
    assert len(db.scalars(select(Vehicle)).all()) == len(catalog.vehicles)


def test_import_adds_every_row_and_one_audit_entry(db, catalog, staff_user):
    vins = [factories.make_vin() for _ in range(3)]
    trim = catalog.trims[0].id
    rows = csv_import.parse_csv(csv_bytes("vin,trim_id,showroom,colour,status",
                                          *(f"{vin},{trim},SH-1,flame-red,demo_fleet" for vin in vins)))
    assert csv_import.import_rows(db, actor=staff_user, rows=rows, filename="arrivals.csv") == 3
    vehicles = db.scalars(select(Vehicle).where(Vehicle.vin.in_(vins)).order_by(Vehicle.vin)).all()
    assert [v.vin for v in vehicles] == sorted(vins)
    assert all((v.status, v.version, v.dealer.code, v.colour_code) == (VehicleStatus.DEMO_FLEET, 1, "SH-1", "flame-red")
               for v in vehicles)
    [entry] = audit(db, "vehicle.import")
    assert entry.after == {"count": 3, "vins": vins, "showrooms": {"SH-1": 3}} and entry.note == "arrivals.csv"


def test_preview_token_round_trips_and_refuses_tampering_and_other_users(db, catalog, staff_user, admin_user):
    rows = csv_import.parse_csv(csv_bytes("vin,trim_id,showroom,colour", f"{factories.make_vin()},1,SH-1,x"))
    token = csv_import.rows_token("secret", actor=staff_user, rows=rows, filename="a.csv")
    back, filename = csv_import.rows_from_token("secret", token, actor=staff_user)
    assert [r.values for r in back] == [r.values for r in rows] and back[0].line == 2 and filename == "a.csv"
    for secret, user, value in (("other", staff_user, token), ("secret", admin_user, token),
                                ("secret", staff_user, token[:-2] + "xx")):
        with pytest.raises(DomainError, match="upload the file again"):
            csv_import.rows_from_token(secret, value, actor=user)


def test_export_starts_with_a_bom_and_neutralises_formulas():
    text = "".join(csv_import.export_lines([("VIN1", 1, "SH-1", "white", "in_stock", "=cmd()", "M", "T", 1, "")]))
    assert text.startswith("\ufeffvin,trim_id,showroom,colour,status,brand,")
    assert "'=cmd()" in text
