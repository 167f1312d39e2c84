"""The Alembic revisions build exactly the schema that models/ declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import models
from storefront import database


def test_upgrade_from_empty_matches_models(scratch_database_url):
    database.upgrade(scratch_database_url)
    engine = sa.create_engine(scratch_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, models.Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(scratch_database_url):
    database.upgrade(scratch_database_url)
    database.upgrade(scratch_database_url)  # already at every head: a no-op, not an error
