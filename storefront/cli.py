"""App-wide CLI commands (`flask db upgrade`); each area adds its own group on its blueprint."""

from __future__ import annotations

import click
from flask import Flask, current_app

from config import engine_url
from storefront import database


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="heads")
def upgrade_command(revision: str) -> None:
    """Apply migrations up to REVISION (default: every head)."""
    url = engine_url(current_app.config["SQLALCHEMY_ENGINES"]["default"])
    database.upgrade(url, revision)
    click.echo(f"database upgraded to {revision}")




# Each area's seed function, in dependency order; `flask seed` (and demo reset) run them all.
SEEDERS = (
    "storefront.catalog.seed:seed_catalog",
    "storefront.accounts.seed:seed_accounts",
    "storefront.finance.seed:seed_finance",
    "storefront.test_drives.seed:seed_test_drives",
    "storefront.reservations.seed:seed_deposit_policies",
    "storefront.demo.allocation:seed_tour_allocation",  # after the catalog: the guided tour's own Koleos
    "storefront.presale.seed:seed_presale",
    "storefront.demo.seed:seed_demo_history",  # last: its events point at catalog rows
)


def run_seeders(session: object) -> list[str]:
    """Run every area's idempotent seeder in order; returns one summary line per area."""
    import importlib

    lines = []
    for target in SEEDERS:
        module_name, _, function_name = target.partition(":")
        seeder = getattr(importlib.import_module(module_name), function_name)
        lines.append(f"{module_name}: {seeder(session)}")
    return lines


@click.command("seed")
def seed_command() -> None:
    """Seed the demo store (catalog, accounts, schedules, finance products...); safe to run again."""
    from storefront.catalog.seed import analyze
    from storefront.extensions import db

    for line in run_seeders(db.session):
        click.echo(line)
    db.session.commit()
    analyze(db.session)


def init_app(app: Flask) -> None:
    from storefront.outbox import outbox_group

    app.cli.add_command(db_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(seed_command)
