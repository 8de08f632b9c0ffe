"""Imports as jobs: a file over `CRM_IMPORT_BACKGROUND_ROWS` is imported by `flask crm worker`.

The "Import" button queues an `imports.run` job in the request's transaction (the run goes from
draft to queued). A worker runs the whole import in the job's transaction, which commits with
the job marked done: an import either committed or did not. A worker killed mid-import commits
nothing; the queue gives the job to another worker (when the lease lapses on PostgreSQL, or when
the next worker takes SQLite's lock), and the import runs again from the start.

A refusal (`OperationError`: the file changed its mind about being importable) is the run's
outcome, not the job's failure: the handler rolls back, marks the run failed with the reason,
and returns, so the failed run and the finished job commit together. A crash (a bug) marks the
run failed too and is raised, so the Jobs page shows the error. Whatever ends the job with the
run still queued (the last attempt's worker died, a cancel on the Jobs page) is shown from the
job at once (`crm.imports.queries`) and written on the run by the hourly housekeeping.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.housekeeping import task
from crm.core.jobs import Job, JobContext, Retry, enqueue, handler
from crm.core.jobs.worker import TRANSIENT
from crm.core.write_lock import is_locked
from crm.extensions import db
from crm.imports import operations, staged, uploads
from crm.imports.models import RUN_JOB, ImportRun, RunStatus
from crm.imports.queries import OPEN, from_a_terminal, job_failure, jobs_for
from crm.imports.undo import half_written, take_back

log = logging.getLogger(__name__)

FAIL_TRIES = 3  # attempts at marking a run failed, each in a transaction of its own
CRASHED = "The import stopped on an unexpected error and was rolled back."


def queue_run(actor: Any, run: ImportRun) -> Job:
    """Queue the import of `run` in the caller's transaction; refused if it cannot run."""
    operations.ready(run)
    if run.status is not RunStatus.DRAFT:
        raise OperationError("This import is already waiting for a worker; it runs once.")
    run.status = RunStatus.QUEUED
    db.session.flush()
    return enqueue(RUN_JOB, {"run_id": run.id}, unique_key=run.job_key, actor=actor)


def _describe(payload: dict) -> str:
    run = db.session.get(ImportRun, payload.get("run_id") or 0)
    if run is None:
        return f"Import #{payload.get('run_id')}"
    return f"{run.record_type.label} from {run.file_name} ({run.total_rows:,} rows)"


class _TakenOver(OperationError):
    """Another worker took the job over (this one looked dead): the run is its now."""


@handler(RUN_JOB, label="Import", max_attempts=3, describe=_describe)
def run_import(payload: dict, job: JobContext) -> dict:
    """Check the whole file without the write lock, then write it (`crm.imports.staged`): on
    SQLite part after part, each part committed with the job's checkpoint (refused if another
    worker has taken the job over), the last with the job; on PostgreSQL in the job's
    transaction, which commits with the job marked done."""
    run_id = int(payload["run_id"])
    job.progress(0, 0)
    try:
        _start_again_if_stopped(run_id)
        checked = staged.check_without_lock(
            job.created_by_id, run_id, ready=_still_waiting, progress=job.progress
        )
        if staged.writes_in_steps():
            outcome = staged.write_in_steps(
                checked, progress=job.progress, commit=lambda: _commit_part(job, run_id)
            )
        else:
            # The write begins with a write to the run: the row is locked first.
            if not _write_first(run_id, ImportRun.status == RunStatus.QUEUED.value,
                                started_at=utcnow()):  # fmt: skip
                _still_waiting(_reread(run_id))  # says why it no longer waits
            outcome = staged.write_with_lock(checked, progress=job.progress)
    except _TakenOver:
        raise  # the job and its run are another worker's now: neither is touched
    except OperationError as error:
        db.session.rollback()
        run = db.session.get(ImportRun, run_id)
        if run is None or run.status not in OPEN:
            raise  # no run waits on this job: the job fails with the reason
        _write_first(run_id, finished_at=utcnow())
        operations.fail(_reread(run_id), error.message)
        return {"refused": error.message}  # committed with the job: the run failed, nothing in
    except (Retry, *TRANSIENT) as error:
        if job.attempts < job.max_attempts:
            raise  # the worker tries again later; the run stays queued
        _fail_now(run_id, _unavailable(error))
        raise
    except Exception:
        log.exception("Import %s stopped on an unexpected error", run_id)
        _fail_now(run_id, CRASHED)
        raise  # the job is failed with the error, for the Jobs page
    return {
        "created": outcome.created,
        "updated": outcome.updated,
        "skipped": outcome.skipped,
        "failed": outcome.failed,
    }


def _commit_part(job: JobContext, run_id: int) -> None:
    """A part of the file committed with the job's checkpoint, only while this worker still
    holds the job: one that looked dead and was replaced writes no more."""
    try:
        job.save_checkpoint({"run_id": run_id, "writing": True})
    except OperationError as error:
        raise _TakenOver(error.message) from None


def _start_again_if_stopped(run_id: int) -> None:
    """A run left running by an earlier attempt whose worker died (SQLite: it had written some
    parts of the file) is taken back and queued again, in a transaction of its own: this
    attempt imports the file from the start, once."""
    db.session.rollback()
    run = db.session.get(ImportRun, run_id)  # a job's transaction takes the lock first (SQLite)
    if run is not None and run.status is RunStatus.RUNNING:
        if half_written(run):
            take_back(None, run)
        run.status = RunStatus.QUEUED
        db.session.commit()
        log.warning("Import %s: what an attempt that stopped had written was taken back", run_id)
    db.session.rollback()


def _still_waiting(run: ImportRun) -> None:
    if run.status is not RunStatus.QUEUED:
        raise OperationError(
            f"This import is no longer waiting to run ({run.status.label.lower()}); each "
            "upload is imported once."
        )


def _unavailable(error: BaseException) -> str:
    if is_locked(error):
        return (
            "The database stayed busy (another change held its write lock) on each try; "
            "nothing was imported."
        )
    return "The database was unavailable on each try."


def _write_first(run_id: int, *only: sa.ColumnElement[bool], **values: Any) -> int:
    """Start the transaction with a write to the run (`values`), so on SQLite it takes the
    write lock before reading anything: a transaction that has read cannot start writing once
    another has written. Returns how many runs matched (0 or 1)."""
    return rows_touched(
        db.session.execute(
            sa.update(ImportRun.__table__).where(ImportRun.id == run_id, *only).values(**values)
        )
    )


def _reread(run_id: int) -> ImportRun:
    """The run read again after a rollback."""
    run = db.session.get(ImportRun, run_id)
    assert run is not None, "a run that has a job is never deleted (only a draft is discarded)"
    return run


def _fail_now(run_id: int, message: str) -> None:
    """Mark the run failed in a transaction of its own, before the worker records the job's
    failure. Tried a few times (each waits `busy_timeout` for SQLite's lock); if even that
    cannot be written, the hourly housekeeping does it from the failed job."""
    for _ in range(FAIL_TRIES):
        db.session.rollback()
        try:
            _write_first(run_id, finished_at=utcnow())
            operations.fail(_reread(run_id), message)
            db.session.commit()
            return
        except Exception:  # noqa: BLE001 - the job's own failure is still recorded by the worker
            db.session.rollback()
            log.warning("Import %s: could not mark the run failed", run_id, exc_info=True)


# --- housekeeping (run by the hourly `housekeeping` job) -------------------------------------


@task("import runs whose job ended")
def _fail_orphaned_runs(now: datetime) -> int:
    """Runs whose job ended without them (a worker died on the last attempt, an admin cancelled
    the job) are failed with the reason."""
    open_runs = db.session.scalars(
        sa.select(ImportRun).where(ImportRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
    ).all()
    jobs = jobs_for(open_runs)
    failed = 0
    for run in open_runs:
        job = jobs.get(run.id)
        if job is None and from_a_terminal(run, now):
            continue
        reason = job_failure(job)
        if reason:
            operations.fail(run, reason)
            failed += 1
    return failed


@task("uploads never imported")
def _stale_drafts(now: datetime) -> int:
    return uploads.forget_stale_drafts()


@task("uploads no run needs")
def _ended_uploads(now: datetime) -> int:
    return uploads.forget_ended_uploads()


@task("cached copies of uploads")
def _cache_files(now: datetime) -> int:
    """This machine's cached copies of ended runs (each machine sweeps its own)."""
    return uploads.sweep_cache()
