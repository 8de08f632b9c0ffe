"""`flask crm worker`: runs all background work (keep one running; `make run` starts it)."""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from crm.core.http import link_base
from crm.core.jobs.worker import Worker
from crm.core.write_lock import only_reads


def _unless_set() -> str:
    if current_app.config.get("SERVER_NAME_FOR_LINKS"):
        return ""
    return " (CRM_BASE_URL is not set; `make run` sets it to the address it serves on)"


@click.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due now, then stop.")
@click.option(
    "--idle",
    type=float,
    default=None,
    help="Seconds between looks for work when idle (PostgreSQL is also woken by NOTIFY).",
)
@with_appcontext
def worker_command(once: bool, idle: float | None) -> None:
    """Run background jobs: emails, campaign sending, imports, reminders, housekeeping."""
    # The app itself, not the proxy, goes to the worker's threads (Flask types current_app as the
    # Flask it stands for, so not the proxy's own method).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # Looking for work only reads; each job's own transactions take the lock (Worker._run).
    only_reads()
    worker = Worker(app, idle_seconds=idle, echo=click.echo)

    def stop(_signum, _frame):
        worker.stop()  # finish the job in hand, then exit

    # The handlers are put back afterwards: the command may run inside another process (tests).
    before = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        click.echo(f"Worker {worker.name} started; Ctrl+C stops it after the job in hand.")
        click.echo(f"Links in emails point to {link_base()}{_unless_set()}.")
        ran = worker.run(once=once)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    click.echo(f"Worker {worker.name} stopped after {ran} job(s).")
