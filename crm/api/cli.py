"""`flask crm api-token ...`: tokens for scripts, made from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from crm.api import tokens
from crm.auth.operations import find_user_by_email
from crm.core.errors import OperationError
from crm.extensions import db

api_token_cli = AppGroup("api-token", help="Personal access tokens for the API.")


@api_token_cli.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", required=True, help="What uses it, to tell it apart later.")
@click.option("--read-only", is_flag=True, help="A token that may only read.")
@click.option("--days", type=int, default=90, show_default=True, help="How long it lasts.")
def create_command(email: str, name: str, read_only: bool, days: int) -> None:
    """Make a token and print it (only this once): `Authorization: Bearer <token>`."""
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account has the address {email}.")
    try:
        _token, raw = tokens.create(None, user, name=name, read_only=read_only, days=days)
    except OperationError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(raw)
