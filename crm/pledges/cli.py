"""`flask crm pledges ...`"""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

pledges_cli = AppGroup("pledges", help="Adoption pledges.")


@pledges_cli.command("remind")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Act as if it were this date (for a catch-up run).",
)
def remind_command(today):
    """Email progress-report reminders that are due (each one once). Run it daily."""
    from crm.pledges.reminders import send_reminders

    sent, problems = send_reminders(today.date() if today else date.today())
    click.echo(f"{sent} reminder{'s' if sent != 1 else ''} sent.")
    for problem in problems:
        click.echo(f"Not sent: {problem}", err=True)
