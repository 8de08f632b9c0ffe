"""`flask crm pledges ...`"""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from crm.extensions import db
from crm.pledges.reminders import queue_reminders

pledges_cli = AppGroup("pledges", help="Adoption pledges.")


@pledges_cli.command("remind")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if it were this date (for a catch-up run).",
)
def remind_command(today):
    """Queue the progress-report reminders that are due (each one once); the worker sends them.
    The worker also does this by itself every day: this is for a catch-up run."""
    queued, problems = queue_reminders(today.date() if today else date.today())
    db.session.commit()  # the reminders recorded and their emails queued, together
    click.echo(
        f"{queued} reminder{'s' if queued != 1 else ''} queued"
        + (f"; a worker sends {'them' if queued != 1 else 'it'}." if queued else ".")
    )
    for problem in problems:
        click.echo(f"Not queued: {problem}", err=True)
