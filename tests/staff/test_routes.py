"""Back-office pages: lists and filters, forms that keep input, lost updates, CSV import/export, prices, audit."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import AuditLog, Dealer, Role, Trim, TrimPrice, User, Vehicle, VehicleStatus
from storefront.staff import services
from tests import factories
from tests.staff.conftest import sign_in

EN = {"Accept-Language": "en"}


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def audit_actions(db) -> list[str]:
    return list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# --- dashboard and vehicle list --------------------------------------------------------------------------------


def test_dashboard_counts_stock_of_my_showrooms_by_status(staff_client, catalog):
    page = text(staff_client.get("/staff/", headers=EN))
    assert "Stock by showroom" in page and "SH-1" in page
    assert "BJ-1" not in page  # not one of this staff member's showrooms
    row = re.search(r'<th scope="row">.*?SH-1.*?</tr>', page, re.S).group(0)
    assert re.findall(r'<td class="num">(?:<a [^>]*>)?(?:<span class="meta">)?(\d+)', row) == ["2", "0", "0", "0", "0",
                                                                                                 "0"]


def test_admins_see_every_showroom_on_the_dashboard(admin_client):
    page = text(admin_client.get("/staff/", headers=EN))
    assert all(code in page for code in ("SH-1", "SH-2", "BJ-1"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", {0, 2}), ("status=demo_fleet", set()), ("trim={trim1}", {2}), ("colour=pearl-white", {0, 2}),
     ("q={vin0_tail}", {0}), ("brand={ford}", set()), ("showroom={sh1}", {0, 2})],
)
def test_vehicle_list_filters_within_my_showrooms(staff_client, catalog, query, expected):
    vehicles = catalog.vehicles
    query = query.format(trim1=catalog.trims[1].id, vin0_tail=vehicles[0].vin[-6:].lower(), ford=catalog.brands[1].id,
                         sh1=catalog.dealers[0].id)
    page = text(staff_client.get(f"/staff/vehicles?{query}", headers=EN))
    shown = {i for i, v in enumerate(vehicles) if v.vin in page}
    assert shown == expected


def test_vehicle_list_ignores_junk_filters(staff_client):
    response = staff_client.get("/staff/vehicles?showroom=abc&trim=-1&status=nope&page=zz&q=%27%3B--", headers=EN)
    assert response.status_code == 200


def test_vehicle_list_runs_the_same_queries_for_5_or_60_cars(db, admin_client, catalog, app_queries):
    def queries_for_list() -> int:
        db.commit()
        with app_queries() as statements:
            assert admin_client.get("/staff/vehicles").status_code == 200
        return len(statements)

    few = queries_for_list()
    for i in range(56):
        factories.make_vehicle(db, trim=catalog.trims[i % 4], dealer=catalog.dealers[i % 3])
    assert queries_for_list() == few <= 10


def test_dashboard_uses_one_grouped_stock_query(db, admin_client, catalog, app_queries):
    for i in range(30):
        factories.make_vehicle(db, trim=catalog.trims[0], dealer=catalog.dealers[i % 3])
    db.commit()
    with app_queries() as statements:
        admin_client.get("/staff/")
    stock_queries = [s for s in statements if "FROM vehicles" in s]
    assert len(stock_queries) == 1 and "GROUP BY vehicles.dealer_id, vehicles.status" in stock_queries[0]
    assert len(statements) <= 5  # user, showrooms, their cities, stock, pending prices


# --- add / edit / status / retire ------------------------------------------------------------------------------


def vehicle_form(catalog, **changes) -> dict[str, str]:
    data = {"vin": factories.make_vin(), "trim": str(catalog.trims[0].id), "showroom": str(catalog.dealers[0].id),
            "colour": "flame-red", "status": "in_stock"}
    return data | changes


def test_staff_add_a_vehicle(db, staff_client, catalog):
    form = vehicle_form(catalog)
    response = staff_client.post("/staff/vehicles/new", data=form)
    vehicle = db.scalar(select(Vehicle).where(Vehicle.vin == form["vin"]))
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/vehicles/{vehicle.id}/edit"
    assert vehicle.colour_code == "flame-red" and audit_actions(db) == ["vehicle.create"]


def test_a_bad_vin_is_shown_next_to_the_field_and_the_input_is_kept(db, staff_client, catalog):
    form = vehicle_form(catalog, vin="LTEST0AB0LS0000I1")
    response = staff_client.post("/staff/vehicles/new", data=form, headers=EN)
    page = text(response)
    assert response.status_code == 422
    assert 'value="LTEST0AB0LS0000I1"' in page and "other than I, O and Q" in page
    assert db.scalar(select(func.count(Vehicle.id))) == len(catalog.vehicles)


def test_staff_cannot_add_a_car_to_someone_elses_showroom(db, staff_client, catalog):
    form = vehicle_form(catalog, showroom=str(catalog.dealers[2].id))
    response = staff_client.post("/staff/vehicles/new", data=form, headers=EN)
    assert response.status_code == 422 and "Not a valid choice" in text(response)
    assert audit_actions(db) == []


def test_staff_cannot_open_or_change_a_car_of_another_showroom(staff_client, catalog):
    beijing_car = catalog.vehicles[3]
    assert staff_client.get(f"/staff/vehicles/{beijing_car.id}/edit").status_code == 403
    assert staff_client.post(f"/staff/vehicles/{beijing_car.id}/status",
                             data={"status": "sold", "version": "1"}).status_code == 403
    assert staff_client.post(f"/staff/vehicles/{beijing_car.id}/retire", data={"version": "1"}).status_code == 403
    assert staff_client.get("/staff/vehicles/999999/edit").status_code == 404


def test_edit_form_shows_the_car_as_it_is_and_carries_the_version(staff_client, catalog):
    car = catalog.vehicles[2]  # the second trim, so a form falling back to the first option would show
    page = text(staff_client.get(f"/staff/vehicles/{car.id}/edit"))
    assert re.search(r'name="version" type="hidden" value="1"', page)
    assert f'<option selected value="{car.trim_id}">' in page
    assert f'<option selected value="{car.dealer_id}">' in page and '<option selected value="pearl-white">' in page


def test_edit_saves_and_is_audited(db, staff_client, catalog):
    car = catalog.vehicles[0]
    form = vehicle_form(catalog, vin=car.vin, trim=str(catalog.trims[1].id), version="1")
    response = staff_client.post(f"/staff/vehicles/{car.id}/edit", data=form)
    assert response.status_code == 302
    db.refresh(car)
    assert (car.trim_id, car.colour_code, car.version) == (catalog.trims[1].id, "flame-red", 2)
    assert audit_actions(db) == ["vehicle.update"]


def test_a_stale_edit_is_refused_with_409_and_nothing_is_overwritten(db, client, setup, staff_user, admin_user):
    car = setup.vehicles[0]
    sign_in(client, admin_user)  # the admin saves first, from a form opened at version 1
    client.post(f"/staff/vehicles/{car.id}/edit", data=vehicle_form(setup, vin=car.vin, colour="flame-red",
                                                                     version="1"))
    sign_in(client, staff_user)  # the staff member's form was also opened at version 1
    response = client.post(f"/staff/vehicles/{car.id}/edit", headers=EN,
                           data=vehicle_form(setup, vin=car.vin, trim=str(setup.trims[1].id), colour="pearl-white",
                                             version="1"))
    page = text(response)
    assert response.status_code == 409
    assert "changed by someone else since you opened it" in page and "Reload the current version" in page
    assert re.search(r'<option selected value="pearl-white">', page)  # the user's input is kept
    db.refresh(car)
    assert (car.version, car.colour_code, car.trim_id) == (2, "flame-red", setup.trims[0].id)
    assert audit_actions(db) == ["vehicle.update"]


def test_status_change_and_retire(db, staff_client, catalog):
    car = catalog.vehicles[0]
    response = staff_client.post(f"/staff/vehicles/{car.id}/status",
                                 data={"status": "demo_fleet", "version": "1", "note": "weekend event"})
    assert response.status_code == 302
    stale = staff_client.post(f"/staff/vehicles/{car.id}/retire", data={"version": "1"}, headers=EN)
    assert stale.status_code == 409 and "changed by someone else" in text(stale)
    assert staff_client.post(f"/staff/vehicles/{car.id}/retire", data={"version": "2"}).status_code == 302
    db.refresh(car)
    assert car.status is VehicleStatus.RETIRED
    assert audit_actions(db) == ["vehicle.status", "vehicle.retire"]


def test_reservation_statuses_are_not_offered(staff_client, catalog):
    response = staff_client.post(f"/staff/vehicles/{catalog.vehicles[0].id}/status",
                                 data={"status": "reserved", "version": "1"})
    assert response.status_code == 422


# --- CSV import and export -------------------------------------------------------------------------------------


def csv_upload(*lines: str, name: str = "arrivals.csv") -> dict[str, object]:
    return {"file": (io.BytesIO(("\n".join(lines) + "\n").encode()), name)}


def test_a_file_with_one_bad_row_imports_nothing_and_says_which_row_and_why(db, staff_client, catalog):
    trim = catalog.trims[0].id
    good = [factories.make_vin() for _ in range(3)]
    upload = csv_upload(
        "vin,trim_id,showroom,colour,status",
        *(f"{vin},{trim},SH-1,pearl-white,in_stock" for vin in good),
        f"{catalog.vehicles[0].vin},{trim},SH-1,pearl-white,in_stock",
    )
    response = staff_client.post("/staff/vehicles/import", headers=EN, content_type="multipart/form-data", data=upload)
    page = text(response)
    assert response.status_code == 422
    assert "1 of 4 rows have errors" in page and "A vehicle with this VIN already exists." in page
    assert re.search(r'<td class="num">5</td><td><code>' + catalog.vehicles[0].vin, page)
    assert 'name="token"' not in page  # no way to import a file with errors
    assert db.scalar(select(func.count(Vehicle.id))) == len(catalog.vehicles) and audit_actions(db) == []


def test_preview_then_import_all_rows(db, staff_client, catalog):
    trim = catalog.trims[2].id
    vins = [factories.make_vin() for _ in range(4)]
    upload = csv_upload("vin,trim_id,showroom,colour", *(f"{v},{trim},SH-1,flame-red" for v in vins))
    preview = staff_client.post("/staff/vehicles/import", headers=EN, content_type="multipart/form-data", data=upload)
    assert preview.status_code == 200 and "All 4 vehicles are ready to import." in text(preview)
    assert db.scalar(select(func.count(Vehicle.id))) == len(catalog.vehicles)  # a dry run saves nothing
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', text(preview)).group(1)
    response = staff_client.post("/staff/vehicles/import/confirm", data={"token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/vehicles"
    assert set(db.scalars(select(Vehicle.vin).where(Vehicle.vin.in_(vins)))) == set(vins)
    [entry] = db.scalars(select(AuditLog).where(AuditLog.action == "vehicle.import")).all()
    assert entry.after["count"] == 4 and entry.note == "arrivals.csv"


def test_import_revalidates_and_stays_all_or_nothing(db, staff_client, catalog):
    """A VIN added by someone else between preview and import: the whole file is refused."""
    trim = catalog.trims[0].id
    vins = [factories.make_vin() for _ in range(3)]
    upload = csv_upload("vin,trim_id,showroom,colour", *(f"{v},{trim},SH-1,pearl-white" for v in vins))
    preview = staff_client.post("/staff/vehicles/import", content_type="multipart/form-data", data=upload)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', text(preview)).group(1)
    factories.make_vehicle(db, trim=catalog.trims[0], dealer=catalog.dealers[0], vin=vins[1])
    db.commit()
    response = staff_client.post("/staff/vehicles/import/confirm", data={"token": token}, headers=EN)
    assert response.status_code == 422 and "1 of 3 rows have errors" in text(response)
    assert db.scalar(select(func.count(Vehicle.id)).where(Vehicle.vin.in_(vins))) == 1


def test_a_tampered_token_imports_nothing(db, staff_client):
    response = staff_client.post("/staff/vehicles/import/confirm", data={"token": "eyJ1IjoxfQ.bogus.sig"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/vehicles/import"
    assert audit_actions(db) == []


def test_files_over_5_mb_are_refused_with_a_message(staff_client):
    # The multipart body is built by hand: the test client would spool it to a temporary file it never closes.
    boundary = "flagship-boundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n\r\n'
    body = head.encode() + b"x" * (5 * 1024 * 1024 + 1) + f"\r\n--{boundary}--\r\n".encode()
    response = staff_client.post("/staff/vehicles/import", headers=EN, data=body,
                                 content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "larger than 5 MB" in text(response) and "<form" in text(response)


@pytest.mark.parametrize(
    ("upload", "message"),
    [({}, "Choose a CSV file."), ({"file": (io.BytesIO(b"x"), "cars.xlsx")}, "Upload a .csv file."),
     ({"file": (io.BytesIO(b"vin,colour\n1,2\n"), "cars.csv")}, "missing: trim_id, showroom")],
)
def test_unusable_uploads_are_explained(staff_client, upload, message):
    response = staff_client.post("/staff/vehicles/import", headers=EN, content_type="multipart/form-data", data=upload)
    assert response.status_code == 422 and message in text(response)


def test_export_streams_the_filtered_list_as_excel_friendly_csv(staff_client, catalog):
    response = staff_client.get(f"/staff/vehicles/export.csv?trim={catalog.trims[0].id}")
    body = response.get_data()
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert body.startswith(b"\xef\xbb\xbfvin,trim_id,showroom,colour,status,brand,model,trim,msrp_cny,updated_at\r\n")
    lines = body.decode("utf-8-sig").splitlines()[1:]
    assert sorted(line.split(",")[0] for line in lines) == [catalog.vehicles[0].vin]  # SH-2's car is not mine
    assert lines[0].split(",")[1:5] == [str(catalog.trims[0].id), "SH-1", "pearl-white", "in_stock"]


def test_an_exported_file_can_be_checked_again(staff_client, catalog):
    exported = staff_client.get("/staff/vehicles/export.csv").get_data()
    preview = staff_client.post("/staff/vehicles/import", headers=EN, content_type="multipart/form-data",
                                data={"file": (io.BytesIO(exported), "export.csv")})
    assert preview.status_code == 422 and "2 of 2 rows have errors" in text(preview)  # every VIN exists already


# --- prices ----------------------------------------------------------------------------------------------------


def test_a_price_change_for_today_shows_on_the_model_page_at_once(db, staff_client, catalog):
    today = services.store_today().isoformat()
    response = staff_client.post(f"/staff/prices/{catalog.trims[0].id}",
                                 data={"price": "149800", "effective_from": today})
    assert response.status_code == 302
    assert "¥149,800" in text(staff_client.get("/models/kadjar", headers=EN))
    assert audit_actions(db) == ["price.schedule", "price.apply"]


def test_a_future_price_applies_lazily_when_staff_read_prices(db, staff_client, catalog, monkeypatch):
    today = services.store_today()
    trim = catalog.trims[1]
    staff_client.post(f"/staff/prices/{trim.id}",
                      data={"price": "188000.50", "effective_from": (today + dt.timedelta(days=2)).isoformat()})
    assert "¥188,000.50" in text(staff_client.get("/staff/prices"))  # listed as scheduled
    assert db.scalar(select(Trim.msrp_cny).where(Trim.id == trim.id)) == Decimal("200000.00")
    monkeypatch.setattr(services, "store_today", lambda: today + dt.timedelta(days=2))
    staff_client.get("/staff/prices")
    assert db.scalar(select(Trim.msrp_cny).where(Trim.id == trim.id)) == Decimal("188000.50")


def test_flask_staff_apply_prices(app, db, setup, admin_user, monkeypatch):
    trim = setup.trims[3]
    today = services.store_today()
    db.add(TrimPrice(trim=trim, price=Decimal("99000"), effective_from=today, created_by=admin_user))
    db.commit()
    result = app.test_cli_runner().invoke(args=["staff", "apply-prices"])
    assert result.exit_code == 0 and "price changes applied: 1" in result.output
    assert db.scalar(select(Trim.msrp_cny).where(Trim.id == trim.id)) == Decimal("99000.00")


@pytest.mark.parametrize(("price", "day"), [("0", 0), ("abc", 0), ("150000", -1), ("", 0)])
def test_bad_prices_are_refused_and_the_input_kept(staff_client, catalog, price, day):
    effective = (services.store_today() + dt.timedelta(days=day)).isoformat()
    response = staff_client.post(f"/staff/prices/{catalog.trims[0].id}",
                                 data={"price": price, "effective_from": effective})
    assert response.status_code == 422 and f'value="{effective}"' in text(response)


def test_price_changes_need_a_fresh_login(db, client, setup, staff_user):
    sign_in(client, staff_user, fresh=False)  # e.g. a session restored from the remember-me cookie
    response = client.post(f"/staff/prices/{setup.trims[0].id}",
                           data={"price": "1", "effective_from": services.store_today().isoformat()})
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/reauth")
    assert db.scalar(select(Trim.msrp_cny).where(Trim.id == setup.trims[0].id)) == Decimal("160000.00")


# --- showrooms and users (admins) ------------------------------------------------------------------------------


def showroom_form(catalog, **changes) -> dict[str, str]:
    data = {"code": "GZ-TH", "name_en": "Tianhe", "name_zh": "天河展厅", "city": str(catalog.cities[1].id),
            "phone": "020-3888 0208", "offers_test_drive": "y", "is_active": "y"}
    for day in services.WEEKDAYS:
        data |= {f"{day}-opens": "09:00", f"{day}-closes": "18:00"}
    return data | {"sun-closed": "y"} | changes


def test_admin_adds_and_edits_a_showroom(db, admin_client, catalog):
    assert admin_client.post("/staff/showrooms/new", data=showroom_form(catalog)).status_code == 302
    dealer = db.scalar(select(Dealer).where(Dealer.code == "GZ-TH"))
    assert dealer.opening_hours["sun"] is None and dealer.opening_hours["mon"] == ["09:00", "18:00"]
    assert not dealer.offers_pickup and dealer.offers_test_drive
    edit = showroom_form(catalog, **{"has_self_service_kiosk": "y", "sat-opens": "10:00"})
    assert admin_client.post(f"/staff/showrooms/{dealer.id}/edit", data=edit).status_code == 302
    db.refresh(dealer)
    assert dealer.has_self_service_kiosk and dealer.opening_hours["sat"] == ["10:00", "18:00"]
    assert audit_actions(db) == ["showroom.create", "showroom.update"]


def test_showroom_edit_form_shows_the_showroom_as_it_is(admin_client, catalog):
    beijing = catalog.dealers[2]
    beijing.opening_hours = {**beijing.opening_hours, "sun": None, "sat": ["10:00", "16:30"]}
    page = text(admin_client.get(f"/staff/showrooms/{beijing.id}/edit"))
    assert f'<option selected value="{catalog.cities[1].id}">' in page and 'value="BJ-1"' in page
    assert re.search(r'id="sun-closed"[^>]*checked|checked[^>]*id="sun-closed"', page)
    assert 'id="sat-opens" name="sat-opens" type="time" value="10:00"' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"code": "SH-1"}, "already uses this code"), ({"mon-opens": "19:00"}, "after opening time"),
     ({"tue-closes": ""}, "or mark the day closed"), ({"code": "bad code!"}, "Letters, digits and dashes")],
)
def test_bad_showroom_input_is_explained_and_kept(admin_client, catalog, changes, message):
    response = admin_client.post("/staff/showrooms/new", data=showroom_form(catalog, **changes), headers=EN)
    assert response.status_code == 422 and message in text(response) and 'value="天河展厅"' in text(response)


def test_admin_changes_a_role_and_showrooms(db, admin_client, catalog, customer):
    response = admin_client.post(f"/staff/users/{customer.id}", data={
        "role": "staff", "showrooms": [str(catalog.dealers[0].id), str(catalog.dealers[2].id)], "is_active": "y"})
    assert response.status_code == 302
    db.refresh(customer)
    assert customer.role is Role.STAFF and {d.code for d in customer.dealers} == {"SH-1", "BJ-1"}
    assert audit_actions(db) == ["user.update"]


def test_the_last_admin_cannot_demote_themselves_through_the_form(db, admin_client, admin_user):
    response = admin_client.post(f"/staff/users/{admin_user.id}", data={"role": "staff", "is_active": "y"}, headers=EN)
    assert response.status_code == 422 and "You are the last admin" in text(response)
    assert db.scalar(select(User.role).where(User.id == admin_user.id)) is Role.ADMIN


def test_role_changes_need_a_fresh_login(db, client, setup, admin_user, customer):
    sign_in(client, admin_user, fresh=False)
    response = client.post(f"/staff/users/{customer.id}", data={"role": "admin", "is_active": "y"})
    assert response.status_code == 302 and "/account/reauth" in response.headers["Location"]
    assert db.scalar(select(User.role).where(User.id == customer.id)) is Role.CUSTOMER


def test_users_list_filters_by_role(admin_client):
    page = text(admin_client.get("/staff/users?role=staff", headers=EN))
    assert "staff@example.com" in page and "shopper@example.com" not in page


# --- audit log -------------------------------------------------------------------------------------------------


def test_audit_page_shows_each_change_type_and_filters(db, client, setup, staff_user, admin_user, customer):
    car = setup.vehicles[0]
    sign_in(client, staff_user)
    client.post(f"/staff/vehicles/{car.id}/status", data={"status": "demo_fleet", "version": "1"}, headers=EN)
    client.post(f"/staff/prices/{setup.trims[0].id}",
                data={"price": "155000", "effective_from": services.store_today().isoformat()}, headers=EN)
    sign_in(client, admin_user)
    client.post(f"/staff/users/{customer.id}", data={"role": "staff", "is_active": "y"}, headers=EN)
    assert audit_actions(db) == ["vehicle.status", "price.schedule", "price.apply", "user.update"]

    everything = text(client.get("/staff/audit", headers=EN))
    assert all(label in everything for label in ("Vehicle status changed", "Guide price applied", "User changed"))
    by_staff = text(client.get(f"/staff/audit?actor={staff_user.id}", headers=EN))
    assert "Vehicle status changed</td>" in by_staff and "User changed</td>" not in by_staff
    vehicles_only = text(client.get("/staff/audit?entity=vehicle", headers=EN))
    assert "Vehicle status changed</td>" in vehicles_only and "Guide price scheduled</td>" not in vehicles_only
    one_action = text(client.get("/staff/audit?action=price.apply", headers=EN))
    assert "<del>160000.00</del>" in one_action and "<ins>155000.00</ins>" in one_action
    today = services.store_today()
    assert "4 entries" in text(client.get(f"/staff/audit?date_from={today}&date_to={today}", headers=EN))
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert "0 entries" in text(client.get(f"/staff/audit?date_from={tomorrow}", headers=EN))
    assert client.get("/staff/audit?date_from=not-a-date&actor=x", headers=EN).status_code == 200


def test_audit_log_is_paginated(db, admin_client, admin_user):
    from storefront.audit import record_audit

    for i in range(30):
        record_audit(db, actor=admin_user, action="vehicle.update", entity_type="vehicle", entity_id=i)
    db.commit()
    first = text(admin_client.get("/staff/audit", headers=EN))
    second = text(admin_client.get("/staff/audit?page=2", headers=EN))
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert second.count("Vehicle changed</td>") == 5


HUGE = "9" * 25  # beyond any integer column on either database


def test_odd_input_is_answered_without_a_server_error(staff_client, catalog):
    for url in (f"/staff/vehicles/{HUGE}/edit", f"/staff/prices/{HUGE}"):
        assert staff_client.get(url).status_code == 404
    for query in (f"showroom={HUGE}", f"trim={HUGE}&brand=-1", "q=%00%ff", f"page={HUGE}", "colour=" + "x" * 500):
        expected = 400 if "%00" in query else 200  # NUL is refused app-wide (storefront.security)
        assert staff_client.get(f"/staff/vehicles?{query}").status_code == expected, query
        assert staff_client.get(f"/staff/vehicles/export.csv?{query}").status_code == expected, query
    assert staff_client.get(f"/staff/audit?actor={HUGE}&date_from=0001-01-01&date_to=9999-12-31").status_code == 200
    upload = csv_upload("vin,trim_id,showroom,colour,status", f"{'L' * 300},{HUGE},{'S' * 300},\x00,{'z' * 99}")
    response = staff_client.post("/staff/vehicles/import", content_type="multipart/form-data", data=upload)
    assert response.status_code == 422 and "Unknown trim id" in text(response)
    form = vehicle_form(catalog, trim=HUGE, showroom=HUGE, vin="\x00" * 17)
    assert staff_client.post("/staff/vehicles/new", data=form).status_code == 400  # NUL refused app-wide
    assert staff_client.post(f"/staff/prices/{catalog.trims[0].id}",
                             data={"price": "1e400", "effective_from": "2026-02-30"}).status_code == 422


def test_audit_and_user_lists_run_the_same_queries_for_few_or_many_rows(db, admin_client, admin_user, catalog,
                                                                        app_queries):
    from storefront.audit import record_audit

    def count(url: str) -> int:
        db.commit()
        with app_queries() as statements:
            assert admin_client.get(url).status_code == 200
        return len(statements)

    record_audit(db, actor=admin_user, action="vehicle.update", entity_type="vehicle", entity_id=0)
    few = count("/staff/audit"), count("/staff/users")
    for i in range(40):
        user = factories.make_user(db, email=f"s{i}@example.com", role=Role.STAFF)
        user.dealers.extend(catalog.dealers)
        record_audit(db, actor=user, action="vehicle.update", entity_type="vehicle", entity_id=i)
        db.flush()
    assert (count("/staff/audit"), count("/staff/users")) == few
