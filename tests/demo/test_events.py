"""Funnel events: the model page records a view; events share the caller's transaction and carry no identity."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Event, FunnelStep
from storefront.events import record_event
from storefront.visits import SESSION_KEY, visit_key


def _events(db, step=FunnelStep.VIEW):
    return list(db.scalars(select(Event).where(Event.step == step).order_by(Event.id)))


def _sent(response):
    """What a WSGI server does once the body is out: close the response (this runs call_on_close hooks)."""
    assert response.status_code == 200
    response.close()


def test_model_page_records_one_view_with_model_city_and_visit(client, db, catalog):
    kadjar, shanghai = catalog.car_models[0], catalog.cities[0]
    with client.session_transaction() as session:  # a browser whose session began on an earlier page
        session[SESSION_KEY] = "0123456789abcdef"
    _sent(client.get("/models/kadjar"))
    _sent(client.get("/models/kadjar?city=shanghai"))
    views = _events(db)
    assert [(e.car_model_id, e.city_id) for e in views] == [(kadjar.id, None), (kadjar.id, shanghai.id)]
    with client.session_transaction() as session:
        key = session[SESSION_KEY]
    assert key == "0123456789abcdef" and {e.visit_key for e in views} == {key}
    assert all(e.props == {} and e.dealer_id is None for e in views)


def test_the_view_is_written_after_the_page_is_sent_not_before(client, db, catalog):
    response = client.get("/models/kadjar")
    assert _events(db) == []  # the page is ready and nothing has been written yet
    _sent(response)
    assert len(_events(db)) == 1


def test_a_failed_view_write_is_logged_and_the_page_is_unaffected(client, db, catalog, monkeypatch, caplog):
    from sqlalchemy import text

    from storefront import visits

    monkeypatch.setattr(visits, "INSERT_EVENT", text("INSERT INTO no_such_table VALUES (:step)"))
    response = client.get("/models/kadjar")
    assert "Kadjar" in response.get_data(as_text=True)
    _sent(response)
    assert _events(db) == []
    assert "page view not recorded" in caplog.text
    assert db.scalar(select(func.count(Event.id))) == 0  # and the test's transaction is still usable


def test_city_switch_fragment_is_not_a_view(client, db, catalog):
    response = client.get("/models/kadjar?city=beijing&partial=stock", headers={"HX-Request": "true"})
    _sent(response)
    assert _events(db) == []


def test_unknown_model_records_nothing(client, db, catalog):
    response = client.get("/models/no-such-car")
    assert response.status_code == 404
    response.close()
    assert db.scalar(select(func.count(Event.id))) == 0


def test_each_browser_gets_its_own_random_visit_key(app, db, catalog):
    keys = set()
    for _ in range(2):
        with app.test_request_context("/finance/quote"):  # a page that records an event starts the session
            keys.add(visit_key())
    assert len(keys) == 2 and all(len(key) == 16 for key in keys)


def test_a_view_from_a_browser_without_a_session_starts_none(client, db, catalog):
    """Shared catalog pages set no cookie (issue 14): such a view is counted, with no visit key."""
    response = client.get("/models/kadjar")
    _sent(response)
    assert "Set-Cookie" not in response.headers
    assert [e.visit_key for e in _events(db)] == [""]


def test_an_event_is_rolled_back_with_the_action_it_describes(db, catalog):
    """record_event writes in the caller's transaction: when the action fails, its event goes too."""
    kept = db.begin_nested()
    record_event(db, FunnelStep.QUOTE, car_model_id=catalog.car_models[0].id, finance_kind="loan")
    kept.commit()
    failed = db.begin_nested()
    record_event(db, FunnelStep.RESERVE, car_model_id=catalog.car_models[0].id, dealer_id=catalog.dealers[0].id)
    catalog.vehicles[0].colour_code = "changed"
    db.flush()
    failed.rollback()
    assert [e.step for e in db.scalars(select(Event))] == [FunnelStep.QUOTE]
    assert db.scalar(select(Event)).props == {"finance_kind": "loan"}


@pytest.mark.parametrize("value", [12, "12", None])
def test_props_are_stored_as_strings(db, catalog, value):
    record_event(db, FunnelStep.PAY, amount_cny=value)
    assert db.scalar(select(Event.props)) == {"amount_cny": str(value)}


def test_on_a_real_engine_the_view_commits_on_its_own_after_the_page(scratch_database_url):
    """The production path (no test transaction around it): the view goes in through the engine in its own
    autocommitted statement (on PostgreSQL the one with synchronous_commit off) and is there for every
    other connection to see."""
    import sqlalchemy as sa

    import config
    from storefront import create_app, database
    from storefront.catalog.seed import seed_catalog
    from storefront.extensions import db as flask_db

    database.upgrade(scratch_database_url)
    app = create_app(config.TestingConfig(), SQLALCHEMY_ENGINES={"default": scratch_database_url})
    with app.app_context():
        seed_catalog(flask_db.session)
        flask_db.session.commit()
    browser = app.test_client()
    with browser.session_transaction() as session:  # a browser whose session began on an earlier page
        session[SESSION_KEY] = "0123456789abcdef"
    for _ in range(3):
        _sent(browser.get("/models/koleos"))
    other = sa.create_engine(scratch_database_url)
    try:
        with other.connect() as connection:
            rows = connection.execute(sa.text("SELECT step, visit_key FROM events")).all()
    finally:
        other.dispose()
        with app.app_context():
            flask_db.engine.dispose()
    assert [step for step, _ in rows] == ["view"] * 3
    assert len({key for _, key in rows}) == 1 and len(rows[0][1]) == 16


def test_a_busy_worker_writes_its_views_in_batches(scratch_database_url, monkeypatch):
    """VIEW_BATCH_SECONDS > 0: views wait in the worker and go in together, one INSERT per batch."""
    import sqlalchemy as sa

    from storefront import visits
    from storefront.events import event_row

    monkeypatch.setattr(visits, "VIEW_BATCH_ROWS", 3)
    monkeypatch.setattr(visits, "_waiting", [])
    engine = sa.create_engine(scratch_database_url)
    try:
        Event.metadata.create_all(engine)
        statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        for _ in range(2):
            visits._queue_view(engine, event_row(FunnelStep.VIEW, car_model_id=None), batch_seconds=60)
        assert not [s for s in statements if s.startswith("INSERT")]  # still waiting
        visits._queue_view(engine, event_row(FunnelStep.VIEW, car_model_id=None), batch_seconds=60)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM events")).scalar() == 3
        assert len([s for s in statements if s.startswith("INSERT")]) == 1
    finally:
        engine.dispose()
