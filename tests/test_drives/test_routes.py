"""Test-drive pages: the booking steps with and without htmx, the form's refusals, my bookings, the .ics file,
moving and cancelling, self-service through the demo payment page, and the staff calendar."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from models import AuditLog, BookingStatus, TestDriveBooking, TestDriveException, TestDriveFleet
from storefront.test_drives import services
from tests.conftest import login

EN = {"Accept-Language": "en"}


@pytest.fixture
def login_as(client, db):
    """Sign in after committing what the test set up: a refused request rolls back only its own work."""

    def _login(user):
        db.commit()
        login(client, user)
        return client

    return _login


def _book_url(world, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/test-drives/book/{world.kadjar.id}" + (f"?{query}" if query else "")


def _form(world, store_clock, **overrides) -> dict[str, str]:
    data = {"dealer_id": str(world.sh1.id), "starts_at": store_clock.at(store_clock.day(1), 10, 30).isoformat(),
            "contact_name": "Li Lei", "mobile": "13800138000", "licence_confirmed": "y"}
    data.update(overrides)
    return data


def _bookings(db) -> int:
    return db.scalar(select(func.count(TestDriveBooking.id)))


# --- shopper pages --------------------------------------------------------------------------------------------------


def test_landing_page_lists_models_and_sends_the_choice_to_the_booking_page(client, world):
    page = client.get("/test-drives/", headers=EN).get_data(as_text=True)
    assert "Kadjar" in page and "Shanghai" in page
    response = client.get(f"/test-drives/?model_id={world.kadjar.id}&city=shanghai")
    assert response.status_code == 302 and response.headers["Location"].endswith("city=shanghai")


def test_booking_steps_work_without_javascript(client, world, store_clock):
    page = client.get(_book_url(world, city="shanghai"), headers=EN).get_data(as_text=True)
    assert "Shanghai One" in page and "Shanghai Two" in page and "Free times" not in page
    tuesday = store_clock.day(1).isoformat()
    page = client.get(_book_url(world, city="shanghai", dealer=world.sh1.id, date=tuesday),
                      headers=EN).get_data(as_text=True)
    assert "2 of 2 places left" in page and 'name="starts_at"' in page
    assert "Sign in to book" in page  # anonymous: the slots, but no form


def test_htmx_gets_fragments(client, world, store_clock):
    args = {"city": "shanghai", "dealer": world.sh1.id, "date": store_clock.day(1).isoformat()}
    steps = client.get(_book_url(world, **args), headers={"HX-Request": "true", **EN}).get_data(as_text=True)
    assert "<html" not in steps and 'class="td-steps"' in steps
    slots = client.get(_book_url(world, partial="slots", **args), headers={"HX-Request": "true", **EN})
    body = slots.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith("<fieldset") and 'hx-trigger="every 30s"' in body
    restore = client.get(_book_url(world, **args), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


@pytest.mark.parametrize("query", ["date=not-a-date", "date=2099-13-45", "dealer=abc", "city=atlantis",
                                   "slot=%3Cscript%3E", "date=1999-01-01", "dealer=999999&date=2026-01-01",
                                   "partial=slots"])
def test_bad_query_parameters_never_fail(client, world, store_clock, query):
    response = client.get(_book_url(world) + "?city=shanghai&" + query, headers=EN)
    assert response.status_code == 200


def test_far_future_and_past_days_explain_themselves(client, world, store_clock):
    far = client.get(_book_url(world, city="shanghai", dealer=world.sh1.id, date=store_clock.day(730).isoformat()),
                     headers=EN).get_data(as_text=True)
    assert "up to 90 days ahead" in far
    past = client.get(_book_url(world, city="shanghai", dealer=world.sh1.id, date=store_clock.day(-3).isoformat()),
                      headers=EN).get_data(as_text=True)
    assert "in the past" in past


def test_booking_needs_a_signed_in_shopper(client, world, store_clock):
    response = client.post(_book_url(world), data=_form(world, store_clock))
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_book_confirm_and_see_it_in_my_bookings(client, db, world, store_clock, customer, login_as):
    login_as(customer)
    response = client.post(_book_url(world), data=_form(world, store_clock), headers=EN)
    assert response.status_code == 302
    booking = db.scalar(select(TestDriveBooking))
    assert response.headers["Location"].endswith(f"/test-drives/bookings/{booking.reference}")
    page = client.get(response.headers["Location"], headers=EN).get_data(as_text=True)
    assert booking.reference in page and "Shanghai One" in page and "138****8000" in page
    assert "Move to another time" in page and "Cancel booking" in page
    assert booking.reference in client.get("/test-drives/mine", headers=EN).get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "status", "message"),
    [
        ({"mobile": "12345"}, 422, "11-digit mainland China mobile"),
        ({"mobile": "23800138000"}, 422, "11-digit mainland China mobile"),
        ({"licence_confirmed": ""}, 422, "valid driving licence"),
        ({"contact_name": ""}, 422, "This field is required"),
        ({"starts_at": "tomorrow at ten"}, 422, "Choose a time from the list"),
        ({"starts_at": "2026-12-01T10:30:00"}, 422, "Choose a time from the list"),  # no offset
        ({"dealer_id": "nope"}, 422, "Choose a showroom"),
    ],
)
def test_form_refusals_book_nothing(client, db, world, store_clock, customer, login_as, overrides, status, message):
    login_as(customer)
    response = client.post(_book_url(world), data=_form(world, store_clock, **overrides), headers=EN)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert _bookings(db) == 0


@pytest.mark.parametrize(("day", "hour", "minute", "message"), [
    (-1, 10, 30, "in the past"), (730, 10, 30, "up to 90 days ahead"), (1, 10, 10, "not one of the showroom"),
    (1, 20, 0, "not one of the showroom"),
])
def test_bad_times_posted_are_refused_with_a_message(client, db, world, store_clock, customer, login_as, day, hour,
                                                     minute, message):
    login_as(customer)
    starts_at = store_clock.at(store_clock.day(day), hour, minute).isoformat()
    response = client.post(_book_url(world), data=_form(world, store_clock, starts_at=starts_at), headers=EN)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _bookings(db) == 0


def test_closed_day_is_refused(client, db, world, store_clock, customer, staff_user, login_as):
    services.save_exception(db, dealer=world.sh1, actor=staff_user, day=store_clock.day(1), closed=True)
    login_as(customer)
    response = client.post(_book_url(world), data=_form(world, store_clock), headers=EN)
    assert response.status_code == 422 and "closed on that day" in response.get_data(as_text=True)


def test_a_slot_that_just_filled_up_answers_409(client, db, world, store_clock, make_shopper, login_as, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    book(make_shopper(), start), book(make_shopper(), start)
    login_as(make_shopper())
    response = client.post(_book_url(world), data=_form(world, store_clock), headers=EN)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "just filled up" in page and "Full" in page  # the fresh slot list shows it
    assert _bookings(db) == 2


def test_someone_elses_booking_is_not_found(client, world, store_clock, customer, make_shopper, login_as, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    login_as(make_shopper())
    base = f"/test-drives/bookings/{booking.reference}"
    for path in (base, f"{base}/calendar.ics", f"{base}/reschedule", "/test-drives/bookings/T-NOPE22"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/test-drives/bookings/{booking.reference}/cancel").status_code == 404


def test_calendar_file_download(client, world, store_clock, customer, login_as, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    login_as(customer)
    response = client.get(f"/test-drives/bookings/{booking.reference}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert f'filename="test-drive-{booking.reference}.ics"' in response.headers["Content-Disposition"]
    calendar = Calendar.from_ical(response.data)
    event = calendar.walk("VEVENT")[0]
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == f"{booking.reference}@test-drives.flagship.example"
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event.decoded("DTSTART").isoformat() == store_clock.at(store_clock.day(1), 10, 30).isoformat()
    assert b"DTSTART;TZID=Asia/Shanghai:" in response.data


def test_reschedule_and_cancel_pages(client, db, world, store_clock, customer, login_as, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    login_as(customer)
    page = client.get(f"/test-drives/bookings/{booking.reference}/reschedule?date={store_clock.day(2).isoformat()}",
                      headers=EN).get_data(as_text=True)
    assert "Move your test drive" in page and "2 of 2 places left" in page
    new_time = store_clock.at(store_clock.day(2), 15, 0)
    response = client.post(f"/test-drives/bookings/{booking.reference}/reschedule",
                           data={"starts_at": new_time.isoformat()})
    assert response.status_code == 302
    db.refresh(booking)
    assert booking.starts_at == new_time and booking.sequence == 1
    assert client.get(f"/test-drives/bookings/{booking.reference}/cancel").status_code == 405  # POST only
    assert client.post(f"/test-drives/bookings/{booking.reference}/cancel").status_code == 302
    db.refresh(booking)
    assert booking.status is BookingStatus.CANCELLED


def test_a_move_or_cancel_sent_again_from_an_old_page_answers_409(client, db, world, store_clock, customer, login_as,
                                                                   book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    login_as(customer)
    page = client.get(f"/test-drives/bookings/{booking.reference}/reschedule?date={store_clock.day(2).isoformat()}",
                      headers=EN).get_data(as_text=True)
    assert 'name="sequence" value="0"' in page
    url = f"/test-drives/bookings/{booking.reference}/reschedule"
    first = client.post(url, data={"starts_at": store_clock.at(store_clock.day(2), 15).isoformat(), "sequence": "0"})
    assert first.status_code == 302
    again = client.post(url, headers=EN, data={"starts_at": store_clock.at(store_clock.day(2), 12).isoformat(),
                                              "sequence": "0"})  # the same page, another slot: a second tab
    assert again.status_code == 409 and "has just been changed" in again.get_data(as_text=True)
    assert client.post(f"/test-drives/bookings/{booking.reference}/cancel").status_code == 302
    twice = client.post(f"/test-drives/bookings/{booking.reference}/cancel", headers=EN)
    assert twice.status_code == 409 and "can no longer be changed" in twice.get_data(as_text=True)
    db.refresh(booking)
    assert booking.status is BookingStatus.CANCELLED and booking.starts_at == store_clock.at(store_clock.day(2), 15)
    assert db.scalar(select(func.count()).select_from(AuditLog)) == 0  # the shopper's own changes: no audit rows


def test_past_the_cut_off_the_pages_say_so(client, db, world, store_clock, customer, login_as, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    booking = book(customer, start)
    store_clock.set(store_clock.at(store_clock.day(1), 9, 0))
    login_as(customer)
    detail = client.get(f"/test-drives/bookings/{booking.reference}", headers=EN).get_data(as_text=True)
    assert "too late to change" in detail and "Cancel booking" not in detail
    response = client.post(f"/test-drives/bookings/{booking.reference}/cancel", headers=EN)
    assert response.status_code == 409 and "2 hours before" in response.get_data(as_text=True)
    response = client.post(f"/test-drives/bookings/{booking.reference}/reschedule", headers=EN,
                           data={"starts_at": store_clock.at(store_clock.day(2), 15, 0).isoformat()})
    assert response.status_code == 409
    db.refresh(booking)
    assert booking.status is BookingStatus.BOOKED and booking.starts_at == start


def test_chinese_is_the_default_language(client, world, store_clock):
    page = client.get(_book_url(world, city="shanghai")).get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "预约试驾" in page


# --- self-service through the demo payment page ---------------------------------------------------------------------


def test_self_service_pays_through_the_demo_page_and_shows_the_pickup_code(client, db, world, store_clock, customer,
                                                                          login_as):
    page = client.get(f"/test-drives/self-service/{world.kadjar.id}?dealer={world.sh1.id}&days=3"
                      f"&date={store_clock.day(1).isoformat()}", headers=EN).get_data(as_text=True)
    assert "2 cars free" in page
    login_as(customer)
    response = client.post(f"/test-drives/self-service/{world.kadjar.id}", data={
        "dealer_id": str(world.sh1.id), "days": "3", "starts_at": store_clock.at(store_clock.day(1), 10).isoformat(),
        "contact_name": "Han Meimei", "mobile": "13912345678", "licence_confirmed": "y"})
    assert response.status_code == 302 and "/payments/demo/" in response.headers["Location"]
    booking = db.scalar(select(TestDriveBooking))
    assert booking.status is BookingStatus.PENDING_PAYMENT
    paid = client.post(response.headers["Location"], data={"action": "pay"})
    assert paid.status_code == 302 and paid.headers["Location"].endswith(booking.reference)
    page = client.get(f"/test-drives/bookings/{booking.reference}", headers=EN).get_data(as_text=True)
    db.refresh(booking)
    assert booking.status is BookingStatus.BOOKED and booking.pickup_code in page and "¥3,000" in page


def test_self_service_second_drive_is_refused_on_the_form(client, db, world, store_clock, customer, login_as):
    login_as(customer)
    data = {"dealer_id": str(world.sh1.id), "days": "1", "contact_name": "Han", "mobile": "13912345678",
            "starts_at": store_clock.at(store_clock.day(1), 10).isoformat(), "licence_confirmed": "y"}
    assert client.post(f"/test-drives/self-service/{world.kadjar.id}", data=data).status_code == 302
    data["starts_at"] = store_clock.at(store_clock.day(5), 10).isoformat()
    response = client.post(f"/test-drives/self-service/{world.kadjar.id}", data=data, headers=EN)
    assert response.status_code == 409 and "One at a time" in response.get_data(as_text=True)


# --- staff calendar -------------------------------------------------------------------------------------------------


def test_staff_day_view_shows_bookings_and_checks_in(client, db, world, store_clock, customer, staff_user, login_as,
                                                     book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    login_as(staff_user)
    day = store_clock.day(1).isoformat()
    page = client.get(f"/staff/test-drives/{world.sh1.id}/day?date={day}", headers=EN).get_data(as_text=True)
    assert booking.reference in page and "Li Lei" in page and "13800138000" in page and "Kadjar 1/2" in page
    response = client.post(f"/staff/test-drives/bookings/{booking.reference}/mark",
                           data={"action": "check_in", "back": f"/staff/test-drives/{world.sh1.id}/day?date={day}"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"date={day}")
    db.refresh(booking)
    assert booking.status is BookingStatus.CHECKED_IN
    assert db.scalar(select(AuditLog).where(AuditLog.action == "test_drive.check_in")).actor_id == staff_user.id
    response = client.post(f"/staff/test-drives/bookings/{booking.reference}/mark", data={"action": "check_in"},
                           headers=EN)
    assert response.status_code == 409  # already checked in
    response = client.post(f"/staff/test-drives/bookings/{booking.reference}/mark", data={"action": "explode"})
    assert response.status_code == 400
    assert client.post(f"/staff/test-drives/bookings/{booking.reference}/mark",
                       data={"action": "complete", "back": "https://evil.example/"}).headers["Location"].startswith("/")


def test_staff_only_see_their_showrooms(client, world, store_clock, customer, staff_user, login_as, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30), dealer=world.sh2, car_model=world.focus)
    login_as(staff_user)  # works at SH-1 only
    assert client.get(f"/staff/test-drives/{world.sh2.id}/day").status_code == 403
    assert client.get(f"/staff/test-drives/{world.sh2.id}/export.csv").status_code == 403
    assert client.post(f"/staff/test-drives/bookings/{booking.reference}/mark",
                       data={"action": "check_in"}).status_code == 403
    assert client.get("/staff/test-drives/999999/day").status_code == 404
    assert client.get("/staff/test-drives/").status_code == 302  # one showroom: straight to its day


def test_staff_pages_refuse_customers_and_anonymous(client, world, customer, login_as):
    assert client.get(f"/staff/test-drives/{world.sh1.id}/day").status_code == 302
    login_as(customer)
    base = f"/staff/test-drives/{world.sh1.id}"
    for path in ("/staff/test-drives/", f"{base}/day", f"{base}/week", f"{base}/schedule", f"{base}/export.csv"):
        assert client.get(path).status_code == 403, path


def test_week_view_counts_drives_per_slot(client, world, store_clock, make_shopper, staff_user, login_as, book):
    for _ in range(2):
        book(make_shopper(), store_clock.at(store_clock.day(1), 10, 30))
    book(make_shopper(), store_clock.at(store_clock.day(3), 9, 0))
    login_as(staff_user)
    page = client.get(f"/staff/test-drives/{world.sh1.id}/week?start={store_clock.day(2).isoformat()}",
                      headers=EN).get_data(as_text=True)
    assert page.count('class="has-bookings"') == 2
    assert re.search(r">2</a></td>", page) and "Total" in page


def test_csv_export_escapes_formulas(client, db, world, store_clock, customer, staff_user, login_as, book):
    book(customer, store_clock.at(store_clock.day(1), 10, 30), contact_name="=HYPERLINK(\"x\")")
    login_as(staff_user)
    response = client.get(f"/staff/test-drives/{world.sh1.id}/export.csv?from={store_clock.day(0).isoformat()}"
                          f"&to={store_clock.day(6).isoformat()}", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["编号", "类型", "状态"] and rows[1][1] == "到店试驾" and len(rows) == 2
    assert rows[1][8] == "'=HYPERLINK(\"x\")" and rows[1][4].endswith("+08:00")
    bad = client.get(f"/staff/test-drives/{world.sh1.id}/export.csv?from=2026-12-10&to=2026-12-01")
    assert bad.status_code == 400


def test_staff_edit_hours_demo_cars_and_closed_days(client, db, world, store_clock, staff_user, login_as):
    login_as(staff_user)
    page = client.get(f"/staff/test-drives/{world.sh1.id}/schedule", headers=EN).get_data(as_text=True)
    assert "Weekly hours" in page and 'value="09:00"' in page
    data = {"slot_minutes": "60", **{f"{d}_opens": "10:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
            **{f"{d}_closes": "19:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")}}
    assert client.post(f"/staff/test-drives/{world.sh1.id}/schedule", data=data).status_code == 302
    schedule = services.schedule_for(db, dealer=world.sh1)
    assert schedule.slot_minutes == 60 and schedule.weekly_hours["sun"] is None
    bad = client.post(f"/staff/test-drives/{world.sh1.id}/schedule", data={**data, "mon_closes": "08:00"}, headers=EN)
    assert bad.status_code == 422 and "open before it closes" in bad.get_data(as_text=True)
    assert client.post(f"/staff/test-drives/{world.sh1.id}/demo-cars",
                       data={f"model_{world.focus.id}": "3"}).status_code == 302
    assert db.scalar(select(TestDriveFleet.demo_cars).where(TestDriveFleet.dealer_id == world.sh1.id,
                                                            TestDriveFleet.car_model_id == world.focus.id)) == 3
    client.post(f"/staff/test-drives/{world.sh1.id}/demo-cars", data={f"model_{world.focus.id}": "lots"})
    response = client.post(f"/staff/test-drives/{world.sh1.id}/exceptions",
                           data={"day": store_clock.day(3).isoformat(), "closed": "y", "note": "Stock take"})
    assert response.status_code == 302
    exception = db.scalar(select(TestDriveException))
    assert exception.closed and exception.note == "Stock take"
    bad = client.post(f"/staff/test-drives/{world.sh1.id}/exceptions", headers=EN,
                      data={"day": store_clock.day(4).isoformat(), "opens": "15:00", "closes": "11:00"})
    assert bad.status_code == 422
    assert client.post(f"/staff/test-drives/{world.sh1.id}/exceptions/{exception.id}/delete").status_code == 302
    assert db.scalar(select(TestDriveException)) is None


def test_staff_hand_over_and_return_a_self_service_car(client, db, app, world, store_clock, customer, staff_user,
                                                       login_as):
    from storefront.payments import services as payments
    from storefront.test_drives import self_service

    with app.test_request_context("/"):
        booking, payment = self_service.start_self_service(
            db, shopper=customer, dealer=world.sh1, car_model=world.kadjar,
            starts_at=store_clock.at(store_clock.day(0), 12), days=1, contact_name="Han", mobile="13912345678",
            licence_confirmed=True, return_url=lambda ref: "/")
        payments.settle_demo_payment(db, payment=payment, pay=True)
    store_clock.set(store_clock.at(store_clock.day(0), 12, 5))
    login_as(staff_user)
    page = client.get(f"/staff/test-drives/{world.sh1.id}/day", headers=EN).get_data(as_text=True)
    assert "Self-service drives" in page and "Hand over car" in page
    client.post(f"/staff/test-drives/bookings/{booking.reference}/pick-up", data={"pickup_code": "999999"
                if booking.pickup_code != "999999" else "000000"})
    db.refresh(booking)
    assert booking.status is BookingStatus.BOOKED
    client.post(f"/staff/test-drives/bookings/{booking.reference}/pick-up", data={"pickup_code": booking.pickup_code})
    db.refresh(booking)
    assert booking.status is BookingStatus.CHECKED_IN
    again = client.post(f"/staff/test-drives/bookings/{booking.reference}/pick-up",
                        data={"pickup_code": booking.pickup_code})  # a colleague hands it over too
    assert again.status_code == 409
    back = f"/staff/test-drives/bookings/{booking.reference}/return"
    assert client.post(back, data={"note": "fine"}).status_code == 302
    assert client.post(back, data={"note": "again"}).status_code == 409  # checked in twice: refunded once
    db.refresh(booking)
    assert booking.status is BookingStatus.COMPLETED and booking.deposit_released_at is not None
    assert [a.action for a in db.scalars(select(AuditLog).where(AuditLog.entity_id == booking.reference)
                                         .order_by(AuditLog.id))] == ["test_drive.pick_up", "test_drive.return"]


# --- constant query counts ------------------------------------------------------------------------------------------


def test_calendar_pages_use_a_constant_number_of_queries(client, db, world, store_clock, make_shopper, staff_user,
                                                         login_as, book, count_queries):
    login_as(staff_user)
    day = store_clock.day(1).isoformat()
    pages = (f"/staff/test-drives/{world.sh1.id}/day?date={day}", f"/staff/test-drives/{world.sh1.id}/week?start={day}",
             f"/staff/test-drives/{world.sh1.id}/export.csv?from={day}&to={day}",
             _book_url(world, city="shanghai", dealer=world.sh1.id, date=day))
    book(make_shopper(), store_clock.at(store_clock.day(1), 9, 0))
    counts = []
    for path in pages:
        db.commit()  # a fresh identity map, as every real request has
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        counts.append(counter.count)
    for hour, minute in ((9, 45), (10, 30), (11, 15), (12, 0), (12, 45), (13, 30), (14, 15), (15, 0)):
        for _ in range(2):
            book(make_shopper(), store_clock.at(store_clock.day(1), hour, minute))
    for path, before in zip(pages, counts, strict=True):
        db.commit()
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        assert counter.count == before, path
    print("\nqueries per page (1 booking / 17 bookings):", dict(zip(pages, counts, strict=True)))


# --- CLI ------------------------------------------------------------------------------------------------------------


def test_remind_command_sends_once(app, db, world, store_clock, customer, book):
    book(customer, store_clock.at(store_clock.day(1), 10, 30))
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["test-drives", "remind"])
    assert first.exit_code == 0 and "queued 1 reminder(s)" in first.output
    again = runner.invoke(args=["test-drives", "remind"])
    assert "queued 0 reminder(s)" in again.output


def test_expire_command_releases_unpaid_kiosk_holds(app, db, world, store_clock, customer):
    from storefront.test_drives import self_service

    with app.test_request_context("/"):
        booking, _payment = self_service.start_self_service(
            db, shopper=customer, dealer=world.sh1, car_model=world.kadjar,
            starts_at=store_clock.at(store_clock.day(1), 10), days=1, contact_name="Han", mobile="13912345678",
            licence_confirmed=True, return_url=lambda ref: "/")
    db.commit()
    store_clock.set(store_clock.current + dt.timedelta(hours=1))
    result = app.test_cli_runner().invoke(args=["test-drives", "expire"])
    assert result.exit_code == 0 and "expired 1" in result.output
    db.refresh(booking)
    assert booking.status is BookingStatus.EXPIRED


@pytest.mark.parametrize("path", [
    "/staff/test-drives/{sh1}/day?date=9999-12-31", "/staff/test-drives/{sh1}/day?date=0001-01-01",
    "/staff/test-drives/{sh1}/week?start=9999-12-31", "/staff/test-drives/{sh1}/week?start=0001-01-01",
    "/staff/test-drives/{sh1}/export.csv?from=0001-01-01&to=9999-12-31", "/staff/test-drives/{sh1}/day?date=%00",
    "/staff/test-drives/99999999999999999999/day", "/test-drives/book/99999999999999999999",
    "/test-drives/?model_id=99999999999999999999", "/api/v1/dealers/99999999999999999999/test-drive-slots",
    "/test-drives/bookings/{junk}",
])
def test_odd_input_is_answered_without_a_server_error(client, world, staff_user, login_as, path):
    login_as(staff_user)
    response = client.get(path.format(sh1=world.sh1.id, junk="x" * 300))
    assert response.status_code in (200, 302, 400, 404), response.status_code


def test_posting_an_absurd_showroom_id_is_refused_not_a_crash(client, db, world, store_clock, customer, login_as):
    login_as(customer)
    response = client.post(_book_url(world), data=_form(world, store_clock, dealer_id="9" * 30), headers=EN)
    assert response.status_code == 422 and _bookings(db) == 0


def test_every_state_change_needs_a_csrf_token(db, database_url, world, store_clock, customer, staff_user, book):
    from storefront.extensions import db as flask_db
    from tests.conftest import make_app

    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    db.commit()
    guarded = make_app(database_url, WTF_CSRF_ENABLED=True)
    with guarded.app_context():
        flask_db.sessionmaker.configure(bind=db.connection(), join_transaction_mode="create_savepoint")
    browser = guarded.test_client()
    login(browser, customer)
    ref, sh1 = booking.reference, world.sh1.id
    for path in (_book_url(world), f"/test-drives/bookings/{ref}/cancel", f"/test-drives/bookings/{ref}/reschedule",
                 f"/test-drives/self-service/{world.kadjar.id}"):
        assert browser.post(path, data=_form(world, store_clock)).status_code == 400, path
    login(browser, staff_user)
    for path in (f"/staff/test-drives/bookings/{ref}/mark", f"/staff/test-drives/bookings/{ref}/cancel",
                 f"/staff/test-drives/{sh1}/schedule", f"/staff/test-drives/{sh1}/demo-cars",
                 f"/staff/test-drives/{sh1}/exceptions"):
        assert browser.post(path, data={"action": "check_in"}).status_code == 400, path
    db.refresh(booking)
    assert booking.status is BookingStatus.BOOKED
    with guarded.app_context():
        flask_db.engine.dispose()
