"""Reading import runs: the latest, and where each is as every web process sees it: the run's
own row once it has ended, and until then its job (`imports.run:<run id>`): waiting, running
with its progress, or ended without the run (failed on its last attempt, cancelled). Nothing
here lives in one process's memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.db import utcnow
from crm.core.jobs import Job, JobStatus
from crm.core.jobs.presence import progress_of, workers_seen
from crm.extensions import db
from crm.imports.models import ImportRun, RunStatus

WORKER_COMMAND = "flask --app wsgi crm worker"
OPEN = (RunStatus.QUEUED, RunStatus.RUNNING)  # committed statuses that wait on a job
CLI_LONGEST = timedelta(hours=2)  # far longer than a million-row import from the command line


def latest_runs(limit: int = 100) -> list[ImportRun]:
    """The latest runs, newest first, for the imports page."""
    return list(
        db.session.scalars(
            sa.select(ImportRun)
            .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
            .limit(limit)
        )
    )


def job_for(run: ImportRun) -> Job | None:
    return db.session.scalar(sa.select(Job).where(Job.unique_key == run.job_key))


def jobs_for(runs: Iterable[ImportRun]) -> dict[int, Job]:
    """The jobs of the runs still open, by run id, in one query."""
    keys = {run.job_key: run.id for run in runs if run.status in OPEN}
    if not keys:
        return {}
    found = {}
    for job in db.session.scalars(sa.select(Job).where(Job.unique_key.in_(list(keys)))):
        assert job.unique_key is not None, "selected by its key"
        found[keys[job.unique_key]] = job
    return found


def job_failure(job: Job | None) -> str | None:
    """Why an open run has ended, when its job ended without it; None while the job goes on."""
    if job is None:  # queued or running before imports were jobs: its thread is gone
        return "The import stopped when the server restarted."
    if job.status is JobStatus.CANCELLED:
        return "The import was cancelled before it ran."
    if job.status is JobStatus.FAILED:
        reason = (job.last_error or "Its job failed").strip()
        return reason if reason.endswith(".") else f"{reason}."
    return None


def from_a_terminal(run: ImportRun, now: datetime | None = None) -> bool:
    """A run `flask crm import` is running: it has no job, and ends itself, done or failed.
    Only one running for longer than any import takes has lost its process (killed)."""
    started = run.started_at
    return (
        run.status is RunStatus.RUNNING
        and started is not None
        and (now or utcnow()) - started < CLI_LONGEST
    )


def shown_status(run: ImportRun, job: Job | None) -> RunStatus:
    """The run's status, or while it is open, its job's."""
    if run.status not in OPEN:
        return run.status
    if job is None and from_a_terminal(run):
        return RunStatus.RUNNING
    if job is None or job_failure(job):  # no job: it failed (see job_failure)
        return RunStatus.FAILED
    if job.status is JobStatus.DONE:  # the run is committed with its job; read it again
        return run.status
    return RunStatus.RUNNING if job.status is JobStatus.RUNNING else RunStatus.QUEUED


def shown_statuses(runs: Iterable[ImportRun]) -> dict[int, RunStatus]:
    """For a list of runs: the status to show, where it is not the run's own."""
    runs = list(runs)
    jobs = jobs_for(runs)
    return {
        run.id: status
        for run in runs
        if run.status in OPEN and (status := shown_status(run, jobs.get(run.id))) != run.status
    }


@dataclass
class RunState:
    status: str
    label: str
    finished: bool
    done: int
    total: int
    percent: int
    message: str | None  # why it failed
    no_worker: bool  # it waits for a worker and none is running
    again: bool  # a worker stopped in the middle of it; it starts again from the beginning

    def as_json(self) -> dict:
        return asdict(self)


def state_of(run: ImportRun) -> RunState:
    job = job_for(run) if run.status in OPEN else None
    if job is not None and job.status is JobStatus.DONE:
        db.session.refresh(run)  # it committed with its job after the run was read
    status = shown_status(run, job)
    total = max(run.total_rows, 1)
    done = total if status is RunStatus.DONE else 0
    message = run.message if run.status is RunStatus.FAILED else None
    if run.status in OPEN and status is RunStatus.FAILED:
        message = job_failure(job)
    if status is RunStatus.RUNNING and job is not None:  # without: a terminal's, not followed
        progress = progress_of(job)
        done = progress.done or 0
        total = max(progress.total or total, done, 1)
    waiting = status in OPEN
    return RunState(
        status=status.value,
        label=status.label,
        finished=not waiting,
        done=done,
        total=total,
        percent=min(100, round(100 * done / total)),
        message=message,
        no_worker=waiting and not workers_seen(),
        again=waiting and job is not None and job.attempts > 0 and bool(job.last_error),
    )
