"""Fixtures for the back office: committed starting data and signed-in staff/admin clients."""

from __future__ import annotations

import pytest

import models
from storefront.auth import mark_fresh_login
from tests import factories


@pytest.fixture
def other_staff(db, catalog) -> models.User:
    """A second staff member working at the Beijing showroom only."""
    user = factories.make_user(db, email="colleague@example.com", role=models.Role.STAFF)
    user.dealers.append(catalog.dealers[2])
    db.flush()
    return user


@pytest.fixture
def setup(db, catalog, staff_user, admin_user, other_staff, customer) -> factories.Catalog:
    """Everything committed to the test's outer transaction, so a route's rollback keeps it."""
    db.commit()
    return catalog


def sign_in(client, user: models.User, *, fresh: bool = True):  # type: ignore[no-untyped-def]
    """Sign in on the test client; `fresh` = the password was typed just now (price and role changes need it)."""
    from flask import g

    from tests.conftest import login

    # Requests share the test's app context, where Flask-Login caches the user and Flask-Babel the locale.
    g.pop("_login_user", None)
    g.pop("_flask_babel", None)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # messages in these tests are checked in English
    login(client, user)
    with client.session_transaction() as session:
        if fresh:
            with client.application.app_context():
                mark_fresh_login(session)
        else:
            session["_fresh"] = False
    return client


@pytest.fixture
def app_queries(app):  # type: ignore[no-untyped-def]
    """Like count_queries, but lists the app's statements (the test harness's SAVEPOINTs are left out)."""
    from contextlib import contextmanager

    import sqlalchemy as sa

    from storefront.extensions import db as flask_db

    @contextmanager
    def _record():  # type: ignore[no-untyped-def]
        statements: list[str] = []

        def before_execute(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO")):
                statements.append(statement)

        with app.app_context():
            engine = flask_db.engine
        sa.event.listen(engine, "before_cursor_execute", before_execute)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", before_execute)

    return _record


@pytest.fixture
def staff_client(client, setup, staff_user):  # type: ignore[no-untyped-def]
    return sign_in(client, staff_user)


@pytest.fixture
def admin_client(client, setup, admin_user):  # type: ignore[no-untyped-def]
    return sign_in(client, admin_user)
