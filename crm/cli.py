"""`flask crm ...` commands. Each one commits once at its end, like a request."""

from __future__ import annotations

import secrets
import sys
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from crm.api.cli import api_token_cli
from crm.auth import operations, two_factor
from crm.auth.models import User
from crm.core.access import Role
from crm.core.errors import OperationError
from crm.core.jobs.cli import worker_command
from crm.core.write_lock import is_locked
from crm.demo import bulk, sample
from crm.extensions import db
from crm.imports.cli import import_command
from crm.pledges.cli import pledges_cli
from crm.reports.cli import report_command


class CommandGroup(AppGroup):
    """`flask crm`: a wait for SQLite's write lock that runs out is told as such, never as a
    traceback (a command's transactions wait `busy_timeout` for the lock, as a save does)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except sa.exc.OperationalError as error:
            if not is_locked(error):
                raise
            raise click.ClickException(
                "The database is busy: another change held its write lock for longer than a "
                "command waits for it. Nothing was changed; run the command again in a minute."
            ) from None


crm_cli = CommandGroup("crm", help="WEST Advocacy CRM commands.")


@crm_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    type=click.Choice(["admin", "lead", "volunteer", "champion", "org_rep", "viewer"]),
    default="lead",
    show_default=True,
)
@click.option("--password", help="Leave out to be asked (hidden), or use --invite.")
@click.option("--invite", is_flag=True, help="Email an invitation link instead of a password.")
def create_user_command(email: str, name: str, role: str, password: str | None, invite: bool):
    """Create an account."""
    if not invite and password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = operations.create_user(
            None,
            email=email,
            name=name,
            role=Role(role),
            password=None if invite else password,
            min_password_length=current_app.config["PASSWORD_MIN_LENGTH"],
        )
        if invite:
            operations.invite(None, user)  # the email is a job, committed with the account
    except OperationError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    if invite:
        click.echo(
            f"Created {user.email} ({role}); the invitation is queued and goes out as soon as "
            "a worker runs (`flask --app wsgi crm worker`)."
        )
    else:
        click.echo(f"Created {user.email} ({role}).")


@crm_cli.command("reset-two-factor")
@click.option("--email", required=True)
def reset_two_factor_command(email: str):
    """Remove an account's second factor (an admin who lost their phone and recovery codes)."""
    user = operations.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no account for {email}.")
    try:
        two_factor.reset(None, user)
    except OperationError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Two-factor sign-in of {user.email} is reset: they sign in with the password.")


@crm_cli.command("demo")
@click.option("--contacts", type=int, default=None, help="Generate this many contacts in bulk.")
@click.option("--organizations", type=int, default=None, help="Generate this many organizations.")
@click.option("--seed", type=int, default=2017, show_default=True)
def demo_command(contacts: int | None, organizations: int | None, seed: int):
    """Load realistic demo data; with --contacts/--organizations, bulk scale data."""
    if contacts is None and organizations is None:
        summary = sample.load_demo(seed=seed)
        db.session.commit()
        click.echo(summary)
        return
    result = bulk.generate(
        contacts=contacts or 0,
        organizations=organizations or max(1, (contacts or 0) // 10),
        seed=seed,
        progress=lambda msg: click.echo(msg, err=True),
    )
    click.echo(result)


@crm_cli.command("bootstrap")
def bootstrap_command():
    """First start: demo data and an admin account when the database has no users yet."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        click.echo("Database already set up; nothing to do.")
        return
    email = current_app.config["ADMIN_EMAIL"]
    password = current_app.config["ADMIN_PASSWORD"]
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    try:
        admin = operations.create_user(
            None,
            email=email,
            name="Administrator",
            role=Role.ADMIN,
            password=password,
            min_password_length=current_app.config["PASSWORD_MIN_LENGTH"],
        )
    except OperationError as exc:
        db.session.rollback()
        raise click.ClickException(f"CRM_ADMIN_EMAIL / CRM_ADMIN_PASSWORD: {exc.message}") from None
    summary = sample.load_demo(seed=2017, admin=admin)
    db.session.commit()
    click.echo(summary)
    bar = "=" * 64
    click.echo(f"\n{bar}\n  Admin login: {email}")
    if generated:
        click.echo(
            f"  Password:    {password}\n  (shown once; set CRM_ADMIN_PASSWORD to choose it)"
        )
    click.echo(f"  Demo users for each role share the password: {sample.DEMO_PASSWORD}")
    click.echo(f"{bar}\n")
    sys.stdout.flush()


def _register_domain_commands() -> None:
    crm_cli.add_command(pledges_cli)
    crm_cli.add_command(worker_command)
    crm_cli.add_command(report_command)
    crm_cli.add_command(import_command)
    crm_cli.add_command(api_token_cli)


_register_domain_commands()
