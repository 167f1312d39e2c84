"""Showroom handover: one look-up page for reservation, quote and test-drive codes (staff only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

import models
from models.finance import FinanceProduct, Quote
from models.reservations import DepositKind, Reservation, ReservationStatus
from models.test_drives import TestDriveBooking, TestDriveKind, TestDriveSlot
from storefront.clock import STORE_TZ
from storefront.demo.handover import clean_code, look_up


@pytest.fixture
def codes(db, catalog, customer):
    from storefront.finance.seed import seed_finance

    seed_finance(db)
    kadjar, trim, sh1 = catalog.car_models[0], catalog.trims[0], catalog.dealers[0]
    customer.phone = "13800138000"
    soon = dt.datetime(2026, 12, 1, 10, tzinfo=STORE_TZ)
    product = db.scalar(select(FinanceProduct).order_by(FinanceProduct.id))
    slot = TestDriveSlot(dealer_id=sh1.id, car_model_id=kadjar.id, starts_at=soon,
                         ends_at=soon + dt.timedelta(minutes=45), capacity=2, booked=1)
    db.add(slot)
    db.flush()
    db.add_all([
        Reservation(reference="R-7K3Q9M", user_id=customer.id, vehicle_id=catalog.vehicles[0].id, dealer_id=sh1.id,
                    car_model_id=kadjar.id, status=ReservationStatus.CONFIRMED, idempotency_key="k1",
                    deposit_amount=Decimal("5000.00"), deposit_kind=DepositKind.REFUNDABLE,
                    price_credit=Decimal("5000.00"), vehicle_price=Decimal("160000.00"), hold_expires_at=soon,
                    confirmed_at=soon),
        Quote(reference="Q-7K3M9P", trim_id=trim.id, product_id=product.id, product_version=1,
              inputs={"down_payment_pct": "10", "term_months": 12},
              results={"price_cny": "160000.00", "monthly_payment_cny": "3215.47", "total_cost_cny": "171000.00"},
              valid_until=soon),
        TestDriveBooking(reference="T-ABCDEF", kind=TestDriveKind.SHOWROOM, user_id=customer.id, dealer_id=sh1.id,
                         car_model_id=kadjar.id, slot_id=slot.id, starts_at=soon,
                         ends_at=soon + dt.timedelta(minutes=45),
                         contact_name="王小明", mobile="13800138000", licence_confirmed=True),
    ])
    db.flush()
    return catalog


@pytest.mark.parametrize(("raw", "code"), [
    ("r-7k3q9m", "R-7K3Q9M"), (" R 7K3Q9M ", "R-7K3Q9M"), ("R7K3Q9M", "R-7K3Q9M"),
    ("http://127.0.0.1:5000/staff/insights/handover?code=Q-7K3M9P", "Q-7K3M9P"), ("7K3Q9M", "7K3Q9M"),
])
def test_codes_are_cleaned(raw, code):
    assert clean_code(raw) == code


def test_each_kind_is_found_by_its_code(db, codes):
    assert [(f.kind, f.record.reference) for f in look_up(db, "r-7k3q9m")] == [("reservation", "R-7K3Q9M")]
    assert [(f.kind, f.record.reference) for f in look_up(db, "Q-7K3M9P")] == [("quote", "Q-7K3M9P")]
    assert [(f.kind, f.record.reference) for f in look_up(db, "t-abcdef")] == [("test_drive", "T-ABCDEF")]
    assert [f.kind for f in look_up(db, "7K3Q9M")] == ["reservation"]  # without its letter: tried as each kind
    assert look_up(db, "R-ZZZZZZ") == [] and look_up(db, "") == [] and look_up(db, "'; drop table x") == []


def test_staff_of_the_showroom_see_everything_the_shopper_chose(client, login_as, staff_user, codes):
    login_as(staff_user)  # works at SH-1, where the car and the drive are
    page = client.get("/staff/insights/handover?code=R-7K3Q9M", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("R-7K3Q9M", "Kadjar", codes.vehicles[0].vin, "Shanghai One", "¥5,000", "Refundable deposit (订金)",
                 "deposit paid", "13800138000", "shopper@example.com", "<svg"):
        assert text in html, text
    quote = client.get("/staff/insights/handover?code=q-7k3m9p", headers={"Accept-Language": "en"})
    assert quote.status_code == 200 and "¥3,215.47" in quote.get_data(as_text=True)
    drive = client.get("/staff/insights/handover?code=T-ABCDEF", headers={"Accept-Language": "en"})
    assert drive.status_code == 200 and "王小明 · 13800138000" in drive.get_data(as_text=True)


def test_other_showrooms_do_not_see_contact_details(client, login_as, db, codes):
    from tests.factories import make_user

    beijing = make_user(db, email="bj@example.com", role=models.Role.STAFF)
    beijing.dealers.append(codes.dealers[2])
    db.flush()
    login_as(beijing)
    html = client.get("/staff/insights/handover?code=R-7K3Q9M", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "R-7K3Q9M" in html and "13800138000" not in html and "shopper@example.com" not in html
    assert "shown to the staff of this showroom only" in html


@pytest.mark.parametrize("code", ["R-ZZZZZZ", "nonsense", "x" * 200])
def test_unknown_codes_answer_404_with_a_message(client, login_as, staff_user, codes, code):
    login_as(staff_user)
    response = client.get(f"/staff/insights/handover?code={code}", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "Nothing matches" in response.get_data(as_text=True)


def test_empty_look_up_page(client, login_as, staff_user):
    login_as(staff_user)
    assert client.get("/staff/insights/handover").status_code == 200


def test_handover_is_staff_only(client, login_as, customer):
    login_as(customer)
    assert client.get("/staff/insights/handover?code=R-7K3Q9M").status_code == 403
