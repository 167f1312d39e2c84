"""Reservation pages: choose, review, reserve, pay (demo), my reservations, cancel; the staff side and policies."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from models import (
    AuditLog,
    DepositPolicy,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Reservation,
    ReservationStatus,
    VehicleStatus,
)
from storefront.reservations import services
from tests import factories
from tests.reservations.conftest import new_key, reserve

EN = {"Accept-Language": "en"}


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model)) or 0


def reserve_form(vehicle, **extra):  # type: ignore[no-untyped-def]
    return {"vehicle_id": str(vehicle.id), "idempotency_key": new_key(), "accept_terms": "y", **extra}


def pay_demo(client, db, reservation):  # type: ignore[no-untyped-def]
    payment = services.payment_of(db, reservation)
    return client.post(f"/payments/demo/{payment.provider_session_id}", data={"action": "pay"})


# --- shopper ------------------------------------------------------------------------------------------------


def test_choose_page_lists_free_units_and_the_terms(client, db, catalog, policies):
    page = client.get("/reservations/choose/kadjar?city=shanghai", headers=EN).get_data(as_text=True)
    assert "Reserve a Renault Kadjar with a deposit" in page
    assert "Shanghai One" in page and "Shanghai Two" in page and "Beijing One" not in page
    assert catalog.vehicles[0].vin in page
    assert "refundable deposit (订金)" in page and "Deposit: ¥5,000" in page
    assert f"/reservations/review?vehicle={catalog.vehicles[0].id}" in page


def test_choose_page_for_a_model_without_policy_says_so(client, db, catalog, policies):
    page = client.get("/reservations/choose/focus", headers=EN).get_data(as_text=True)
    assert "Online reservation is not open for this model yet" in page
    assert client.get("/reservations/choose/no-such-model").status_code == 404


def test_held_cars_disappear_from_choice_and_catalog(app, client, db, catalog, policies, shopper):
    reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    page = client.get("/reservations/choose/kadjar?city=shanghai", headers=EN).get_data(as_text=True)
    assert catalog.vehicles[0].vin not in page and catalog.vehicles[1].vin in page
    detail = client.get("/models/kadjar?city=shanghai", headers=EN).get_data(as_text=True)
    assert "In stock at 2 showrooms in Shanghai" in detail  # SH-1 still has the 4WD; the held 2WD is not counted


def test_review_needs_sign_in(client, db, catalog, policies):
    reply = client.get(f"/reservations/review?vehicle={catalog.vehicles[0].id}")
    assert reply.status_code == 302 and "/account/login" in reply.headers["Location"]


def test_review_shows_terms_in_plain_words(client, db, catalog, policies, shopper, login_as):
    login_as(shopper)
    page = client.get(f"/reservations/review?vehicle={catalog.vehicles[0].id}", headers=EN).get_data(as_text=True)
    assert "Deposit: ¥5,000.00" in page and "Refundable deposit (订金)" in page
    assert "Cancel any time before you pick the car up and you get all ¥5,000 back." in page
    assert "On a guide price of ¥160,000 you then pay ¥155,000." in page
    assert "on hold for you for 30 minutes" in page
    assert re.search(r'name="idempotency_key"[^>]*value="[A-Za-z0-9_-]{32}"', page)
    assert 'name="amount"' not in page


def test_reserve_then_pay_with_the_demo_provider(client, db, catalog, policies, shopper, login_as):
    login_as(shopper)
    reply = client.post("/reservations/", data=reserve_form(catalog.vehicles[0]))
    assert reply.status_code == 303 and reply.headers["Location"].startswith("/payments/demo/demo_")
    reservation = db.scalar(select(Reservation))
    assert reservation.status is ReservationStatus.PENDING_PAYMENT
    paid = client.post(reply.headers["Location"], data={"action": "pay"})
    assert paid.status_code == 302
    assert paid.headers["Location"] == f"http://localhost/reservations/{reservation.reference}?paid=1"
    page = client.get(f"/reservations/{reservation.reference}?paid=1", headers=EN).get_data(as_text=True)
    assert "Your car is reserved" in page and reservation.reference in page
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.CONFIRMED
    assert reservation.vehicle.status is VehicleStatus.RESERVED


def test_the_amount_always_comes_from_the_policy(client, db, catalog, policies, shopper, login_as):
    login_as(shopper)
    client.post("/reservations/", data=reserve_form(catalog.vehicles[0], amount="1.00", deposit_amount="1"))
    reservation = db.scalar(select(Reservation))
    assert reservation.deposit_amount == Decimal("5000.00")
    assert db.scalar(select(Payment)).amount == Decimal("5000.00")


def test_terms_must_be_accepted(client, db, catalog, policies, shopper, login_as):
    login_as(shopper)
    form = reserve_form(catalog.vehicles[0])
    del form["accept_terms"]
    reply = client.post("/reservations/", data=form, headers=EN)
    assert reply.status_code == 422 and "Please confirm that you agree" in reply.get_data(as_text=True)
    assert count(db, Reservation) == 0


def test_double_click_makes_one_reservation(client, db, catalog, policies, shopper, login_as):
    login_as(shopper)
    form = reserve_form(catalog.vehicles[0])
    first = client.post("/reservations/", data=form)
    second = client.post("/reservations/", data=form)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(db, Reservation) == 1 and count(db, Payment) == 1


@pytest.mark.parametrize("status", [VehicleStatus.ON_HOLD, VehicleStatus.SOLD])
def test_held_or_sold_car_gets_a_clear_answer(client, db, catalog, policies, shopper, login_as, status):
    login_as(shopper)
    catalog.vehicles[0].status = status
    db.commit()
    reply = client.post("/reservations/", data=reserve_form(catalog.vehicles[0]), headers=EN)
    assert reply.status_code == 409
    page = reply.get_data(as_text=True)
    assert "This car cannot be reserved" in page and "Nothing has been charged" in page
    assert count(db, Reservation) == 0 and count(db, Payment) == 0


@pytest.mark.parametrize("vehicle_id", ["99999", "abc", "99999999999999999999999", "-1", "١٢٣", ""])
def test_unknown_car_is_404(client, db, catalog, policies, shopper, login_as, vehicle_id):
    login_as(shopper)
    form = reserve_form(catalog.vehicles[0], vehicle_id=vehicle_id)
    assert client.post("/reservations/", data=form).status_code in (404, 422)
    assert client.get(f"/reservations/review?vehicle={vehicle_id}").status_code == 404
    assert client.get(f"/reservations/review?trim={vehicle_id}&colour=nope&dealer=1").status_code == 404
    assert count(db, Reservation) == 0


def test_reserving_needs_sign_in(client, db, catalog, policies):
    reply = client.post("/reservations/", data=reserve_form(catalog.vehicles[0]))
    assert reply.status_code == 302 and "/account/login" in reply.headers["Location"]
    assert client.get("/reservations/mine").status_code == 302
    assert count(db, Reservation) == 0


def test_my_reservations_with_countdown_and_cancel(app, client, db, catalog, policies, shopper, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    login_as(shopper)
    page = client.get("/reservations/mine", headers=EN).get_data(as_text=True)
    assert reservation.reference in page and "Waiting for payment" in page
    assert "data-countdown=" in page and "Pay the deposit ¥5,000" in page
    assert f'action="/reservations/{reservation.reference}/cancel"' in page and "data-confirm=" in page
    reply = client.post(f"/reservations/{reservation.reference}/cancel", data={"reason": ""})
    assert reply.status_code == 302
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.CANCELLED


def test_cancel_a_paid_refundable_reservation(app, client, db, catalog, policies, shopper, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay_demo(client, db, reservation)
    login_as(shopper)
    page = client.get("/reservations/mine", headers=EN).get_data(as_text=True)
    assert "You would get ¥5,000 back." in page
    client.post(f"/reservations/{reservation.reference}/cancel", data={}, headers=EN)
    followed = client.get("/reservations/mine", headers=EN).get_data(as_text=True)
    assert "¥5,000 is on its way back to you" in followed and "Refunded" in followed
    assert db.scalar(select(Payment)).status is PaymentStatus.REFUNDED


def test_someone_elses_reservation_is_not_found(app, client, db, catalog, policies, shopper, other_shopper, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    db.commit()
    login_as(other_shopper)
    assert client.get(f"/reservations/{reservation.reference}").status_code == 404
    assert client.post(f"/reservations/{reservation.reference}/cancel").status_code == 404
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.PENDING_PAYMENT


def test_state_changes_need_a_csrf_token(app, client, db, catalog, policies, shopper, login_as, monkeypatch):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[1].id)
    db.commit()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    login_as(shopper)
    assert client.post("/reservations/", data=reserve_form(catalog.vehicles[0])).status_code == 400
    assert client.post(f"/reservations/{reservation.reference}/cancel").status_code == 400
    assert count(db, Reservation) == 1
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.PENDING_PAYMENT


def test_catalog_pages_release_holds_that_ran_out(app, client, db, catalog, policies, shopper, travel):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    db.commit()
    travel(minutes=30, seconds=1)
    assert client.get("/models").status_code == 200
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.EXPIRED
    assert reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "reservations/expired")) == 1


def test_cron_command_releases_holds(app, db, catalog, policies, shopper, travel):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    db.commit()
    travel(hours=1)
    result = app.test_cli_runner().invoke(args=["reservations", "expire"])
    assert result.exit_code == 0, result.output
    assert "released 1 expired hold" in result.output
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.EXPIRED


def test_model_page_links_to_reserve(client, catalog, policies):
    page = client.get("/models/kadjar").get_data(as_text=True)
    assert "/reservations/choose/kadjar" in page


# --- staff --------------------------------------------------------------------------------------------------


def _staff_routes(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("reservations_staff."):
            yield rule


def test_every_staff_route_refuses_anonymous_and_customers(app, client, db, catalog, policies, shopper, login_as):
    rules = list(_staff_routes(app))
    assert len(rules) >= 6
    for rule in rules:
        url = rule.rule.replace("<reference>", "R-22222A").replace("<model_slug>", "kadjar")
        method = "post" if "POST" in rule.methods and "GET" not in rule.methods else "get"
        reply = getattr(client, method)(url)
        assert reply.status_code == 302 and "/account/login" in reply.headers["Location"], rule.rule
    login_as(shopper)
    for rule in rules:
        url = rule.rule.replace("<reference>", "R-22222A").replace("<model_slug>", "kadjar")
        method = "post" if "POST" in rule.methods and "GET" not in rule.methods else "get"
        assert getattr(client, method)(url).status_code == 403, rule.rule


def test_policy_pages_are_admin_only(app, client, db, catalog, policies, staff_user, login_as):
    assert app.view_functions["reservations_staff.policies"].admin_only
    assert app.view_functions["reservations_staff.edit_policy"].admin_only
    login_as(staff_user)
    assert client.get("/staff/reservations/policies").status_code == 403
    assert client.post("/staff/reservations/policies/kadjar", data={"amount": "1"}).status_code == 403
    assert db.get(DepositPolicy, policies["kadjar"].id).amount == Decimal("5000.00")


def test_staff_see_their_showrooms_only(app, client, db, catalog, policies, shopper, other_shopper, staff_user,
                                        login_as):
    mine = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)  # Shanghai One: staff's showroom
    theirs = reserve(app, db, other_shopper, vehicle_id=catalog.vehicles[3].id)  # Beijing One
    login_as(staff_user)
    page = client.get("/staff/reservations/", headers=EN).get_data(as_text=True)
    assert mine.reference in page and theirs.reference not in page
    assert "buyer@example.com" in page
    assert client.get(f"/staff/reservations/{theirs.reference}").status_code == 403
    filtered = client.get("/staff/reservations/?status=confirmed", headers=EN).get_data(as_text=True)
    assert mine.reference not in filtered
    searched = client.get(f"/staff/reservations/?q={mine.reference.lower()}", headers=EN).get_data(as_text=True)
    assert mine.reference in searched


def test_staff_mark_picked_up(app, client, db, catalog, policies, shopper, staff_user, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay_demo(client, db, reservation)
    login_as(staff_user)
    page = client.get(f"/staff/reservations/{reservation.reference}", headers=EN).get_data(as_text=True)
    assert "Mark picked up" in page and "Cancel and refund" in page
    reply = client.post(f"/staff/reservations/{reservation.reference}/pickup")
    assert reply.status_code == 302
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.COMPLETED and reservation.vehicle.status is VehicleStatus.SOLD
    again = client.post(f"/staff/reservations/{reservation.reference}/pickup")
    assert again.status_code == 409


def test_staff_cancel_needs_a_reason_and_refunds(app, client, db, catalog, policies, shopper, staff_user, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    pay_demo(client, db, reservation)
    login_as(staff_user)
    assert client.post(f"/staff/reservations/{reservation.reference}/cancel", data={"reason": ""}).status_code == 422
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.CONFIRMED
    reply = client.post(f"/staff/reservations/{reservation.reference}/cancel", data={"reason": "Flood damage"})
    assert reply.status_code == 302
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.REFUNDED and reservation.cancel_reason == "Flood damage"
    page = client.get(f"/staff/reservations/{reservation.reference}", headers=EN).get_data(as_text=True)
    assert "reservation.cancel" in page


def test_admin_edits_deposit_terms(client, db, catalog, policies, admin_user, login_as):
    login_as(admin_user)
    listing = client.get("/staff/reservations/policies", headers=EN).get_data(as_text=True)
    assert "Not set: this model cannot be reserved online." in listing  # Focus
    blank = client.get("/staff/reservations/policies/focus", headers=EN).get_data(as_text=True)
    assert 'value="5000.00"' in blank and "What shoppers read" in blank  # starts from the store default
    form = {"amount": "3000.00", "kind": "binding", "refund_window_days": "2", "price_credit": "6000.00",
            "is_active": "y"}
    assert client.post("/staff/reservations/policies/focus", data=form).status_code == 302
    policy = db.scalar(select(DepositPolicy).where(DepositPolicy.car_model_id == catalog.car_models[2].id))
    assert policy.amount == Decimal("3000.00") and policy.price_credit == Decimal("6000.00")
    assert db.scalar(select(AuditLog).where(AuditLog.action == "deposit_policy.save")).actor_id == admin_user.id
    bad = client.post("/staff/reservations/policies/focus", data=form | {"price_credit": "10"}, headers=EN)
    assert bad.status_code == 422 and "cannot be less than the deposit" in bad.get_data(as_text=True)
    nonsense = client.post("/staff/reservations/policies/focus", data=form | {"amount": "-5"})
    assert nonsense.status_code == 422
    assert client.get("/staff/reservations/policies/no-such-model").status_code == 404


def test_staff_list_for_an_unknown_reference(client, db, catalog, staff_user, login_as):
    login_as(staff_user)
    assert client.get("/staff/reservations/R-22222A").status_code == 404
    assert client.get("/staff/reservations/?q=nobody", headers=EN).status_code == 200
    assert client.get("/staff/reservations/?page=abc&status=nonsense&dealer=999").status_code == 200


def test_reservation_pages_in_chinese(app, client, db, catalog, policies, shopper, login_as):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    login_as(shopper)
    page = client.get("/reservations/mine", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "我的订单" in page and "待付款" in page and reservation.reference in page


def test_seeded_vehicle_factory_still_in_stock(db, catalog):
    assert factories.make_vehicle(db, trim=catalog.trims[0], dealer=catalog.dealers[0]).status is VehicleStatus.IN_STOCK


# --- Stripe, end to end (offline) ----------------------------------------------------------------------------


def _stripe_webhook(client, event_id: str, kind: str, payment):  # type: ignore[no-untyped-def]
    from tests.payments import stripe_fake

    body = stripe_fake.event(event_id, kind, stripe_fake.completed_session(payment))
    return client.post("/payments/webhook", data=body,
                       headers={"Stripe-Signature": stripe_fake.sign(body), "Content-Type": "application/json"})


def test_reserve_with_stripe_checkout_then_webhook(client, db, catalog, policies, shopper, login_as, fake_stripe):
    login_as(shopper)
    reply = client.post("/reservations/", data=reserve_form(catalog.vehicles[0]))
    assert reply.status_code == 303 and reply.headers["Location"] == "https://checkout.stripe.test/c/cs_test_0001"
    reservation = db.scalar(select(Reservation))
    payment = services.payment_of(db, reservation)
    from tests.payments.stripe_fake import form

    sent = form(fake_stripe.requests("/v1/checkout/sessions")[0])
    assert sent["success_url"] == [f"http://localhost/reservations/{reservation.reference}?paid=1"]
    assert sent["metadata[reference]"] == [reservation.reference]
    for _ in range(10):  # Stripe retries: one confirmation, one email
        assert _stripe_webhook(client, "evt_route_1", "checkout.session.completed", payment).status_code == 200
    assert _stripe_webhook(client, "evt_route_2", "checkout.session.expired", payment).status_code == 200
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.CONFIRMED and reservation.vehicle.status is VehicleStatus.RESERVED
    assert count(db, Payment) == 1
    assert db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "reservations/confirmed")) == 1


def test_expired_event_then_completed_still_ends_confirmed(app, client, db, catalog, policies, shopper, fake_stripe):
    reservation = reserve(app, db, shopper, vehicle_id=catalog.vehicles[0].id)
    payment = services.payment_of(db, reservation)
    assert _stripe_webhook(client, "evt_o1", "checkout.session.expired", payment).get_json()["result"] == "applied"
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.EXPIRED and reservation.vehicle.status is VehicleStatus.IN_STOCK
    assert _stripe_webhook(client, "evt_o2", "checkout.session.completed", payment).get_json()["result"] == "applied"
    db.refresh(reservation)
    assert reservation.status is ReservationStatus.CONFIRMED and reservation.vehicle.status is VehicleStatus.RESERVED
