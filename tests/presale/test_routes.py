"""Presale pages: the launch page, ordering (login, CSRF, idempotent), the order page's moves, staff and admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import models
from models import PresaleOrder, PresaleOrderStatus
from storefront.clock import now
from storefront.presale import routes, services
from tests import factories
from tests.conftest import login
from tests.presale.conftest import opening_later, shopper

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture(autouse=True)
def _fresh_live_count():
    routes._left_cache.clear()


def test_the_launch_page_shows_terms_and_the_count_left(client, campaign):
    page = client.get(f"/presale/{campaign.slug}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "¥199,800" in text and "3</strong> / 3" in text
    assert "Sign in to order" in text  # anonymous: no order form
    assert client.get("/presale/no-such-launch").status_code == 404


def test_the_live_fragment_is_cheap_to_serve_to_every_viewer(client, campaign, count_queries):
    client.get(f"/presale/{campaign.slug}/live")
    with count_queries() as counter:
        for _ in range(5):
            answer = client.get(f"/presale/{campaign.slug}/live")
    assert answer.headers["Cache-Control"] == "public, max-age=1"
    assert counter.count <= 5  # the campaign per request; the count itself comes from the per-worker cache


def test_ordering_twice_gives_one_order_and_one_number(client, db, campaign):
    buyer = shopper(db)
    login(client, buyer)
    first = client.post(f"/presale/{campaign.slug}/order")
    second = client.post(f"/presale/{campaign.slug}/order")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.scalar(select(func.count()).select_from(PresaleOrder)) == 1
    page = client.get(first.headers["Location"])
    assert "0001" in page.get_data(as_text=True) and "Pay the deposit" in page.get_data(as_text=True)


def test_ordering_without_a_mobile_sends_the_shopper_to_the_profile(client, db, campaign):
    login(client, models.User(email="x@example.com", password_hash="x", session_token="t") and _no_phone(db))
    answer = client.post(f"/presale/{campaign.slug}/order")
    assert answer.status_code == 302 and "/account/profile" in answer.headers["Location"]


def _no_phone(db):  # type: ignore[no-untyped-def]
    from tests import factories

    return factories.make_user(db, email="nophone@example.com", phone="")


def test_anonymous_ordering_is_sent_to_sign_in(client, campaign):
    answer = client.post(f"/presale/{campaign.slug}/order")
    assert answer.status_code == 302 and "/account/login" in answer.headers["Location"]


def test_pay_lock_and_someone_elses_order(client, db, campaign):
    buyer = shopper(db)
    order = services.place_order(db, campaign=campaign, user=buyer)
    login(client, buyer)
    paid = client.post(f"/presale/orders/{order.id}/pay")
    assert paid.status_code == 303 and "/payments/demo/" in paid.headers["Location"]
    from storefront.payments import services as payments

    payment = payments.payment_for(db, purpose=models.PaymentPurpose.PRESALE_DEPOSIT, subject_id=order.id)
    payments.apply_payment_result(db, payment=payment, outcome="paid", provider_payment_id="pi_r")
    assert "Lock my order now" in client.get(f"/presale/orders/{order.id}").get_data(as_text=True)
    client.post(f"/presale/orders/{order.id}/lock")
    db.refresh(order)
    assert order.status is PresaleOrderStatus.LOCKED
    text = client.get(f"/presale/orders/{order.id}").get_data(as_text=True)
    assert "¥194,800" in text  # the balance with the inflated deposit taken off

    login(client, shopper(db))
    assert client.get(f"/presale/orders/{order.id}").status_code == 404


def test_staff_see_the_board_and_only_admins_set_up_a_presale(client, db, campaign, staff_user, admin_user, catalog):
    services.place_order(db, campaign=campaign, user=shopper(db))
    login(client, staff_user)
    board = client.get(f"/staff/presale/{campaign.slug}")
    assert board.status_code == 200 and "Presale board" in board.get_data(as_text=True)
    assert client.get("/staff/presale/new").status_code == 403

    login(client, admin_user)
    opens = (now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    closes = (now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "slug": "mache-launch",
        "car_model_id": catalog.car_models[1].id,
        "name_zh": "首发版",
        "name_en": "Launch Edition",
        "edition_size": 10,
        "presale_price": "100000",
        "deposit_amount": "20000.01",
        "deposit_credit": "25000",
        "opens_at": opens,
        "closes_at": closes,
        "deposit_window_minutes": 30,
        "refundable_days": 0,
        "balance_window_days": 30,
    }
    refused = client.post("/staff/presale/new", data=form)
    assert refused.status_code == 200 and "at most 20" in refused.get_data(as_text=True)
    made = client.post("/staff/presale/new", data={**form, "deposit_amount": "20000"})
    assert made.status_code == 303, [line for line in made.get_data(as_text=True).splitlines() if "error" in line]
    created = db.scalar(select(models.PresaleCampaign).where(models.PresaleCampaign.slug == "mache-launch"))
    assert created.deposit_amount == Decimal("20000.00") and services.numbers_left(db, created.id) == 10


@pytest.mark.usefixtures("behind_proxy")
def test_a_saturated_store_answers_from_the_waiting_room_and_does_nothing_yet(client, db, campaign):
    import time

    buyer = shopper(db)
    login(client, buyer)
    waited = client.post(f"/presale/{campaign.slug}/order", headers={"X-Request-Start": f"t={time.time() - 10:.3f}"})
    assert waited.status_code == 202 and waited.headers["Retry-After"] == "1"
    assert "data-autosubmit" in waited.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(PresaleOrder)) == 0  # nothing done while queued

    # The retry at the shopper's turn, and the order of turns: tests/presale/test_waiting_room.py.


def test_without_a_trusted_proxy_a_claimed_wait_opens_no_line(client, db, campaign):
    import time

    login(client, shopper(db))
    claimed = client.post(f"/presale/{campaign.slug}/order", headers={"X-Request-Start": f"t={time.time() - 60:.3f}"})
    assert claimed.status_code == 303  # straight to the order: the header came from the client, not a proxy


def test_the_order_button_waits_for_the_servers_clock(client, db, catalog):
    later = opening_later(db, catalog.car_models[1].id, slug="soon")
    login(client, shopper(db))
    page = client.get(f"/presale/{later.slug}").get_data(as_text=True)
    assert "data-presale-order disabled" in page and 'data-open="false"' in page
    assert client.post(f"/presale/{later.slug}/order").status_code == 302  # refused, back to the launch page


def test_a_second_account_on_the_same_mobile_is_told_one_order_per_mobile(client, db, campaign):
    login(client, factories.make_user(db, email="m1@example.com", phone="13600000002", phone_verified_at=now()))
    assert client.post(f"/presale/{campaign.slug}/order").status_code == 303
    login(client, factories.make_user(db, email="m2@example.com", phone="13600000002", phone_verified_at=now()))
    refused = client.post(f"/presale/{campaign.slug}/order", follow_redirects=True)
    assert "one order per mobile" in refused.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(PresaleOrder)) == 1
