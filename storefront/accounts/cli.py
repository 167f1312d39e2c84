"""`flask users create-admin`: the first admin of a fresh store (or another one later)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from models import Role
from storefront.errors import DomainError


@click.command("create-admin")
@click.option("--email", prompt=True, help="Sign-in email of the new admin.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 12 characters; asked for (hidden) when left out.")
@click.option("--name", default="", help="Display name.")
@with_appcontext
def create_admin_command(email: str, password: str, name: str) -> None:
    """Create an admin account."""
    from storefront.accounts.services import create_user
    from storefront.extensions import db

    with force_locale("en"):
        try:
            user = create_user(db.session, email=email, password=password, name=name, role=Role.ADMIN)
        except DomainError as error:
            raise click.ClickException(error.user_message) from None
    db.session.commit()
    click.echo(f"admin {user.email} created (id {user.id})")
