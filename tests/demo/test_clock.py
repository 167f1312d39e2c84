"""Demo time travel: the store clock offset is shared through the database and only moves in demo mode."""

from __future__ import annotations

import datetime as dt

import pytest

from models import AuditLog, StoreSetting
from storefront import clock
from storefront.demo import services
from storefront.errors import DomainError, PermissionDeniedError


@pytest.fixture
def demo_mode(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90m", dt.timedelta(minutes=90)), ("1h", dt.timedelta(hours=1)), ("+2d", dt.timedelta(days=2)),
     (" 3 H ", dt.timedelta(hours=3))],
)
def test_parse_duration(text, expected):
    assert services.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0h", "-1h", "1w", "h", "1.5h", "9999999d", "1h; drop table"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(DomainError):
        services.parse_duration(text)


def test_moving_the_clock_is_stored_audited_and_capped(db, admin_user):
    assert services.load_clock_offset(db) is None
    assert services.move_clock_forward(db, actor=admin_user, by=dt.timedelta(hours=1)) == dt.timedelta(hours=1)
    assert services.move_clock_forward(db, actor=admin_user, by=dt.timedelta(days=1)) == dt.timedelta(hours=25)
    assert db.get(StoreSetting, "clock_offset_seconds").value == str(25 * 3600)
    with pytest.raises(DomainError, match="366 days"):
        services.move_clock_forward(db, actor=admin_user, by=dt.timedelta(days=366))
    with pytest.raises(DomainError):
        services.move_clock_forward(db, actor=admin_user, by=dt.timedelta(0))
    services.reset_clock(db, actor=admin_user)
    assert services.load_clock_offset(db) is None
    audit = db.query(AuditLog).filter_by(action="demo.clock").order_by(AuditLog.id).all()
    assert [a.after["offset_seconds"] for a in audit] == [3600, 90000, 0]


def test_only_admins_move_the_clock(db, staff_user):
    with pytest.raises(PermissionDeniedError):
        services.move_clock_forward(db, actor=staff_user, by=dt.timedelta(hours=1))


def test_unusable_stored_values_mean_real_time(db):
    db.add(StoreSetting(key="clock_offset_seconds", value="soon"))
    db.flush()
    assert services.load_clock_offset(db) is None
    db.get(StoreSetting, "clock_offset_seconds").value = "-60"
    db.flush()
    assert services.load_clock_offset(db) is None


def test_time_travel_moves_now_for_the_next_request(client, login_as, admin_user, demo_mode, app):
    login_as(admin_user)
    before = clock.now()
    response = client.post("/staff/insights/demo/clock", data={"amount": "1", "unit": "d"})
    assert response.status_code == 302
    page = client.get("/staff/insights/demo")
    assert page.status_code == 200
    # The request loaded the offset into flask.g (the test shares the app context with the client).
    assert clock.get_offset() == dt.timedelta(days=1)
    assert clock.now() - before >= dt.timedelta(days=1)
    assert "1 d" in page.get_data(as_text=True)

    client.post("/staff/insights/demo/clock/reset")
    client.get("/staff/insights/demo")
    assert clock.get_offset() == dt.timedelta(0)


def test_custom_time_travel_validates(client, login_as, admin_user, demo_mode, db):
    login_as(admin_user)
    for data in ({"amount": "0", "unit": "h"}, {"amount": "x", "unit": "h"}, {"amount": "1", "unit": "y"},
                 {"amount": "400", "unit": "d"}):
        response = client.post("/staff/insights/demo/clock", data=data)
        assert response.status_code == 422, data
    assert services.load_clock_offset(db) is None


def test_time_travel_refused_outside_demo_mode(client, login_as, admin_user, db):
    login_as(admin_user)
    assert client.post("/staff/insights/demo/clock", data={"amount": "1", "unit": "h"}).status_code == 403
    assert services.load_clock_offset(db) is None
    assert client.get("/staff/insights/demo").status_code == 403


def test_time_travel_refused_for_staff_customers_anonymous_and_get(client, login_as, staff_user, customer,
                                                                   demo_mode, db, app):
    if "accounts.login" in app.view_functions:  # the login page exists once the accounts area has landed
        response = client.post("/staff/insights/demo/clock", data={"amount": "1", "unit": "h"})
        assert response.status_code == 302 and "/account/login" in response.location
    login_as(customer)
    assert client.post("/staff/insights/demo/clock", data={"amount": "1", "unit": "h"}).status_code == 403
    login_as(staff_user)
    assert client.post("/staff/insights/demo/clock", data={"amount": "1", "unit": "h"}).status_code == 403
    assert client.get("/staff/insights/demo/clock").status_code == 405
    assert services.load_clock_offset(db) is None


def test_stored_offset_is_ignored_outside_demo_mode(client, db, catalog):
    db.add(StoreSetting(key="clock_offset_seconds", value="86400"))
    db.flush()
    client.get("/")
    assert clock.get_offset() == dt.timedelta(0)


def test_cli_clock_follows_the_shared_setting(app, db, demo_mode):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "clock", "forward", "2h"])
    assert result.exit_code == 0, result.output
    assert "offset 2 h" in result.output
    result = runner.invoke(args=["demo", "clock", "show"])
    assert "offset 2 h" in result.output
    result = runner.invoke(args=["demo", "clock", "forward", "soon"])
    assert result.exit_code != 0 and "positive amount" in result.output
    result = runner.invoke(args=["demo", "clock", "reset"])
    assert "offset 0 min" in result.output


def test_cli_clock_refused_outside_demo_mode(app, db):
    result = app.test_cli_runner().invoke(args=["demo", "clock", "forward", "1h"])
    assert result.exit_code != 0 and "demo mode is off" in result.output


def test_with_store_clock_moves_now_in_any_command(app, db, admin_user, demo_mode):
    from storefront.demo.store_clock import with_store_clock

    services.move_clock_forward(db, actor=admin_user, by=dt.timedelta(days=2))

    @with_store_clock
    def command():
        return clock.now()

    from flask import g

    g.pop(clock.G_OFFSET, None)
    assert command() - clock.utcnow() > dt.timedelta(days=1, hours=23)
    assert {"reservations", "test-drives"} <= set(app.cli.commands)
