"""An import in short transactions, so that it never keeps others from saving for long.

SQLite lets one transaction write at a time. An import that checked its rows inside its write
transaction held the lock for the whole file (25 s per 100,000 rows): saves waited, then gave
up. Here the whole file is read, validated and matched in a transaction that only reads (it
takes no lock), which then ends (`check_without_lock`).

Then the rows are written. Even the engine's own floor, one executemany into a table of a
million contacts with its indexes and its search index, holds SQLite's lock about 3 s per
100,000 rows (benchmarks/README.md), and a 1M-row file ten times that; so no single
transaction can keep a save's wait under the 2 s the CRM promises. On SQLite the rows are
written part after part (`write_in_steps`), each part in a transaction of its own that takes
the write lock as it begins and holds it about `STEP_SECONDS` (the part's size follows how
long the last one took): a save waits at most that long, between two parts. Each part checks
again what others changed since (`Importer.recheck`: a contact made meanwhile with an email the
file took for new is matched, not written twice) and writes its undo items with its rows. The
last part marks the run done. All or nothing, as the user sees it: whatever stops the import
after a part was written (an error, a refusal, Ctrl-C, a worker that dies) marks the run failed
and takes back what its parts wrote (`operations.fail`, from the undo items); the records were
visible to others for those seconds, and their trails say they were made and removed.

PostgreSQL locks rows, not the database: there the rows are written in one transaction
(`write_with_lock`), which keeps all or nothing to the engine; so does a dry run on either
engine (rolled back) and a small file imported while the page waits.

Used by `flask crm import` and the worker's `imports.run` job; each commits the last write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crm.auth.models import User
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.gc_pause import paused_gc
from crm.core.write_lock import is_locked, transactions
from crm.extensions import db
from crm.imports import operations, running
from crm.imports.models import ImportRun, RunStatus

STEP_SECONDS = 0.3  # how long one part of a file written in steps holds SQLite's write lock
# How long the import lets go of the lock between two parts: longer than the longest sleep of
# SQLite's busy handler (100 ms), so that every save waiting for the lock tries again, and one
# gets it, before the next part takes it back (the lock is not a queue: without this pause an
# import that begins its next part at once wins it again and again, and a save can wait 10 s).
STEP_PAUSE = 0.15
FIRST_STEP_ROWS = 1000  # rows of the first part; the next follow how long it took
STEP_ROWS = (200, 50_000)  # the fewest and the most rows of one part
# How many times a part waits `busy_timeout` for the lock before the import gives up: the lock
# is no queue, and on a busy server (40 people saving at once, load 16) a part once waited
# 12 s; the import then failed and took back 42,000 rows. Waiting holds nothing: try again.
PART_LOCK_TRIES = 6


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


def writes_in_steps() -> bool:
    """Whether an import writes its rows part after part: on SQLite, where one transaction at
    a time writes to the whole database."""
    return db.session.get_bind().dialect.name == "sqlite"


def write_in_steps(
    checked: Checked,
    *,
    progress: running.Progress | None = None,
    commit: Callable[[], None] | None = None,
    held: Callable[[float], None] | None = None,
) -> running.Outcome:
    """Write a checked file part after part, each part in a transaction of its own that takes
    the write lock as it begins and is committed by `commit` (the session's commit unless the
    caller's also records something, as a job's checkpoint does); the run is marked done in
    the last, flushed, not committed: the caller commits it. `held` is told how long each
    part's transaction held the lock (for benchmarks/import_writers.py)."""
    with paused_gc():  # a collection walks the whole plan: seconds, with the lock held
        return _write_in_steps(checked, progress, commit or db.session.commit, held)


def _write_in_steps(
    checked: Checked,
    progress: running.Progress | None,
    commit: Callable[[], None],
    held: Callable[[float], None] | None,
) -> running.Outcome:
    planned, run_id = checked.planned, checked.run_id
    rows = planned.rows
    total = len(rows)
    size, start = FIRST_STEP_ROWS, 0
    while start < total:
        with transactions(writing=True):
            _take_the_lock(run_id)
            began = time.perf_counter()
            part = rows[start : start + size]
            running.write_part(planned.importer, part, run_id)
            commit()
        spent = time.perf_counter() - began
        if held:
            held(spent)
        start += len(part)
        size = _next_size(size, spent)
        if progress:
            progress(total // 2 + (total - total // 2) * start // total, total)
        if start < total:
            time.sleep(STEP_PAUSE)
    with transactions(writing=True):
        _take_the_lock(run_id)
        return operations.finish_planned(_run(run_id), planned, progress=progress)


def _take_the_lock(run_id: int) -> None:
    """Begin a part's transaction with its first statement, which takes SQLite's write lock,
    waiting for it up to `PART_LOCK_TRIES` times `busy_timeout`: nothing is written before it,
    so a wait that ran out is only tried again."""
    for attempt in range(1, PART_LOCK_TRIES + 1):
        db.session.rollback()  # nothing in hand: the part's first statement takes the lock
        try:
            _mark_running(run_id)
            return
        except sa.exc.OperationalError as error:
            if not is_locked(error) or attempt == PART_LOCK_TRIES:
                raise


def _next_size(size: int, spent: float) -> int:
    """Rows for the next part, so that it holds the lock about `STEP_SECONDS`: the last
    part's pace, growing at most twofold at a time (a busy machine's pace varies)."""
    wanted = size * STEP_SECONDS / max(spent, 1e-3)
    low, high = STEP_ROWS
    return int(max(low, min(high, size * 2, max(size / 4, wanted))))


def _mark_running(run_id: int) -> None:
    """The first statement of each part: it takes SQLite's write lock, and checks that the run
    still waits for its rows (nothing marked it failed meanwhile)."""
    started = ImportRun.__table__.c.started_at
    touched = rows_touched(
        db.session.execute(
            sa.update(ImportRun.__table__)
            .where(
                ImportRun.id == run_id,
                ImportRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)),
            )
            .values(
                status=RunStatus.RUNNING,
                started_at=sa.func.coalesce(
                    ImportRun.started_at, sa.bindparam("now", utcnow(), type_=started.type)
                ),
            )
        )
    )
    if not touched:
        raise OperationError("This import was ended meanwhile (it is no longer running).")


def _run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        raise OperationError(f"Import #{run_id} no longer exists; there is nothing to import.")
    return run
