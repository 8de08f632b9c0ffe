"""An import in two transactions, so that it never keeps others from saving for long.

SQLite lets one transaction write at a time. An import that checked its rows inside its write
transaction held the lock for the whole file (25 s per 100,000 rows): saves waited, then gave
up. Here the whole file is read, validated and matched in a transaction that only reads (it
takes no lock), which then ends; the rows are written in a transaction of their own, which
takes the write lock when it begins and checks again, cheaply, what others may have changed
in between (`Importer.recheck`). On PostgreSQL the same split keeps the rows' locks short.

Used by `flask crm import` and the worker's `imports.run` job; each commits the write itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm.auth.models import User
from crm.core.errors import OperationError
from crm.core.write_lock import transactions
from crm.extensions import db
from crm.imports import operations, running
from crm.imports.models import ImportRun


@dataclass
class Checked:
    """A file checked, not yet written, and how long checking took."""

    run_id: int
    planned: running.Plan
    seconds: float


def check_without_lock(
    actor_id: int | None,
    run_id: int,
    *,
    ready: Callable[[ImportRun], None] | None = None,
    progress: running.Progress | None = None,
) -> Checked:
    """Read, validate and match the whole file of run `run_id` in a transaction that only
    reads, and end it. `ready` may refuse the run (an `OperationError`) before it is read."""
    started = time.perf_counter()
    db.session.rollback()  # whatever was in hand ends before the reading transaction begins
    with transactions(writing=False):
        try:
            run = _run(run_id)
            if ready:
                ready(run)
            actor = db.session.get(User, actor_id) if actor_id else None
            planned = operations.plan(actor, run, progress=progress)
        finally:
            db.session.rollback()  # the read ends here: the write begins a transaction afresh
    return Checked(run_id, planned, time.perf_counter() - started)


def write_with_lock(checked: Checked, *, progress: running.Progress | None = None) -> Any:
    """Write a checked file in a transaction that takes the write lock as it begins (the
    caller's first statement in it may have taken it already); flushed, not committed."""
    with transactions(writing=True):
        run = _run(checked.run_id)
        return operations.write_planned(run, checked.planned, progress=progress)


def _run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        raise OperationError(f"Import #{run_id} no longer exists; there is nothing to import.")
    return run
