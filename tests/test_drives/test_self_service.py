"""Self-service drives: car hold, deposit through the payments area (demo provider), pick-up, return and refund."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from models import AuditLog, BookingStatus, OutboxMessage, PaymentStatus, TestDriveBooking, TestDriveKind
from storefront.errors import ConflictError, DomainError, PermissionDeniedError
from storefront.payments import services as payments
from storefront.test_drives import self_service, services

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def request_ctx(app, db):
    with app.test_request_context("/"):
        yield


@pytest.fixture
def start(db, world, store_clock, request_ctx):
    def _start(shopper, *, day=1, hour=10, days=1, **overrides):
        values = {"dealer": world.sh1, "car_model": world.kadjar, "contact_name": "Han Meimei",
                  "mobile": "13912345678", "licence_confirmed": True,
                  "return_url": lambda reference: f"http://localhost/test-drives/bookings/{reference}"}
        values.update(overrides)
        return self_service.start_self_service(
            db, shopper=shopper, starts_at=store_clock.at(store_clock.day(day), hour), days=days, **values)

    return _start


def _pay(db, payment):
    return payments.settle_demo_payment(db, payment=payment, pay=True)


def test_start_holds_a_car_and_opens_a_deposit_payment(db, world, store_clock, customer, start):
    booking, payment = start(customer, days=3)
    assert booking.kind is TestDriveKind.SELF_SERVICE and booking.status is BookingStatus.PENDING_PAYMENT
    assert booking.vehicle_id == world.kiosk_cars[0].id and booking.days == 3
    assert booking.ends_at - booking.starts_at == dt.timedelta(days=3)
    assert payment.amount == Decimal("3000.00") and payment.status is PaymentStatus.PENDING
    assert payment.subject_id == booking.id and booking.payment_id == payment.id
    assert payment.success_url.endswith(booking.reference)
    assert booking.hold_expires_at == store_clock.current + dt.timedelta(minutes=self_service.HOLD_MINUTES)


def test_paid_deposit_confirms_with_a_pickup_code_and_an_ics(db, world, store_clock, customer, start):
    booking, payment = start(customer)
    _pay(db, payment)
    assert booking.status is BookingStatus.BOOKED and len(booking.pickup_code) == 6
    mail = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "test_drives/confirmed"))
    assert booking.pickup_code in mail.body_text and mail.attachments[0]["filename"].endswith(".ics")


def test_declined_payment_releases_the_car(db, world, store_clock, customer, make_shopper, start):
    booking, payment = start(customer)
    payments.settle_demo_payment(db, payment=payment, pay=False)
    assert booking.status is BookingStatus.EXPIRED
    other, _ = start(make_shopper())
    assert other.vehicle_id == world.kiosk_cars[0].id  # the same car is free again


def test_one_active_self_service_drive_per_shopper(db, world, store_clock, customer, start):
    _, payment = start(customer, day=1)
    _pay(db, payment)
    with pytest.raises(ConflictError) as refused:
        start(customer, day=10)
    assert refused.value.code == "one_self_service"


def test_a_demo_car_is_never_out_twice(db, world, store_clock, make_shopper, start):
    first, _ = start(make_shopper(), day=1, days=3)
    second, _ = start(make_shopper(), day=2, days=1)  # overlaps the first: gets the other car
    assert {first.vehicle_id, second.vehicle_id} == {c.id for c in world.kiosk_cars}
    with pytest.raises(ConflictError) as refused:
        start(make_shopper(), day=2, hour=12, days=1)  # Wednesday noon: both cars are out
    assert refused.value.code == "no_car_free"
    back_to_back, _ = start(make_shopper(), day=3, days=1)  # Thursday 10:00, when the 1-day drive comes back
    assert back_to_back.vehicle_id == second.vehicle_id
    later, _ = start(make_shopper(), day=4, days=1)  # Friday 10:00: the 3-day drive is back
    assert later.vehicle_id == first.vehicle_id


def test_pickup_options_count_free_cars(db, world, store_clock, make_shopper, start):
    start(make_shopper(), day=1, hour=12, days=1)
    options = self_service.pickup_options(db, dealer=world.sh1, car_model=world.kadjar, day=store_clock.day(1),
                                          days=1)
    by_hour = {o.local_start.hour: o.cars_free for o in options}
    assert by_hour[9] == 1 and by_hour[12] == 1 and by_hour[11] == 1 and by_hour[17] == 2 - 1
    assert max(by_hour) == 17 and min(by_hour) == 9  # return at the same time must be within hours


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"days": 2}, "invalid_days"),
        ({"day": -1}, "past_date"),
        ({"day": 120}, "too_far_ahead"),
        ({"hour": 18}, "outside_hours"),
        ({"hour": 7}, "outside_hours"),
        ({"mobile": "1380013800"}, "invalid_mobile"),
        ({"licence_confirmed": False}, "licence_required"),
    ],
)
def test_bad_self_service_requests_book_nothing(db, world, store_clock, customer, start, overrides, code):
    with pytest.raises(DomainError) as refused:
        start(customer, **overrides)
    assert refused.value.code == code
    assert db.scalar(select(TestDriveBooking)) is None


def test_showroom_without_kiosk_refuses(db, world, store_clock, customer, start):
    with pytest.raises(DomainError) as refused:
        start(customer, dealer=world.sh2)
    assert refused.value.code == "not_offered"


def test_return_day_must_be_open(db, world, store_clock, customer, staff_user, start):
    services.save_exception(db, dealer=world.sh1, actor=staff_user, day=store_clock.day(4), closed=True)
    with pytest.raises(DomainError) as refused:
        start(customer, day=1, days=3)  # due back on the closed Friday
    assert refused.value.code == "return_closed"


def test_unpaid_hold_expires_and_a_late_payment_is_refunded(db, world, store_clock, customer, make_shopper, start):
    booking, payment = start(customer)
    store_clock.set(store_clock.current + dt.timedelta(minutes=45))
    assert self_service.expire_unpaid(db) == 1
    assert booking.status is BookingStatus.EXPIRED and payment.status is PaymentStatus.EXPIRED
    payments.apply_payment_result(db, payment=payment, outcome="paid", provider_payment_id="demo_pi_late")
    assert payment.status is PaymentStatus.REFUNDED and booking.deposit_released_at is not None
    assert booking.status is BookingStatus.EXPIRED


def test_pick_up_with_the_code_then_return_refunds_the_deposit(db, world, store_clock, customer, staff_user, start):
    booking, payment = start(customer, day=1, days=1)
    _pay(db, payment)
    with pytest.raises(ConflictError):  # the pick-up day has not come
        self_service.hand_over(db, booking=booking, actor=staff_user, pickup_code=booking.pickup_code)
    store_clock.set(store_clock.at(store_clock.day(1), 10, 5))
    with pytest.raises(DomainError, match="code"):
        self_service.hand_over(db, booking=booking, actor=staff_user, pickup_code="000000"
                               if booking.pickup_code != "000000" else "111111")
    self_service.hand_over(db, booking=booking, actor=staff_user, pickup_code=booking.pickup_code)
    assert booking.status is BookingStatus.CHECKED_IN
    store_clock.set(store_clock.at(store_clock.day(2), 9, 40))
    self_service.check_in_return(db, booking=booking, actor=staff_user, note="no scratches")
    assert booking.status is BookingStatus.COMPLETED and booking.deposit_released_at is not None
    assert payment.status is PaymentStatus.REFUNDED and payment.refunded_amount == Decimal("3000.00")
    actions = list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == booking.reference)
                              .order_by(AuditLog.id)))
    assert actions == ["test_drive.pick_up", "test_drive.return"]
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "test_drives/returned")) is not None


def test_return_needs_a_picked_up_car_and_staff_of_the_showroom(db, world, store_clock, customer, staff_user,
                                                                 admin_user, start):
    booking, payment = start(customer)
    _pay(db, payment)
    with pytest.raises(ConflictError):
        self_service.check_in_return(db, booking=booking, actor=staff_user)
    with pytest.raises(PermissionDeniedError):
        self_service.hand_over(db, booking=booking, actor=customer, pickup_code=booking.pickup_code)
    assert payment.status is PaymentStatus.PAID


def test_cancel_before_the_cut_off_refunds_the_deposit(db, world, store_clock, customer, start):
    booking, payment = start(customer, day=1)
    _pay(db, payment)
    services.cancel_booking(db, booking=booking, actor=customer)
    assert booking.status is BookingStatus.CANCELLED and payment.status is PaymentStatus.REFUNDED
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "test_drives/cancelled")) is not None


def test_cancel_while_unpaid_drops_the_payment(db, world, store_clock, customer, start):
    booking, payment = start(customer, day=1)
    services.cancel_booking(db, booking=booking, actor=customer)
    assert booking.status is BookingStatus.CANCELLED and payment.status is PaymentStatus.EXPIRED
    assert payments.settle_demo_payment(db, payment=payment, pay=True) is None  # too late to pay now


def test_self_service_cannot_overlap_the_shoppers_showroom_drive(db, world, store_clock, customer, book, start):
    book(customer, store_clock.at(store_clock.day(2), 10, 30), dealer=world.sh2)
    with pytest.raises(ConflictError) as refused:
        start(customer, day=1, days=3)
    assert refused.value.code == "overlap"
