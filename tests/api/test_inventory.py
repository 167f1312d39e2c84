"""Inventory API for showroom systems: Bearer keys scoped to showrooms, If-Match/ETag, idempotent retries,
held cars, the audit log and per-key rate limits."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from models import AuditLog, Vehicle, VehicleStatus
from storefront import clock
from storefront.api import services
from tests.api.conftest import bearer
from tests.factories import make_vin

URL = "/api/v1/inventory/vehicles"


def _body(catalog, **changes):  # type: ignore[no-untyped-def]
    body = {"trim_id": catalog.trims[0].id, "colour": "pearl-white", "status": "in_stock", "dealer": "SH-1"}
    return {**body, **changes}


def test_no_key_or_a_wrong_key_is_a_401_with_a_bearer_challenge(client, catalog):
    for headers in ({}, {"Authorization": "Bearer fsk_not-a-key"}, {"Authorization": "Basic abc"}):
        response = client.get(URL, headers=headers)
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_keys_are_stored_hashed_and_note_when_they_were_used(client, db, catalog, issue_key):
    key, secret = issue_key([catalog.dealers[0]])
    assert secret.startswith("fsk_") and secret not in (key.key_hash, key.prefix) and key.last_used_at is None
    assert client.get(URL, headers=bearer(secret)).status_code == 200
    db.refresh(key)
    assert key.last_used_at is not None


def test_a_revoked_key_is_refused(client, db, catalog, issue_key, admin_user):
    key, secret = issue_key([catalog.dealers[0]])
    assert client.get(URL, headers=bearer(secret)).status_code == 200
    services.revoke_key(db, actor=admin_user, key=key, at=clock.now())
    db.flush()
    assert client.get(URL, headers=bearer(secret)).status_code == 401


def test_the_list_holds_only_the_keys_showrooms(client, catalog, shanghai_key):
    body = client.get(URL, headers=bearer(shanghai_key)).get_json()
    assert body["total"] == 2 and {v["dealer"] for v in body["vehicles"]} == {"SH-1"}
    assert client.get(f"{URL}?dealer=SH-2", headers=bearer(shanghai_key)).status_code == 404
    assert client.get(f"{URL}?status=sold", headers=bearer(shanghai_key)).get_json()["total"] == 0
    since = client.get(f"{URL}?updated_since=2000-01-01T00:00:00Z", headers=bearer(shanghai_key))
    assert since.get_json()["total"] == 2
    assert client.get(f"{URL}?updated_since=yesterday", headers=bearer(shanghai_key)).status_code == 400


def test_another_showrooms_car_is_not_found(client, catalog, shanghai_key):
    elsewhere = catalog.vehicles[1]  # at SH-2
    assert client.get(f"{URL}/{elsewhere.vin}", headers=bearer(shanghai_key)).status_code == 404
    response = client.put(f"{URL}/{elsewhere.vin}", json=_body(catalog),
                          headers=bearer(shanghai_key, **{"If-Match": '"1"'}))
    assert response.status_code == 404
    retire = client.post(f"{URL}/{elsewhere.vin}/retire", headers=bearer(shanghai_key, **{"If-Match": '"1"'}))
    assert retire.status_code == 404


def test_a_path_that_is_no_vin_is_a_404_not_an_error(client, catalog, shanghai_key):
    for path in ("not-a-vin", "x" * 300):
        assert client.get(f"{URL}/{path}", headers=bearer(shanghai_key)).status_code == 404
        assert client.post(f"{URL}/{path}/retire", headers=bearer(shanghai_key, **{"If-Match": "*"})).status_code == 404
    # NUL in any path is refused before routing (PostgreSQL cannot store it): a 400 with the JSON error shape.
    refused = client.get(f"{URL}/%00", headers=bearer(shanghai_key))
    assert refused.status_code == 400 and refused.get_json()["error"]


def test_moving_a_car_to_a_showroom_outside_the_key_is_forbidden(client, catalog, shanghai_key):
    vin = catalog.vehicles[0].vin
    response = client.put(f"{URL}/{vin}", json=_body(catalog, dealer="SH-2"),
                          headers=bearer(shanghai_key, **{"If-Match": '"1"'}))
    assert response.status_code == 403 and "dealer" in response.get_json()["fields"]


def test_create_then_update_with_the_etag_then_a_stale_etag_is_412(client, db, catalog, shanghai_key):
    vin = make_vin()
    created = client.put(f"{URL}/{vin}", json=_body(catalog), headers=bearer(shanghai_key))
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith(f"{URL}/{vin}")
    read = client.get(f"{URL}/{vin}", headers=bearer(shanghai_key))
    assert read.headers["ETag"] == '"1"' and read.get_json()["etag"] == '"1"'
    updated = client.put(f"{URL}/{vin}", json=_body(catalog, colour="flame-red"),
                         headers=bearer(shanghai_key, **{"If-Match": read.headers["ETag"]}))
    assert updated.status_code == 200 and updated.headers["ETag"] == '"2"'
    assert updated.get_json()["colour"] == "flame-red"
    stale = client.put(f"{URL}/{vin}", json=_body(catalog, status="demo_fleet"),
                       headers=bearer(shanghai_key, **{"If-Match": '"1"'}))
    assert stale.status_code == 412 and stale.get_json()["error"] == "precondition_failed"
    blind = client.put(f"{URL}/{vin}", json=_body(catalog, status="demo_fleet"), headers=bearer(shanghai_key))
    assert blind.status_code == 428
    vehicle = db.scalar(select(Vehicle).where(Vehicle.vin == vin))
    assert vehicle.colour_code == "flame-red" and vehicle.status is VehicleStatus.IN_STOCK


def test_every_write_is_audited_with_the_keys_name(client, db, catalog, shanghai_key):
    vin = make_vin()
    client.put(f"{URL}/{vin}", json=_body(catalog), headers=bearer(shanghai_key))
    client.post(f"{URL}/{vin}/retire", headers=bearer(shanghai_key, **{"If-Match": '"1"'}))
    entries = db.scalars(select(AuditLog).where(AuditLog.entity_type == "vehicle").order_by(AuditLog.id)).all()
    assert [e.action for e in entries[-2:]] == ["vehicle.create", "vehicle.retire"]
    assert all("SH-1 DMS" in e.note for e in entries[-2:])


def test_bad_vins_and_values_are_422_with_fields(client, catalog, shanghai_key):
    good = make_vin()
    bad_check = good[:8] + ("0" if good[8] != "0" else "1") + good[9:]
    response = client.put(f"{URL}/{bad_check}", json=_body(catalog), headers=bearer(shanghai_key))
    assert response.status_code == 422 and "check digit" in response.get_json()["fields"]["vin"]
    response = client.put(f"{URL}/{good}", json=_body(catalog, colour="purple", status="reserved", trim_id="x"),
                          headers=bearer(shanghai_key))
    assert response.status_code == 422 and set(response.get_json()["fields"]) == {"status", "trim_id"}
    response = client.put(f"{URL}/{good}", json=_body(catalog, colour="purple"), headers=bearer(shanghai_key))
    assert response.status_code == 422 and "colour" in response.get_json()["fields"]
    assert client.put(f"{URL}/{good}", data="{", headers=bearer(shanghai_key)).status_code == 400


def test_a_retried_write_returns_the_first_answer(client, db, catalog, shanghai_key):
    vin, idem = make_vin(), str(uuid.uuid4())
    headers = bearer(shanghai_key, **{"Idempotency-Key": idem})
    first = client.put(f"{URL}/{vin}", json=_body(catalog), headers=headers)
    again = client.put(f"{URL}/{vin}", json=_body(catalog), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert len(db.scalars(select(AuditLog).where(AuditLog.action == "vehicle.create")).all()) == 1
    other = client.put(f"{URL}/{vin}", json=_body(catalog, colour="flame-red"), headers=headers)
    assert other.status_code == 422 and other.get_json()["error"] == "idempotency_key_reused"
    retire_headers = bearer(shanghai_key, **{"Idempotency-Key": str(uuid.uuid4()), "If-Match": '"1"'})
    retired = client.post(f"{URL}/{vin}/retire", headers=retire_headers)
    retried = client.post(f"{URL}/{vin}/retire", headers=retire_headers)
    assert retired.status_code == retried.status_code == 200 and retried.get_json()["status"] == "retired"


def test_held_or_reserved_cars_cannot_be_moved_or_retired(client, db, catalog, shanghai_key):
    for status in (VehicleStatus.ON_HOLD, VehicleStatus.RESERVED):
        car = catalog.vehicles[0]
        car.status = status
        db.commit()
        etag = f'"{car.version}"'
        moved = client.put(f"{URL}/{car.vin}", json=_body(catalog, colour="flame-red"),
                           headers=bearer(shanghai_key, **{"If-Match": etag}))
        assert moved.status_code == 409 and "reservation" in moved.get_json()["message"]
        retired = client.post(f"{URL}/{car.vin}/retire", headers=bearer(shanghai_key, **{"If-Match": etag}))
        assert retired.status_code == 409 and status.value.replace("_", " ") in retired.get_json()["message"]


def test_each_key_has_its_own_rate_limit_with_headers(client, catalog, issue_key):
    _key, secret = issue_key([catalog.dealers[0]], rate_limit=3)
    answers = [client.get(URL, headers=bearer(secret)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    refused = answers[3]
    assert refused.get_json()["error"] == "too_many_requests" and 1 <= int(refused.headers["Retry-After"]) <= 60
    _other, other_secret = issue_key([catalog.dealers[0]], rate_limit=3)
    assert client.get(URL, headers=bearer(other_secret)).status_code == 200  # another key has its own budget


def test_kept_answers_are_forgotten_after_a_day(app, client, db, catalog, shanghai_key):
    vin, idem = make_vin(), str(uuid.uuid4())
    headers = bearer(shanghai_key, **{"Idempotency-Key": idem})
    assert client.put(f"{URL}/{vin}", json=_body(catalog), headers=headers).status_code == 201
    assert services.forget_idempotent_responses(db, before=clock.now() - dt.timedelta(hours=24)) == 0
    assert services.forget_idempotent_responses(db, before=clock.now() + dt.timedelta(seconds=1)) == 1
    db.commit()
    again = client.put(f"{URL}/{vin}", json=_body(catalog), headers=headers)
    assert again.status_code == 428 and "Idempotent-Replayed" not in again.headers  # now a new request


def test_the_cron_command_forgets_old_answers(app, db):
    result = app.test_cli_runner().invoke(args=["api", "forget-idempotent-responses"])
    assert result.exit_code == 0 and "idempotent responses dropped: 0" in result.output
