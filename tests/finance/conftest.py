"""Fixtures for the finance tests: the demo finance products on the small catalog, and a CSRF-enabled app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import models
from storefront.extensions import db as flask_db
from storefront.finance.seed import seed_finance
from tests import factories
from tests.conftest import make_app


@pytest.fixture
def products(db: Session, catalog: factories.Catalog) -> dict[str, models.FinanceProduct]:
    """The seeded products by code (the small catalog has Renault and Ford, so no Lincoln product),
    committed to the test's outer transaction so a route's rollback keeps them."""
    seed_finance(db)
    db.commit()
    return {product.code: product for product in db.scalars(select(models.FinanceProduct))}


@pytest.fixture
def kadjar(catalog: factories.Catalog) -> models.Trim:
    return catalog.trims[0]  # Renault Kadjar 2.0L, ¥160,000, petrol


@pytest.fixture
def mach_e(catalog: factories.Catalog) -> models.Trim:
    return catalog.trims[2]  # Ford Mustang Mach-E, ¥265,000, electric


@pytest.fixture
def make_test_app(db: Session, database_url: str) -> Iterator[Callable[..., Flask]]:
    """An app with config overrides whose sessions join the `db` fixture's transaction (rolled back after)."""
    connection = db.connection()
    built: list[Flask] = []

    def _make(**overrides: Any) -> Flask:
        other = make_app(database_url, **overrides)
        with other.app_context():
            flask_db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
        built.append(other)
        return other

    yield _make
    for other in built:
        with other.app_context():
            flask_db.engine.dispose()


@pytest.fixture
def csrf_app(make_test_app: Callable[..., Flask]) -> Flask:
    return make_test_app(WTF_CSRF_ENABLED=True)


def sign_in(client, user: models.User):  # type: ignore[no-untyped-def]
    """Signed in with the password just typed (product edits need a fresh login)."""
    from storefront.auth import mark_fresh_login
    from tests.conftest import login

    login(client, user)
    with client.session_transaction() as session, client.application.app_context():
        mark_fresh_login(session)
    return client
