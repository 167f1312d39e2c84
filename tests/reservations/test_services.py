"""Reservation rules: holding, paying, expiring, cancelling with refunds, handing over; and the state machine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import models
from models import (
    AuditLog,
    DepositKind,
    Event,
    FunnelStep,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Reservation,
    ReservationError,
    ReservationStatus,
    VehicleStatus,
)
from storefront.clock import now
from storefront.errors import ConflictError, DomainError, NotFoundError, PermissionDeniedError
from storefront.payments import services as payments
from storefront.payments.services import PaymentOutcome
from storefront.reservations import services
from storefront.reservations.seed import seed_deposit_policies
from tests import factories
from tests.reservations.conftest import new_key, reserve

pytestmark = pytest.mark.usefixtures("english_messages")


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model)) or 0


def mails(db, kind: str) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == f"reservations/{kind}")))


def pay(db, reservation: Reservation, outcome=PaymentOutcome.PAID) -> Payment:  # type: ignore[no-untyped-def]
    payment = services.payment_of(db, reservation)
    assert payment is not None
    payments.apply_payment_result(db, payment=payment, outcome=outcome, provider_payment_id="pi_demo")
    db.refresh(reservation)
    return payment


# --- holding ------------------------------------------------------------------------------------------------


def test_reserving_holds_the_car_and_opens_the_deposit_payment(app, db, catalog, policies, shopper):
    vehicle = catalog.vehicles[0]
    before = now()
    reservation = reserve(app, db, shopper, vehicle_id=vehicle.id)

    assert reservation.status is ReservationStatus.PENDING_PAYMENT
    assert reservation.reference.startswith("R-") and len(reservation.reference) == 8
    assert vehicle.status is VehicleStatus.ON_HOLD
    assert reservation.deposit_amount == Decimal("5000.00") and reservation.deposit_kind is DepositKind.REFUNDABLE
    assert reservation.vehicle_price == Decimal("160000.00")
    held = reservation.hold_expires_at - before
    assert dt.timedelta(minutes=30) <= held < dt.timedelta(minutes=30, seconds=5)
    payment = services.payment_of(db, reservation)
    assert payment is not None and payment.amount == Decimal("5000.00") and payment.status is PaymentStatus.PENDING
    assert payment.expires_at == reservation.hold_expires_at
    assert payment.idempotency_key == f"reservation-{reservation.reference}-deposit"
    [event] = db.scalars(select(Event).where(Event.step == FunnelStep.RESERVE)).all()
    assert event.car_model_id == vehicle.trim.car_model_id and event.props == {"deposit_cny": "5000.00"}
    [mail] = mails(db, "started")
    assert mail.to_address == "buyer@example.com" and reservation.reference in mail.body_text


def test_the_same_form_twice_makes_one_reservation(app, db, catalog, policies, shopper, other_shopper):
    key = new_key()
    first = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id, idempotency_key=key)
    again = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id, idempotency_key=key)
    assert again.id == first.id
    assert count(db, Reservation) == 1 and count(db, Payment) == 1
    with pytest.raises(ConflictError):
        reserve(app, db, other_shopper, vehicle_id=catalog.vehicles[1].id, idempotency_key=key)


@pytest.mark.parametrize("status", [VehicleStatus.ON_HOLD, VehicleStatus.RESERVED, VehicleStatus.SOLD,
                                    VehicleStatus.DEMO_FLEET, VehicleStatus.RETIRED])
def test_a_car_that_is_not_in_stock_cannot_be_reserved(app, db, catalog, policies, shopper, status):
    vehicle = catalog.vehicles[0]
    vehicle.status = status
    db.flush()
    with pytest.raises(ConflictError):
        reserve(app, db, shopper, vehicle_id=vehicle.id)
    assert count(db, Reservation) == 0 and count(db, Payment) == 0
    db.refresh(vehicle)
    assert vehicle.status is status


def test_two_shoppers_cannot_hold_the_same_car(app, db, catalog, policies, shopper, other_shopper):
    reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    with pytest.raises(ConflictError, match="Someone else has just reserved this car"):
        reserve(app, db, other_shopper, vehicle_id=catalog.vehicles[0].id)
    assert count(db, Reservation) == 1


def test_the_database_refuses_a_second_live_reservation_of_one_car(app, db, catalog, policies, shopper):
    first = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    clone = Reservation(
        user_id=shopper.id, vehicle_id=first.vehicle_id, dealer_id=first.dealer_id, car_model_id=first.car_model_id,
        idempotency_key=new_key(), deposit_amount=Decimal("1"), deposit_kind=DepositKind.REFUNDABLE,
        price_credit=Decimal("1"), vehicle_price=Decimal("1"), hold_expires_at=now(),
    )
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(clone)
        db.flush()


def test_unknown_car_model_without_policy_and_bad_keys(app, db, catalog, policies, shopper):
    with pytest.raises(NotFoundError):
        reserve(app, db, shopper, vehicle_id=999_999)
    focus_car = factories.make_vehicle(db, trim=catalog.trims[3], dealer=catalog.dealers[0])
    with pytest.raises(DomainError, match="not open for this model"):
        reserve(app, db, shopper, vehicle_id=focus_car.id)
    policies["kadjar"].is_active = False
    with pytest.raises(DomainError, match="not open for this model"):
        reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    with pytest.raises(DomainError, match="expired"):
        reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id, idempotency_key="short")
    assert count(db, Reservation) == 0 and focus_car.status is VehicleStatus.IN_STOCK


def test_any_unit_of_a_trim_and_colour_at_a_showroom(app, db, catalog, policies, shopper, other_shopper):
    trim, dealer = catalog.trims[0], catalog.dealers[0]
    colour = trim.colours[0]["code"]
    spare = factories.make_vehicle(db, trim=trim, dealer=dealer)
    target = {"trim_id": trim.id, "colour_code": colour, "dealer_id": dealer.id}
    first = reserve(app, db, shopper, **target)
    second = reserve(app, db, other_shopper, **target)
    assert {first.vehicle_id, second.vehicle_id} == {catalog.vehicles[0].id, spare.id}
    third = factories.make_user(db, email="third@example.com")
    with pytest.raises(ConflictError, match="No unit of this trim and colour"):
        reserve(app, db, third, **target)
    with pytest.raises(NotFoundError):
        reserve(app, db, third, trim_id=trim.id, colour_code="no-such-colour", dealer_id=dealer.id)


def test_a_shopper_holds_at_most_three_cars(app, db, catalog, policies, shopper):
    trim, dealer = catalog.trims[0], catalog.dealers[0]
    for _ in range(3):
        reserve(app, db, shopper, vehicle_id=factories.make_vehicle(db, trim=trim, dealer=dealer).id)
    with pytest.raises(DomainError, match="already hold 3 cars"):
        reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)


def test_hold_is_never_shorter_than_stripe_allows(app, db, catalog, policies, shopper, fake_stripe):
    before = now()
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    assert reservation.hold_expires_at - before >= dt.timedelta(minutes=31)
    from tests.payments.stripe_fake import form

    sent = form(fake_stripe.requests("/v1/checkout/sessions")[0])
    assert sent["expires_at"] == [str(int(reservation.hold_expires_at.timestamp()))]
    assert sent["metadata[reference]"] == [reservation.reference]
    assert sent["line_items[0][price_data][unit_amount]"] == ["500000"]
    assert fake_stripe.requests("/v1/checkout/sessions")[0].headers["Idempotency-Key"] == \
        f"reservation-{reservation.reference}-deposit"


def test_stripe_failing_releases_the_car(app, db, catalog, policies, shopper, fake_stripe, httpserver):
    httpserver.clear_all_handlers()
    httpserver.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"error": {"type": "api_error", "message": "no"}}, status=400)
    db.commit()
    with pytest.raises(DomainError):
        reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    db.rollback()  # what the route's error handler does
    assert count(db, Reservation) == 0
    assert db.get(models.Vehicle, catalog.vehicles[0].id).status is VehicleStatus.IN_STOCK


# --- paying -------------------------------------------------------------------------------------------------


def test_paid_deposit_confirms_and_reserves_the_car(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay(db, reservation)
    assert reservation.status is ReservationStatus.CONFIRMED and reservation.confirmed_at is not None
    assert reservation.vehicle.status is VehicleStatus.RESERVED
    assert count(db, Event) == 2  # reserve + pay
    assert len(mails(db, "confirmed")) == 1
    pay(db, reservation)  # the same result again: nothing more happens
    assert len(mails(db, "confirmed")) == 1


def test_an_expired_payment_ends_the_hold(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay(db, reservation, PaymentOutcome.EXPIRED)
    assert reservation.status is ReservationStatus.EXPIRED
    assert reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert len(mails(db, "expired")) == 1


def test_a_declined_payment_keeps_the_hold_and_the_shopper_pays_again(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    declined = pay(db, reservation, PaymentOutcome.FAILED)
    assert declined.status is PaymentStatus.FAILED
    assert reservation.status is ReservationStatus.PENDING_PAYMENT
    assert reservation.vehicle.status is VehicleStatus.ON_HOLD and not mails(db, "expired")
    assert services.can_pay_again(reservation, declined, at=now())

    with app.test_request_context():
        retry = services.pay_again(db, reservation=reservation, user=shopper)
        assert services.pay_again(db, reservation=reservation, user=shopper) is retry  # a double click: one payment
    assert retry.id != declined.id and retry.status is PaymentStatus.PENDING
    assert retry.expires_at == reservation.hold_expires_at and retry.amount == reservation.deposit_amount
    pay(db, reservation)
    assert reservation.status is ReservationStatus.CONFIRMED


def test_no_paying_again_once_the_hold_has_passed_or_for_someone_else(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay(db, reservation, PaymentOutcome.FAILED)
    stranger = factories.make_user(db, email="stranger@example.com")
    with app.test_request_context():
        with pytest.raises(PermissionDeniedError):
            services.pay_again(db, reservation=reservation, user=stranger)
        services.release_expired_holds(db, at=reservation.hold_expires_at)
        db.refresh(reservation)
        assert reservation.status is ReservationStatus.EXPIRED
        with pytest.raises(ConflictError):
            services.pay_again(db, reservation=reservation, user=shopper)


def test_late_payment_keeps_the_car_if_it_is_still_free(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    services.release_expired_holds(db, at=reservation.hold_expires_at)
    assert reservation.status is ReservationStatus.EXPIRED
    payment = pay(db, reservation)
    assert reservation.status is ReservationStatus.CONFIRMED and reservation.vehicle.status is VehicleStatus.RESERVED
    assert payment.status is PaymentStatus.PAID


def test_late_payment_is_refunded_when_the_car_has_gone(app, db, catalog, policies, shopper, other_shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    services.release_expired_holds(db, at=reservation.hold_expires_at)
    reserve(app, db, other_shopper, vehicle_id=catalog.vehicles[0].id)
    payment = pay(db, reservation)
    assert reservation.status is ReservationStatus.EXPIRED
    assert payment.status is PaymentStatus.REFUNDED and payment.refunded_amount == Decimal("5000.00")
    assert len(mails(db, "late_payment")) == 1


def test_payment_for_a_car_taken_off_sale_meanwhile_is_refunded(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    reservation.vehicle.status = VehicleStatus.RETIRED  # e.g. staff retired it during the hold
    db.flush()
    payment = pay(db, reservation)
    assert reservation.status is ReservationStatus.EXPIRED and payment.status is PaymentStatus.REFUNDED
    assert reservation.vehicle.status is VehicleStatus.RETIRED


def test_payment_for_a_cancelled_hold_is_refunded(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    payment = services.payment_of(db, reservation)
    services.cancel(db, reservation=reservation, by=shopper, reason="")
    payments.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID)
    assert payment.status is PaymentStatus.REFUNDED and reservation.status is ReservationStatus.CANCELLED


def test_refund_in_the_stripe_dashboard_ends_a_confirmed_reservation(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    payment = pay(db, reservation)
    payments.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.REFUNDED,
                                  refunded_total=Decimal("5000.00"))
    assert reservation.status is ReservationStatus.REFUNDED
    assert reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert db.scalar(select(AuditLog).where(AuditLog.action == "reservation.refunded_at_provider")) is not None


# --- hold expiry (frozen clock) -----------------------------------------------------------------------------


def test_holds_expire_exactly_when_their_time_is_up(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    end = reservation.hold_expires_at
    assert services.release_expired_holds(db, at=end - dt.timedelta(seconds=1)) == 0
    assert reservation.status is ReservationStatus.PENDING_PAYMENT
    assert services.release_expired_holds(db, at=end) == 1
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.EXPIRED and reservation.expired_at == end
    assert reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert services.payment_of(db, reservation).status is PaymentStatus.EXPIRED
    assert services.release_expired_holds(db, at=end + dt.timedelta(hours=1)) == 0


def test_expiry_never_touches_a_paid_reservation(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay(db, reservation)
    assert services.release_expired_holds(db, at=reservation.hold_expires_at + dt.timedelta(days=1)) == 0
    assert reservation.status is ReservationStatus.CONFIRMED


def test_a_passed_hold_does_not_block_the_next_shopper(app, db, catalog, policies, shopper, other_shopper, travel):
    first = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    travel(minutes=31)
    second = reserve(app, db, other_shopper, vehicle_id=catalog.vehicles[0].id)
    db.refresh(first)
    assert first.status is ReservationStatus.EXPIRED and second.status is ReservationStatus.PENDING_PAYMENT


# --- cancelling ---------------------------------------------------------------------------------------------


def test_shopper_cancels_while_on_hold(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    refund = services.cancel(db, reservation=reservation, by=shopper, reason="changed my mind")
    assert refund == 0 and reservation.status is ReservationStatus.CANCELLED
    assert reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert services.payment_of(db, reservation).status is PaymentStatus.EXPIRED
    assert count(db, AuditLog) == 0  # shoppers' own actions are not staff changes
    with pytest.raises(ConflictError):
        services.cancel(db, reservation=reservation, by=shopper, reason="")


def test_refundable_deposit_comes_back_in_full(app, db, catalog, policies, shopper):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    payment = pay(db, reservation)
    assert services.cancel(db, reservation=reservation, by=shopper, reason="") == Decimal("5000.00")
    assert reservation.status is ReservationStatus.REFUNDED and reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert payment.status is PaymentStatus.REFUNDED
    [mail] = mails(db, "cancelled")
    assert "¥5,000 " in mail.body_text


def test_binding_deposit_is_kept_when_the_shopper_cancels(app, db, catalog, policies, shopper):
    mache_car = catalog.vehicles[3]
    reservation = reserve(app, db, shopper, vehicle_id=mache_car.id)
    payment = pay(db, reservation)
    assert services.cancel(db, reservation=reservation, by=shopper, reason="") == 0
    assert reservation.status is ReservationStatus.CANCELLED and payment.status is PaymentStatus.PAID
    assert mache_car.status is VehicleStatus.IN_STOCK


def test_store_cancelling_always_refunds_and_needs_a_reason(app, db, catalog, policies, shopper, admin_user):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[3].id)  # binding deposit
    payment = pay(db, reservation)
    with pytest.raises(DomainError, match="reason"):
        services.cancel(db, reservation=reservation, by=admin_user, reason="  ")
    refund = services.cancel(db, reservation=reservation, by=admin_user, reason="Car damaged in transport")
    assert refund == Decimal("2000.00") and payment.status is PaymentStatus.REFUNDED
    assert reservation.status is ReservationStatus.REFUNDED
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "reservation.cancel"))
    assert audit.actor_id == admin_user.id and audit.note == "Car damaged in transport"
    assert audit.before["status"] == "confirmed" and audit.after["refund"] == "2000.00"


def test_others_cannot_cancel(app, db, catalog, policies, shopper, other_shopper, staff_user):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[3].id)  # at Beijing One
    with pytest.raises(PermissionDeniedError):
        services.cancel(db, reservation=reservation, by=other_shopper, reason="")
    with pytest.raises(PermissionDeniedError):
        services.cancel(db, reservation=reservation, by=staff_user, reason="not my showroom")  # staff of SH-1
    assert reservation.status is ReservationStatus.PENDING_PAYMENT


def test_stripe_refund_on_cancel(app, db, catalog, policies, shopper, fake_stripe):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay(db, reservation)
    services.cancel(db, reservation=reservation, by=shopper, reason="")
    [request] = fake_stripe.requests("/v1/refunds")
    from tests.payments.stripe_fake import form

    assert form(request)["amount"] == ["500000"] and form(request)["payment_intent"] == ["pi_demo"]


def test_cancelling_a_pending_stripe_hold_closes_the_checkout(app, db, catalog, policies, shopper, fake_stripe):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    services.cancel(db, reservation=reservation, by=shopper, reason="")
    session_id = services.payment_of(db, reservation).provider_session_id
    assert len(fake_stripe.requests(f"/v1/checkout/sessions/{session_id}/expire")) == 1


# --- handing over -------------------------------------------------------------------------------------------


def test_staff_hand_the_car_over(app, db, catalog, policies, shopper, staff_user):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)  # at Shanghai One, staff's showroom
    with pytest.raises(ConflictError):
        services.complete(db, reservation=reservation, by=staff_user)  # not paid yet
    pay(db, reservation)
    with pytest.raises(PermissionDeniedError):
        services.complete(db, reservation=reservation, by=shopper)
    services.complete(db, reservation=reservation, by=staff_user)
    assert reservation.status is ReservationStatus.COMPLETED and reservation.vehicle.status is VehicleStatus.SOLD
    assert reservation.completed_by_id == staff_user.id
    assert db.scalar(select(AuditLog).where(AuditLog.action == "reservation.complete")).actor_id == staff_user.id
    assert db.scalar(select(Event).where(Event.step == FunnelStep.PICKUP)) is not None
    assert len(mails(db, "completed")) == 1


def test_staff_of_another_showroom_cannot_hand_over(app, db, catalog, policies, shopper, staff_user):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[1].id)  # Shanghai Two
    pay(db, reservation)
    with pytest.raises(PermissionDeniedError):
        services.complete(db, reservation=reservation, by=staff_user)


# --- model: state machine and terms -------------------------------------------------------------------------


def _reservation(status: ReservationStatus, vehicle_status: VehicleStatus) -> Reservation:
    vehicle = models.Vehicle(vin="X", trim_id=1, dealer_id=1, colour_code="c", status=vehicle_status)
    return Reservation(status=status, vehicle=vehicle, deposit_amount=Decimal("5000"),
                       deposit_kind=DepositKind.REFUNDABLE, refund_window_days=0, price_credit=Decimal("5000"),
                       hold_expires_at=now())


@pytest.mark.parametrize(
    ("status", "move"),
    [(ReservationStatus.CONFIRMED, "confirm"), (ReservationStatus.COMPLETED, "confirm"),
     (ReservationStatus.PENDING_PAYMENT, "complete"), (ReservationStatus.CANCELLED, "complete"),
     (ReservationStatus.CONFIRMED, "expire"), (ReservationStatus.COMPLETED, "cancel"),
     (ReservationStatus.EXPIRED, "cancel"), (ReservationStatus.REFUNDED, "cancel"),
     (ReservationStatus.PENDING_PAYMENT, "mark_refunded"), (ReservationStatus.COMPLETED, "mark_refunded"),
     (ReservationStatus.CONFIRMED, "confirm_late")],
)
def test_illegal_moves_are_refused(status, move):
    reservation = _reservation(status, VehicleStatus.ON_HOLD)
    user = models.User(id=1, email="x", password_hash="x")
    kwargs = {"confirm": {"at": now()}, "complete": {"by": user, "at": now()}, "expire": {"at": now()},
              "cancel": {"by": user, "reason": "", "at": now()}, "mark_refunded": {"at": now()},
              "confirm_late": {"at": now()}}[move]
    with pytest.raises(ReservationError):
        getattr(reservation, move)(**kwargs)
    assert reservation.status is status


def test_confirm_needs_the_car_on_hold():
    with pytest.raises(ReservationError, match="not on hold"):
        _reservation(ReservationStatus.PENDING_PAYMENT, VehicleStatus.SOLD).confirm(at=now())


@pytest.mark.parametrize(
    ("kind", "window", "days_after_paying", "refunded"),
    [(DepositKind.REFUNDABLE, 0, 100, True), (DepositKind.REFUNDABLE, 7, 6.9, True),
     (DepositKind.REFUNDABLE, 7, 7.1, False), (DepositKind.BINDING, 0, 0.01, False),
     (DepositKind.BINDING, 1, 0.5, True), (DepositKind.BINDING, 1, 1.5, False)],
)
def test_refund_due_follows_the_terms(kind, window, days_after_paying, refunded):
    paid = now()
    reservation = Reservation(deposit_amount=Decimal("5000.00"), deposit_kind=kind, refund_window_days=window,
                              confirmed_at=paid)
    due = reservation.refund_due(paid + dt.timedelta(days=days_after_paying))
    assert due == (Decimal("5000.00") if refunded else Decimal("0"))


@pytest.mark.parametrize("typed", ["R-7K3Q9M", "r-7k3q9m", " 7K3Q9M ", "7k3q9m"])
def test_find_by_reference_forgives_case_and_prefix(app, db, catalog, policies, shopper, typed):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    reservation.reference = "R-7K3Q9M"
    db.flush()
    assert services.find_by_reference(db, typed) is reservation


@pytest.mark.parametrize("typed", ["", "R-", "R-0000000", "R-7K3Q9", "R-OIL111", "'; drop table"])
def test_find_by_reference_rejects_nonsense(db, typed):
    assert services.find_by_reference(db, typed) is None


# --- policies -----------------------------------------------------------------------------------------------


def test_admins_set_deposit_terms_audited(db, catalog, admin_user, staff_user):
    focus = catalog.car_models[2]
    with pytest.raises(PermissionDeniedError):
        services.save_policy(db, car_model=focus, amount=Decimal("3000"), kind=DepositKind.REFUNDABLE,
                             refund_window_days=7, price_credit=Decimal("3000"), is_active=True, by=staff_user)
    with pytest.raises(DomainError, match="credit"):
        services.save_policy(db, car_model=focus, amount=Decimal("3000"), kind=DepositKind.REFUNDABLE,
                             refund_window_days=7, price_credit=Decimal("100"), is_active=True, by=admin_user)
    policy = services.save_policy(db, car_model=focus, amount=Decimal("3000"), kind=DepositKind.BINDING,
                                  refund_window_days=1, price_credit=Decimal("6000"), is_active=True, by=admin_user)
    assert policy.amount == Decimal("3000.00") and services.policy_for(db, car_model_id=focus.id) is policy
    audit = db.scalar(select(AuditLog).where(AuditLog.action == "deposit_policy.save"))
    assert audit.after["price_credit"] == "6000.00" and audit.before is None


def test_terms_are_frozen_into_the_reservation(app, db, catalog, policies, shopper, admin_user):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    services.save_policy(db, car_model=catalog.car_models[0], amount=Decimal("9000"), kind=DepositKind.BINDING,
                         refund_window_days=0, price_credit=Decimal("9000"), is_active=True, by=admin_user)
    assert reservation.deposit_amount == Decimal("5000.00") and reservation.deposit_kind is DepositKind.REFUNDABLE


def test_seeded_policies_cover_every_model_once(db, catalog):
    assert seed_deposit_policies(db) == "deposit policies added: 3"
    assert seed_deposit_policies(db) == "deposit policies added: 0"
    by_model = {p.car_model_id: p for p in db.scalars(select(models.DepositPolicy))}
    kadjar, mache, _focus = catalog.car_models
    assert by_model[kadjar.id].kind is DepositKind.REFUNDABLE and by_model[kadjar.id].amount == Decimal("5000.00")
    assert by_model[mache.id].kind is DepositKind.BINDING and by_model[mache.id].price_credit == Decimal("4000.00")
