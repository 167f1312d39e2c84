"""Test-drive rules: schedules, booking refusals, capacity, overlaps, moving/cancelling, staff marks, reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

import models
from models import AuditLog, BookingStatus, OutboxMessage, TestDriveBooking, TestDriveSlot
from storefront.errors import ConflictError, DomainError, PermissionDeniedError
from storefront.test_drives import services

pytestmark = pytest.mark.usefixtures("english")


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def _places(db, booking) -> int:
    return db.scalar(select(TestDriveSlot.booked).where(TestDriveSlot.id == booking.slot_id))


def _mails(db, kind: str) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == f"test_drives/{kind}")))


# --- schedules ------------------------------------------------------------------------------------------------------


def test_default_schedule_follows_the_showroom_opening_hours(db, world, store_clock):
    schedule = services.schedule_for(db, dealer=world.sh2)  # nothing stored for SH-2
    assert schedule.id is None and schedule.slot_minutes == 45
    assert schedule.weekly_hours == world.sh2.opening_hours


def test_available_slots_show_capacity_and_places_left(db, world, store_clock, customer, book):
    tuesday = store_clock.day(1)
    slots = services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=tuesday)
    assert len(slots) == 12 and {(s.capacity, s.remaining) for s in slots} == {(2, 2)}
    book(customer, slots[2].starts_at)
    slots = services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=tuesday)
    assert (slots[2].capacity, slots[2].remaining) == (2, 1)


def test_today_only_offers_slots_at_least_an_hour_ahead(db, world, store_clock):
    slots = services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=store_clock.monday)
    assert slots[0].local_start.strftime("%H:%M") == "11:15"  # now is 10:00; 10:30 is less than an hour away


def test_closed_day_exception_and_special_hours(db, world, store_clock, staff_user):
    wednesday = store_clock.day(2)
    services.save_exception(db, dealer=world.sh1, actor=staff_user, day=wednesday, closed=True, note="Holiday")
    with pytest.raises(DomainError) as refused:
        services.check_bookable_day(db, dealer=world.sh1, day=wednesday)
    assert refused.value.code == "closed_day"
    assert services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=wednesday) == []
    services.save_exception(db, dealer=world.sh1, actor=staff_user, day=wednesday, closed=False,
                            opens=dt.time(13, 0), closes=dt.time(15, 0))  # saving again replaces it
    slots = services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=wednesday)
    assert [s.local_start.strftime("%H:%M") for s in slots] == ["13:00", "13:45"]
    assert _count(db, models.TestDriveException) == 1
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "test_drive.exception")) == 2


def test_exception_refusals(db, world, store_clock, staff_user):
    with pytest.raises(DomainError, match="past"):
        services.save_exception(db, dealer=world.sh1, actor=staff_user, day=store_clock.day(-1), closed=True)
    with pytest.raises(DomainError, match="opening before closing"):
        services.save_exception(db, dealer=world.sh1, actor=staff_user, day=store_clock.day(3), closed=False,
                                opens=dt.time(15, 0), closes=dt.time(12, 0))


def test_staff_edit_only_their_showrooms(db, world, store_clock, staff_user):
    assert staff_user.works_at(world.sh1.id) and not staff_user.works_at(world.bj1.id)
    with pytest.raises(PermissionDeniedError):
        services.save_exception(db, dealer=world.bj1, actor=staff_user, day=store_clock.day(3), closed=True)
    with pytest.raises(PermissionDeniedError):
        services.set_demo_cars(db, dealer=world.bj1, actor=staff_user, counts={world.mache.id: 3})


def test_admin_edits_any_showroom(db, world, store_clock, admin_user):
    services.set_demo_cars(db, dealer=world.bj1, actor=admin_user, counts={world.mache.id: 3})
    assert services.demo_cars(db, dealer_id=world.bj1.id, car_model_id=world.mache.id) == 3


def test_weekly_hours_change_is_validated_and_audited(db, world, store_clock, staff_user):
    hours = {**world.sh1.opening_hours, "sun": None, "sat": ["10:00", "16:00"]}
    services.update_schedule(db, dealer=world.sh1, actor=staff_user, weekly_hours=hours, slot_minutes=45)
    sunday = store_clock.day(6)
    with pytest.raises(DomainError, match="closed"):
        services.check_bookable_day(db, dealer=world.sh1, day=sunday)
    with pytest.raises(DomainError, match="HH:MM"):
        services.update_schedule(db, dealer=world.sh1, actor=staff_user, weekly_hours={"mon": ["18:00", "09:00"]},
                                 slot_minutes=45)
    with pytest.raises(DomainError, match="15 and 240"):
        services.update_schedule(db, dealer=world.sh1, actor=staff_user, weekly_hours=hours, slot_minutes=7)
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "test_drive.schedule"))
    assert audit.after["weekly_hours"]["sun"] is None and audit.actor_id == staff_user.id


def test_slot_length_cannot_change_while_drives_are_booked_ahead(db, world, store_clock, staff_user, customer, book):
    book(customer, store_clock.at(store_clock.day(1), 9, 45))
    with pytest.raises(ConflictError, match="slot length"):
        services.update_schedule(db, dealer=world.sh1, actor=staff_user, weekly_hours=world.sh1.opening_hours,
                                 slot_minutes=60)
    # Hours may still change; the drive that no longer fits is listed for staff.
    services.update_schedule(db, dealer=world.sh1, actor=staff_user,
                             weekly_hours={**world.sh1.opening_hours, "tue": ["12:00", "18:00"]}, slot_minutes=45)
    assert [b.starts_at for b in services.bookings_outside_hours(db, dealer=world.sh1)] == [
        store_clock.at(store_clock.day(1), 9, 45)]


def test_fewer_demo_cars_lower_upcoming_slots_but_never_below_what_is_booked(db, world, store_clock, staff_user,
                                                                             make_shopper, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    first = book(make_shopper(), start)
    book(make_shopper(), start)
    services.set_demo_cars(db, dealer=world.sh1, actor=staff_user, counts={world.kadjar.id: 1})
    slot = db.get(TestDriveSlot, first.slot_id, populate_existing=True)
    assert (slot.capacity, slot.booked) == (2, 2)  # both drives keep their place
    other = services.available_slots(db, dealer=world.sh1, car_model=world.kadjar, day=store_clock.day(1))[0]
    assert other.capacity == 1
    services.set_demo_cars(db, dealer=world.sh1, actor=staff_user, counts={world.kadjar.id: 4})
    assert db.get(TestDriveSlot, first.slot_id, populate_existing=True).capacity == 4


# --- booking and its refusals ---------------------------------------------------------------------------------------


def test_booking_takes_a_place_records_the_funnel_and_mails_an_ics(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    assert booking.reference.startswith("T-") and len(booking.reference) == 8
    assert booking.status is BookingStatus.BOOKED and booking.ends_at - booking.starts_at == dt.timedelta(minutes=45)
    assert _places(db, booking) == 1
    event = db.scalar(select(models.Event).where(models.Event.step == models.FunnelStep.TEST_DRIVE))
    assert event.dealer_id == world.sh1.id and event.car_model_id == world.kadjar.id
    assert "Li Lei" not in str(event.props) and "138" not in str(event.props)  # no personal data
    (mail,) = _mails(db, "confirmed")
    assert mail.to_address == customer.email and booking.reference in mail.body_text
    assert mail.attachments[0]["filename"] == f"test-drive-{booking.reference}.ics"
    assert mail.attachments[0]["content_type"] == "text/calendar"


BAD_TIMES = [
    (lambda c: c.at(c.day(-1), 10, 30), "past_date"),
    (lambda c: c.at(c.day(92), 10, 30), "too_far_ahead"),
    (lambda c: c.at(c.day(730), 10, 30), "too_far_ahead"),  # two years ahead
    (lambda c: c.at(c.day(1), 10, 10), "outside_hours"),  # not on the slot grid
    (lambda c: c.at(c.day(1), 18, 0), "outside_hours"),  # closing time
    (lambda c: c.at(c.day(1), 7, 30), "outside_hours"),  # before opening
    (lambda c: c.at(c.monday, 10, 30), "too_soon"),  # in 30 minutes
    (lambda c: c.at(c.monday, 9, 0), "too_soon"),  # already started
]


@pytest.mark.parametrize(("when", "code"), BAD_TIMES)
def test_bad_times_are_refused_and_nothing_is_booked(db, world, store_clock, customer, book, when, code):
    with pytest.raises(DomainError) as refused:
        book(customer, when(store_clock))
    assert refused.value.code == code and refused.value.user_message
    assert _count(db, TestDriveBooking) == 0 and not db.scalar(select(func.sum(TestDriveSlot.booked)))


def test_naive_time_is_refused(db, world, store_clock, customer, book):
    with pytest.raises(DomainError):
        book(customer, dt.datetime(2026, 12, 1, 10, 30))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize("mobile", ["12345", "12800138000", "1380013800", "138001380001", "abcdefghijk", "",
                                    "+1 13800138000", "23800138000"])
def test_malformed_mobile_is_refused(db, world, store_clock, customer, book, mobile):
    with pytest.raises(DomainError) as refused:
        book(customer, store_clock.at(store_clock.day(1), 10, 30), mobile=mobile)
    assert refused.value.field == "mobile"
    assert _count(db, TestDriveBooking) == 0


@pytest.mark.parametrize("mobile", ["13800138000", "138 0013 8000", "138-0013-8000", "+86 139 1234 5678"])
def test_mobile_numbers_are_normalised(db, world, store_clock, customer, book, mobile):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30), mobile=mobile)
    assert len(booking.mobile) == 11 and booking.mobile.isdigit()


def test_driving_licence_must_be_confirmed(db, world, store_clock, customer, book):
    with pytest.raises(DomainError) as refused:
        book(customer, store_clock.at(store_clock.day(1), 10, 30), licence_confirmed=False)
    assert refused.value.field == "licence_confirmed"


def test_model_without_demo_car_at_the_showroom_is_refused(db, world, store_clock, customer, book):
    with pytest.raises(DomainError) as refused:
        book(customer, store_clock.at(store_clock.day(1), 10, 30), car_model=world.mache)
    assert refused.value.code == "not_offered"


def test_a_full_slot_refuses_the_next_shopper_with_409(db, world, store_clock, make_shopper, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    first, second = book(make_shopper(), start), book(make_shopper(), start)
    with pytest.raises(ConflictError) as refused:
        book(make_shopper(), start)
    assert refused.value.status_code == 409 and "filled up" in refused.value.user_message
    assert _places(db, first) == 2 and first.slot_id == second.slot_id
    assert _count(db, TestDriveBooking) == 2


def test_the_counter_row_refuses_overfilling_even_without_the_service(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    slot = db.get(TestDriveSlot, booking.slot_id)
    slot.booked = slot.capacity + 1
    with pytest.raises(Exception, match="(?i)check"):
        db.flush()
    db.rollback()


def test_a_shopper_cannot_hold_two_overlapping_drives(db, world, store_clock, customer, book):
    book(customer, store_clock.at(store_clock.day(1), 10, 30))
    with pytest.raises(ConflictError) as refused:  # same time, another model at another showroom
        book(customer, store_clock.at(store_clock.day(1), 10, 30), dealer=world.sh2, car_model=world.focus)
    assert refused.value.code == "overlap"
    assert _count(db, TestDriveBooking) == 1
    book(customer, store_clock.at(store_clock.day(1), 11, 15), dealer=world.sh2, car_model=world.focus)  # next slot


def test_one_upcoming_drive_per_model_per_day(db, world, store_clock, customer, book):
    book(customer, store_clock.at(store_clock.day(1), 9, 0))
    with pytest.raises(ConflictError) as refused:  # the next slot of the same model that day (issue 11 row 6)
        book(customer, store_clock.at(store_clock.day(1), 9, 45))
    assert refused.value.code == "one_per_model_day" and refused.value.field == "starts_at"
    with pytest.raises(ConflictError):  # another showroom does not make it another drive of that model
        book(customer, store_clock.at(store_clock.day(1), 14, 15), dealer=world.sh2)
    book(customer, store_clock.at(store_clock.day(1), 14, 15), dealer=world.sh2, car_model=world.focus)
    book(customer, store_clock.at(store_clock.day(2), 9, 0))  # the same model the next day
    assert _count(db, TestDriveBooking) == 3


def test_at_most_three_upcoming_drives_per_shopper(db, world, store_clock, customer, book):
    for day in (1, 2, 3):
        book(customer, store_clock.at(store_clock.day(day), 10, 30))
    with pytest.raises(ConflictError) as refused:
        book(customer, store_clock.at(store_clock.day(4), 10, 30))
    assert refused.value.code == "too_many_drives"
    first = db.scalar(select(TestDriveBooking).order_by(TestDriveBooking.starts_at))
    services.cancel_booking(db, booking=first, actor=customer)  # a cancelled drive no longer counts
    book(customer, store_clock.at(store_clock.day(4), 10, 30))
    store_clock.set(store_clock.at(store_clock.day(2), 12, 0))  # nor does one that has started
    book(customer, store_clock.at(store_clock.day(5), 10, 30))


def test_reschedule_keeps_one_drive_of_a_model_a_day(db, world, store_clock, customer, book):
    book(customer, store_clock.at(store_clock.day(1), 10, 30))
    other = book(customer, store_clock.at(store_clock.day(2), 10, 30))
    with pytest.raises(ConflictError) as refused:
        services.reschedule_booking(db, booking=other, actor=customer, starts_at=store_clock.at(store_clock.day(1), 15))
    assert refused.value.code == "one_per_model_day"
    services.reschedule_booking(db, booking=other, actor=customer, starts_at=store_clock.at(store_clock.day(2), 15))
    assert other.starts_at == store_clock.at(store_clock.day(2), 15)  # moving within its own day is fine


def test_reschedule_from_a_page_that_is_out_of_date_is_refused(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    services.reschedule_booking(db, booking=booking, actor=customer, starts_at=store_clock.at(store_clock.day(1), 12))
    with pytest.raises(ConflictError) as refused:  # a second tab still showing the old time (sequence 0)
        services.reschedule_booking(db, booking=booking, actor=customer,
                                    starts_at=store_clock.at(store_clock.day(1), 15), seen_sequence=0)
    assert refused.value.code == "changed"
    assert booking.starts_at == store_clock.at(store_clock.day(1), 12) and _places(db, booking) == 1
    assert len(_mails(db, "rescheduled")) == 1


def test_double_submit_returns_the_same_booking(db, world, store_clock, customer, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    assert book(customer, start).id == book(customer, start).id
    assert _count(db, TestDriveBooking) == 1


def test_find_by_reference(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    code = booking.reference
    for variant in (code, code.lower(), code.replace("-", ""), f" {code[2:]} ", code[:2] + " " + code[2:]):
        assert services.find_by_reference(db, variant) is booking, variant
    assert services.find_by_reference(db, "T-ZZZZZZ") is None
    assert services.find_by_reference(db, "'; drop table--") is None


@pytest.mark.parametrize("typed", ["T-TGWP8Q", "t-tgwp8q", "TGWP8Q", " tgwp8q ", "TTGWP8Q", "T TGWP8Q"])
def test_a_code_that_itself_starts_with_t_is_found(db, world, store_clock, customer, book, typed):
    """A bare code may start with T (the alphabet has it): only a seventh character makes a leading T the
    prefix. Before, "TGWP8Q" typed without its prefix lost its T and was not found."""
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    booking.reference = "T-TGWP8Q"
    db.flush()
    assert services.find_by_reference(db, typed) is booking


# --- reschedule and cancel ------------------------------------------------------------------------------------------


def test_reschedule_moves_the_place_and_bumps_the_calendar_sequence(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    old_slot = booking.slot_id
    new_time = store_clock.at(store_clock.day(2), 15, 0)
    services.reschedule_booking(db, booking=booking, actor=customer, starts_at=new_time)
    assert booking.starts_at == store_clock.at(store_clock.day(2), 15, 0) and booking.sequence == 1
    assert db.scalar(select(TestDriveSlot.booked).where(TestDriveSlot.id == old_slot)) == 0
    assert _places(db, booking) == 1
    (mail,) = _mails(db, "rescheduled")
    ics = Calendar.from_ical(mail.attachments[0]["content"])
    event = ics.walk("VEVENT")[0]
    assert str(ics["METHOD"]) == "REQUEST" and event["SEQUENCE"] == 1


def test_reschedule_into_a_full_slot_is_refused_and_keeps_the_old_place(db, world, store_clock, make_shopper, book):
    shopper = make_shopper()
    booking = book(shopper, store_clock.at(store_clock.day(1), 10, 30))
    full = store_clock.at(store_clock.day(1), 12, 0)
    book(make_shopper(), full), book(make_shopper(), full)
    with pytest.raises(ConflictError):
        services.reschedule_booking(db, booking=booking, actor=shopper, starts_at=full)
    db.expire_all()
    assert booking.starts_at == store_clock.at(store_clock.day(1), 10, 30) and _places(db, booking) == 1


@pytest.mark.parametrize(("minutes_before", "allowed"), [(24 * 60, True), (121, True), (120, False), (30, False)])
def test_change_cut_off_is_two_hours_before_the_start(db, world, store_clock, customer, book, minutes_before,
                                                      allowed):
    start = store_clock.at(store_clock.day(1), 13, 30)
    booking = book(customer, start)
    store_clock.set(start - dt.timedelta(minutes=minutes_before))
    new_time = store_clock.at(store_clock.day(2), 10, 30)
    if allowed:
        services.reschedule_booking(db, booking=booking, actor=customer, starts_at=new_time)
        services.cancel_booking(db, booking=booking, actor=customer)
        assert booking.status is BookingStatus.CANCELLED
    else:
        for change in (lambda: services.reschedule_booking(db, booking=booking, actor=customer, starts_at=new_time),
                       lambda: services.cancel_booking(db, booking=booking, actor=customer)):
            with pytest.raises(ConflictError) as refused:
                change()
            assert refused.value.code == "past_cutoff"
        assert booking.status is BookingStatus.BOOKED


def test_cancel_frees_the_place_and_mails_a_cancel_ics(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    services.cancel_booking(db, booking=booking, actor=customer, reason="plans changed")
    assert booking.status is BookingStatus.CANCELLED and _places(db, booking) == 0
    (mail,) = _mails(db, "cancelled")
    ics = Calendar.from_ical(mail.attachments[0]["content"])
    assert str(ics["METHOD"]) == "CANCEL" and str(ics.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    with pytest.raises(ConflictError):
        services.cancel_booking(db, booking=booking, actor=customer)


def test_only_the_owner_changes_a_booking(db, world, store_clock, customer, make_shopper, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    with pytest.raises(PermissionDeniedError):
        services.cancel_booking(db, booking=booking, actor=make_shopper())


def test_staff_cancel_after_the_cut_off_is_audited(db, world, store_clock, customer, staff_user, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    booking = book(customer, start)
    store_clock.set(start - dt.timedelta(minutes=30))
    services.cancel_booking(db, booking=booking, actor=staff_user, reason="car in service")
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "test_drive.cancel"))
    assert audit.entity_id == booking.reference and audit.before["status"] == "booked" and audit.note


# --- staff marks ----------------------------------------------------------------------------------------------------


def test_check_in_then_complete_are_audited(db, world, store_clock, customer, staff_user, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    services.mark_booking(db, booking=booking, actor=staff_user, action="check_in")
    services.mark_booking(db, booking=booking, actor=staff_user, action="complete")
    assert booking.status is BookingStatus.COMPLETED and booking.checked_in_at and booking.completed_at
    actions = list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == booking.reference)
                              .order_by(AuditLog.id)))
    assert actions == ["test_drive.check_in", "test_drive.complete"]


def test_no_show_only_once_the_drive_has_started(db, world, store_clock, customer, staff_user, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    booking = book(customer, start)
    with pytest.raises(ConflictError):
        services.mark_booking(db, booking=booking, actor=staff_user, action="no_show")
    store_clock.set(start + dt.timedelta(minutes=10))
    services.mark_booking(db, booking=booking, actor=staff_user, action="no_show")
    assert booking.status is BookingStatus.NO_SHOW
    with pytest.raises(ConflictError):  # no going back to checked in
        services.mark_booking(db, booking=booking, actor=staff_user, action="check_in")


def test_marks_need_staff_of_that_showroom(db, world, store_clock, customer, staff_user, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30), dealer=world.sh2, car_model=world.focus)
    with pytest.raises(PermissionDeniedError):  # staff_user works at SH-1 only
        services.mark_booking(db, booking=booking, actor=staff_user, action="check_in")
    with pytest.raises(PermissionDeniedError):
        services.mark_booking(db, booking=booking, actor=customer, action="check_in")


# --- reminders ------------------------------------------------------------------------------------------------------


def test_reminders_go_out_once_the_day_before(db, world, store_clock, make_shopper, book):
    tomorrow_early = book(make_shopper(), store_clock.at(store_clock.day(1), 9, 0))
    tomorrow_late = book(make_shopper(), store_clock.at(store_clock.day(1), 17, 15))
    later = book(make_shopper(), store_clock.at(store_clock.day(2), 9, 0))
    cancelled = book(make_shopper(), store_clock.at(store_clock.day(1), 12, 0))
    services.cancel_booking(db, booking=cancelled, actor=cancelled.user)
    assert services.send_reminders(db) == 2
    assert {m.to_address for m in _mails(db, "reminder")} == {tomorrow_early.user.email, tomorrow_late.user.email}
    assert services.send_reminders(db) == 0  # a second run the same day sends nothing
    store_clock.set(store_clock.at(store_clock.day(1), 8, 0))  # next morning: Wednesday's drive is now due
    assert services.send_reminders(db) == 1
    assert later.reminder_sent_at is not None and len(_mails(db, "reminder")) == 3


def test_reminder_day_is_the_shanghai_day(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(2), 9, 0))  # Wednesday 09:00 = Wednesday 01:00 UTC
    store_clock.set(store_clock.at(store_clock.day(1), 7, 30))  # Tuesday 07:30 Shanghai = Monday 23:30 UTC
    assert services.send_reminders(db) == 1 and booking.reminder_sent_at is not None


def test_a_moved_drive_is_reminded_again(db, world, store_clock, customer, book):
    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    assert services.send_reminders(db) == 1
    new_time = store_clock.at(store_clock.day(1), 15, 0)
    services.reschedule_booking(db, booking=booking, actor=customer, starts_at=new_time)
    assert booking.reminder_sent_at is None
    assert services.send_reminders(db) == 1


# --- the database itself refuses what the services refuse (PostgreSQL exclusion constraints) ------------------------


@pytest.mark.postgres
def test_postgres_refuses_overlapping_rows_written_around_the_services(db, world, store_clock, customer, book,
                                                                       is_postgres):
    if not is_postgres:
        pytest.skip("exclusion constraints exist on PostgreSQL only")
    from sqlalchemy.exc import IntegrityError

    booking = book(customer, store_clock.at(store_clock.day(1), 10, 30))
    clash = TestDriveBooking(
        reference="T-CLASH2", user_id=customer.id, dealer_id=world.sh2.id, car_model_id=world.focus.id,
        slot_id=booking.slot_id, starts_at=booking.starts_at + dt.timedelta(minutes=20),
        ends_at=booking.ends_at + dt.timedelta(minutes=20), contact_name="x", mobile="13800138000")
    with pytest.raises(IntegrityError, match="ex_test_drive_bookings_user_overlap"), db.begin_nested():
        db.add(clash)
        db.flush()
    car = world.kiosk_cars[0]
    drivers = [models.User(email=f"kiosk{i}@example.com", password_hash="x", role=models.Role.CUSTOMER)
               for i in range(2)]
    db.add_all(drivers)
    db.flush()
    first, second = (
        TestDriveBooking(reference=f"T-CAR{i}22", kind=models.TestDriveKind.SELF_SERVICE, user_id=driver.id,
                         dealer_id=world.sh1.id, car_model_id=world.kadjar.id, vehicle_id=car.id, days=3,
                         starts_at=store_clock.at(store_clock.day(3 + i), 10),
                         ends_at=store_clock.at(store_clock.day(6 + i), 10), contact_name="x", mobile="13800138000")
        for i, driver in enumerate(drivers)
    )
    db.add(first)
    db.flush()
    with pytest.raises(IntegrityError, match="ex_test_drive_bookings_vehicle_overlap"), db.begin_nested():
        db.add(second)
        db.flush()


# --- SQLite: one writer at a time, and a writer whose reads are out of date is refused with a 409 -------------------


def test_sqlite_a_change_made_from_an_out_of_date_read_is_a_conflict_not_a_crash(tmp_path, store_clock):
    """Two requests cancel one drive on a SQLite file: the one that read before the other committed gets a 409
    (SQLite refuses its write), never a 500, and the place goes back once."""
    from sqlalchemy.orm import Session

    from storefront.extensions import db as flask_db
    from tests import factories
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'drives.db'}")
    with app.app_context():
        models.Base.metadata.create_all(flask_db.engine)
        engine = flask_db.engine
    with app.test_request_context("/"):
        with Session(engine) as setup:
            catalog = factories.small_catalog(setup)
            setup.add(models.TestDriveFleet(dealer=catalog.dealers[0], car_model=catalog.car_models[0], demo_cars=2))
            shopper = factories.make_user(setup, email="sqlite-racer@example.com")
            booking = services.book_showroom_drive(
                setup, shopper=shopper, dealer=catalog.dealers[0], car_model=catalog.car_models[0],
                starts_at=store_clock.at(store_clock.day(1), 10, 30), contact_name="Li", mobile="13800138000",
                licence_confirmed=True)
            setup.commit()
            booking_id, shopper_id = booking.id, shopper.id
        with Session(engine) as slow, Session(engine) as quick:
            stale = slow.get(TestDriveBooking, booking_id)  # this request has read the booking...
            assert stale is not None and stale.status is BookingStatus.BOOKED
            services.cancel_booking(quick, booking=quick.get(TestDriveBooking, booking_id),
                                    actor=quick.get(models.User, shopper_id))
            quick.commit()  # ...and another one cancelled it meanwhile
            with pytest.raises(ConflictError) as refused:
                services.cancel_booking(slow, booking=stale, actor=slow.get(models.User, shopper_id))
            assert refused.value.code == "busy"
            slow.rollback()
        with Session(engine) as check:
            assert check.scalar(select(TestDriveSlot.booked)) == 0
            assert check.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.kind == "test_drives/cancelled")) == 1
    engine.dispose()
