"""Fixtures of the partner API tests: API keys scoped to showrooms of the small catalog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

import models
from storefront import clock
from storefront.api import services
from tests import factories


@pytest.fixture
def issue_key(db: Session, admin_user: models.User) -> Callable[..., tuple[models.ApiKey, str]]:
    def _issue(dealers: list[models.Dealer], *, name: str = "DMS", rate_limit: int = 1000) -> tuple[models.ApiKey, str]:
        issued = services.issue_key(db, actor=admin_user, name=name, dealers=dealers, rate_limit_per_minute=rate_limit,
                                    at=clock.now())
        db.commit()  # only a SAVEPOINT (see tests/conftest.py): survives a route's rollback, gone after the test
        return issued

    return _issue


@pytest.fixture
def shanghai_key(catalog: factories.Catalog, issue_key) -> str:  # type: ignore[no-untyped-def]
    """A key of showroom SH-1 only."""
    _key, secret = issue_key([catalog.dealers[0]], name="SH-1 DMS")
    return secret


def bearer(secret: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **headers}


@pytest.fixture
def committed(db: Session, catalog: factories.Catalog, admin_user: models.User, staff_user: models.User,
              customer: models.User) -> factories.Catalog:
    """The catalog and one user of each role, committed to the test's savepoint so a route's rollback keeps them."""
    db.commit()
    return catalog
