"""GET /api/v1/dealers/<id>/test-drive-slots: ISO 8601 times with +08:00, places left, and JSON errors."""

from __future__ import annotations

import datetime as dt

import pytest

from storefront.test_drives import services


def _url(dealer_id, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/api/v1/dealers/{dealer_id}/test-drive-slots?{query}"


def test_slots_of_a_day_with_capacity_and_remaining(client, world, store_clock, customer, book):
    tuesday = store_clock.day(1)
    book(customer, store_clock.at(tuesday, 9, 45))
    response = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=tuesday.isoformat()))
    assert response.status_code == 200 and response.is_json
    slots = response.get_json()
    assert len(slots) == 12
    day = tuesday.isoformat()
    assert slots[0] == {"start": f"{day}T09:00:00+08:00", "end": f"{day}T09:45:00+08:00", "capacity": 2, "remaining": 2}
    assert slots[1]["remaining"] == 1
    assert all(s["start"].endswith("+08:00") and s["end"].endswith("+08:00") for s in slots)
    assert dt.datetime.fromisoformat(slots[-1]["end"]).hour == 18


def test_full_slots_stay_listed_with_nothing_left(client, world, store_clock, make_shopper, book):
    start = store_clock.at(store_clock.day(1), 10, 30)
    book(make_shopper(), start), book(make_shopper(), start)
    slots = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=store_clock.day(1).isoformat())).get_json()
    assert next(s for s in slots if s["start"] == start.isoformat())["remaining"] == 0


def test_today_lists_only_slots_still_bookable(client, world, store_clock):
    slots = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=store_clock.monday.isoformat())).get_json()
    assert slots[0]["start"].endswith("T11:15:00+08:00")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date": "2026-12-01"}, "model_id"),
        ({"model_id": "1"}, "date"),
        ({"model_id": "abc", "date": "2026-12-01"}, "model_id"),
        ({"model_id": "-1", "date": "2026-12-01"}, "model_id"),
        ({"model_id": "1", "date": "01/12/2026"}, "date"),
        ({"model_id": "1", "date": "2026-02-30"}, "date"),
        ({"model_id": "1", "date": "2026-12-01T10:00"}, "date"),
        ({"model_id": "99999999999999999999", "date": "2026-12-01"}, "model_id"),
    ],
)
def test_missing_or_malformed_parameters_are_400(client, world, query, field):
    response = client.get(_url(world.sh1.id, **query))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request" and field in body["fields"]


def test_unknown_showroom_or_model_is_404_json(client, world, store_clock):
    day = store_clock.day(1).isoformat()
    response = client.get(_url(999999, model_id=world.kadjar.id, date=day))
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    response = client.get(_url(world.sh1.id, model_id=999999, date=day))
    assert response.status_code == 404 and response.get_json()["fields"] == {"model_id": "Unknown model."}


@pytest.mark.parametrize(
    ("offset", "code"),
    [(-1, "past_date"), (91, "too_far_ahead"), (730, "too_far_ahead")],
)
def test_days_that_cannot_be_booked_are_422(client, world, store_clock, offset, code):
    response = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=store_clock.day(offset).isoformat()))
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == code and "date" in body["fields"] and body["message"]


def test_closed_day_and_model_not_demoed_are_422(client, db, world, store_clock, staff_user):
    services.save_exception(db, dealer=world.sh1, actor=staff_user, day=store_clock.day(2), closed=True)
    response = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=store_clock.day(2).isoformat()))
    assert response.status_code == 422 and response.get_json()["error"] == "closed_day"
    response = client.get(_url(world.sh1.id, model_id=world.mache.id, date=store_clock.day(1).isoformat()))
    assert response.status_code == 422 and response.get_json()["error"] == "not_offered"


def test_messages_are_english_whatever_the_browser_language(client, world, store_clock):
    response = client.get(_url(world.sh1.id, model_id=world.kadjar.id, date=store_clock.day(-1).isoformat()),
                          headers={"Accept-Language": "zh-CN"})
    assert "past" in response.get_json()["message"]


def test_the_endpoint_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "get" in document["paths"]["/dealers/{dealer_id}/test-drive-slots"]
    assert "TestDriveSlot" in document["components"]["schemas"]
