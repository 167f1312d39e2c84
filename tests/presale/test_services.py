"""Presale rules: the legal deposit cap, ordering, the waitlist, paying, locking, cancelling, the jobs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import models
from models import DepositKind, LaunchNumber, PaymentStatus, PresaleOrderStatus
from storefront.clock import STORE_TZ, now
from storefront.errors import ConflictError, DomainError, PermissionDeniedError
from storefront.payments import services as payments
from storefront.payments.services import PaymentOutcome
from storefront.presale import services
from tests import factories
from tests.presale.conftest import opening_later, shopper, terms

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"deposit_amount": Decimal("39960.01")}, "deposit_amount"),  # a cent over 20% of ¥199,800
        ({"deposit_credit": Decimal("998.00")}, "deposit_credit"),  # counts for less than it costs
        ({"deposit_credit": Decimal("199800.01")}, "deposit_credit"),  # more than the car
    ],
)
def test_campaign_terms_keep_the_law_and_the_platform_rules(db, catalog, overrides, field):
    with pytest.raises(DomainError) as refused:
        services.create_campaign(db, actor=None, terms=terms(catalog.car_models[0].id, **overrides))
    assert refused.value.field == field


def test_a_deposit_of_exactly_twenty_percent_is_allowed(db, catalog):
    campaign = services.create_campaign(
        db,
        actor=None,
        terms=terms(catalog.car_models[0].id, deposit_amount=Decimal("39960.00"), deposit_credit=Decimal("39960.00")),
    )
    assert services.numbers_left(db, campaign.id) == 3


def test_orders_take_the_lowest_free_numbers_then_wait_in_line(db, campaign):
    orders = [services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(5)]

    assert [o.launch_number for o in orders] == [1, 2, 3, None, None]
    assert [o.status for o in orders[:3]] == [PresaleOrderStatus.HELD] * 3
    assert [services.waitlist_position(db, o) for o in orders[3:]] == [1, 2]
    assert services.numbers_left(db, campaign.id) == 0
    assert orders[0].hold_expires_at == orders[0].held_at + dt.timedelta(minutes=30)


def test_pressing_order_again_returns_the_same_order(db, campaign):
    buyer = shopper(db)
    first = services.place_order(db, campaign=campaign, user=buyer)
    again = services.place_order(db, campaign=campaign, user=buyer)
    assert again.id == first.id and again.launch_number == 1
    assert db.scalar(select(func.count()).select_from(models.PresaleOrder)) == 1


def test_ordering_needs_a_mainland_mobile_and_an_open_window(db, catalog, campaign):
    with pytest.raises(DomainError) as refused:
        services.place_order(
            db,
            campaign=campaign,
            user=shopper(db).__class__(email="nophone@example.com", password_hash="x", phone="", session_token="t"),
        )
    assert refused.value.field == "phone"
    later = opening_later(db, catalog.car_models[1].id, slug="later")
    with pytest.raises(ConflictError):
        services.place_order(db, campaign=later, user=shopper(db))


def _pay(app, db, order):
    with app.test_request_context():
        payment = services.start_deposit_payment(
            db, order=order, user=order.user, success_url="/ok", cancel_url="/back"
        )
    assert payment.amount == Decimal("999.00")
    payments.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID, provider_payment_id="pi_x")
    db.refresh(order)
    return payment


def test_a_lapsed_hold_passes_its_number_to_the_first_in_line(app, db, campaign):
    held = [services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(3)]
    first_waiting, second_waiting = (services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(2))
    _pay(app, db, held[0])

    expired = services.expire_holds(db, at=now() + dt.timedelta(minutes=31))

    assert expired == 2  # numbers 2 and 3; number 1 was paid
    assert held[0].status is PresaleOrderStatus.PAID
    assert {held[1].status, held[2].status} == {PresaleOrderStatus.EXPIRED}
    assert (first_waiting.launch_number, second_waiting.launch_number) == (2, 3)
    assert first_waiting.status is PresaleOrderStatus.HELD
    assert services.expire_holds(db, at=now() + dt.timedelta(minutes=31)) == 0  # run again: nothing left


def test_paying_keeps_the_deposit_refundable_then_it_locks(app, db, campaign):
    order = services.place_order(db, campaign=campaign, user=shopper(db))
    _pay(app, db, order)
    assert order.status is PresaleOrderStatus.PAID
    assert order.deposit_kind is DepositKind.REFUNDABLE
    assert order.refundable_until == order.paid_at + dt.timedelta(days=7)

    assert services.lock_due(db, at=order.refundable_until - dt.timedelta(seconds=1)) == 0
    assert services.lock_due(db, at=order.refundable_until) == 1
    assert order.status is PresaleOrderStatus.LOCKED and order.deposit_kind is DepositKind.BINDING
    assert order.balance_due_by == order.locked_at + dt.timedelta(days=30)
    assert campaign.balance_due == Decimal("194800.00")  # ¥199,800 less the ¥5,000 the deposit counts for


def test_a_binding_campaign_locks_at_once(app, db, catalog):
    campaign = services.create_campaign(db, actor=None, terms=terms(catalog.car_models[0].id, refundable_days=0))
    order = services.place_order(db, campaign=campaign, user=shopper(db))
    assert order.deposit_kind is DepositKind.BINDING
    _pay(app, db, order)
    assert order.status is PresaleOrderStatus.LOCKED


def test_the_shopper_locks_early_or_cancels_for_a_full_refund(app, db, campaign):
    keep, leave = (services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(2))
    waiting = [services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(2)]
    _pay(app, db, keep)
    payment = _pay(app, db, leave)

    services.lock_now(db, order_id=keep.id, user=keep.user)
    with pytest.raises(ConflictError):
        services.cancel_order(db, order_id=keep.id, user=keep.user)  # binding now
    with pytest.raises(PermissionDeniedError):
        services.cancel_order(db, order_id=leave.id, user=keep.user)
    services.cancel_order(db, order_id=leave.id, user=leave.user)

    assert leave.status is PresaleOrderStatus.CANCELLED and leave.launch_number is None
    db.refresh(payment)
    assert payment.status is PaymentStatus.REFUNDED and payment.refunded_amount == Decimal("999.00")
    # Number 2 went back in line: the shopper who was waiting (the edition's 4th order) holds it now.
    assert waiting[0].launch_number == 3
    assert waiting[1].launch_number == 2 and waiting[1].status is PresaleOrderStatus.HELD
    taken = db.scalars(select(LaunchNumber.number).where(LaunchNumber.order_id.is_not(None))).all()
    assert sorted(taken) == [1, 2, 3]


def test_a_deposit_paid_after_the_number_went_back_is_refunded(app, db, campaign):
    order = services.place_order(db, campaign=campaign, user=shopper(db))
    with app.test_request_context():
        payment = services.start_deposit_payment(
            db, order=order, user=order.user, success_url="/ok", cancel_url="/back"
        )
    services.expire_holds(db, at=now() + dt.timedelta(minutes=31))
    payments.apply_payment_result(db, payment=payment, outcome=PaymentOutcome.PAID, provider_payment_id="pi_late")
    db.refresh(payment)
    assert order.status is PresaleOrderStatus.EXPIRED
    assert payment.status is PaymentStatus.REFUNDED


def test_board_counts_orders_by_state(app, db, campaign):
    orders = [services.place_order(db, campaign=campaign, user=shopper(db)) for _ in range(4)]
    _pay(app, db, orders[0])
    figures = services.board_figures(db, campaign)
    assert (figures.paid, figures.held, figures.waitlisted, figures.numbers_left) == (1, 2, 1, 0)


def test_an_unpaid_balance_forfeits_the_binding_deposit_and_frees_the_number(app, db, campaign):
    order = services.place_order(db, campaign=campaign, user=shopper(db))
    _pay(app, db, order)
    services.lock_now(db, order_id=order.id, user=order.user)
    assert services.forfeit_overdue(db, at=order.balance_due_by - dt.timedelta(seconds=1)) == 0

    assert services.forfeit_overdue(db, at=order.balance_due_by) == 1
    assert order.status is PresaleOrderStatus.FORFEITED and order.launch_number is None
    assert services.numbers_left(db, campaign.id) == 3
    assert services.forfeit_overdue(db, at=order.balance_due_by) == 0  # once


def test_one_order_per_mobile_whatever_the_account(db, campaign):
    first = factories.make_user(db, email="mobile-a@example.com", phone="13600000001", phone_verified_at=now())
    second = factories.make_user(db, email="mobile-b@example.com", phone="13600000001", phone_verified_at=now())
    order = services.place_order(db, campaign=campaign, user=first)
    with pytest.raises(ConflictError, match="one order per mobile"):
        services.place_order(db, campaign=campaign, user=second)
    assert services.place_order(db, campaign=campaign, user=first).id == order.id  # its owner still finds it
    assert order.mobile == "13600000001"
    assert services.place_order(db, campaign=campaign, user=shopper(db)).launch_number == 2


def test_presale_orders_feed_the_insights_funnel_without_personal_data(db, campaign):
    from storefront.demo import queries

    for _ in range(4):  # an edition of 3: three holds, one waitlisted
        services.place_order(db, campaign=campaign, user=shopper(db))
    events = db.scalars(select(models.Event).where(models.Event.step == models.FunnelStep.RESERVE)).all()
    assert len(events) == 4 and {e.car_model_id for e in events} == {campaign.car_model_id}
    assert sorted(e.props["waitlisted"] for e in events) == ["False", "False", "False", "True"]  # props are text
    assert all(e.props["presale"] == campaign.slug and set(e.props) == {"presale", "waitlisted"} for e in events)
    today = now().astimezone(STORE_TZ).date()
    rows = {row.step: row.events for row in queries.funnel(db, queries.Period(today, today))}
    assert rows[models.FunnelStep.RESERVE] == 4  # the insights dashboard counts them with the other reservations
