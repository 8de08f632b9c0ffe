"""`flask crm worker`: send what campaigns queued."""

from __future__ import annotations

import signal

import click
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--once", is_flag=True, help="Drain what is due, then stop.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option("--idle", type=float, default=5.0, show_default=True, help="Seconds between polls.")
@with_appcontext
def worker_command(once: bool, batch_size: int, idle: float):
    """Send queued campaign emails (and start scheduled campaigns when due)."""
    from crm.campaigns import delivery, worker

    stopping = {"now": False}

    def stop(_signum, _frame):
        stopping["now"] = True  # finish the batch in hand, then stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run(
        delivery.get_batch_provider(),
        batch_size=batch_size,
        once=once,
        idle_seconds=idle,
        echo=click.echo,
        should_stop=lambda: stopping["now"],
    )
