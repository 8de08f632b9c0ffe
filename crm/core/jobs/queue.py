"""Queueing jobs, and the changes an admin makes to them (retry, cancel).

`enqueue` adds the job to the caller's transaction: a request that rolls back leaves no job, and
one that commits leaves exactly its jobs, which a worker starts after the commit. On PostgreSQL
the transaction also sends a NOTIFY, delivered at its commit, so an idle worker starts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.jobs.models import Job, JobStatus
from crm.core.jobs.registry import KINDS, label_of
from crm.extensions import db

CHANNEL = "crm_jobs"


def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    unique_key: str | None = None,
    actor: Any = None,
    max_attempts: int | None = None,
) -> Job:
    """Queue a job of `kind` in the current transaction. With `unique_key`, a job already queued
    under that key (whatever its status) is returned instead of queueing another."""
    registered = KINDS.get(kind)
    if registered is None:
        raise ValueError(f"No job handler is registered for {kind!r}.")
    if unique_key is not None:
        existing = db.session.scalar(sa.select(Job).where(Job.unique_key == unique_key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=payload or {},
        run_at=run_at or utcnow(),
        unique_key=unique_key,
        created_by_id=getattr(actor, "id", None),
        max_attempts=max_attempts or registered.max_attempts,
    )
    try:
        with db.session.begin_nested():
            db.session.add(job)
    except IntegrityError:
        # Another transaction queued the same key first.
        existing = db.session.scalar(sa.select(Job).where(Job.unique_key == unique_key))
        if existing is None:
            raise
        return existing
    notify()
    return job


def notify() -> None:
    """Wake idle workers when this transaction commits (PostgreSQL; SQLite workers poll)."""
    session_info = db.session.info
    if session_info.get("jobs_notified") or db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    session_info["jobs_notified"] = True


@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _forget_notified(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("jobs_notified", None)


def _lock(job: Job) -> None:
    """Read the job again under a row lock (PostgreSQL; a writing request holds SQLite's one
    write lock already), so a worker cannot claim it between this check and this change."""
    db.session.refresh(job, with_for_update=True)


# Writes a change to a job into the audit trail: (actor, job id, summary). The trail is a
# domain above the core (crm.audit), so it registers this; the core imports no domain.
JobAuditor = Callable[[Any, int, str], None]
_auditors: list[JobAuditor] = []


def audited_by(auditor: JobAuditor) -> JobAuditor:
    """Register what writes an admin's retry or cancel of a job to the audit trail."""
    _auditors.append(auditor)
    return auditor


def _audit(actor: Any, job: Job, what: str) -> None:
    # The label only: a job's describe line can name a person (an email's recipient).
    for auditor in _auditors:
        auditor(actor, job.id, f"{what} ({label_of(job.kind)})")


def retry(job: Job, *, actor: Any = None) -> None:
    """A failed or cancelled job goes back to the queue, with its attempts counted afresh."""
    _lock(job)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise OperationError("Only a failed or cancelled job can be retried.")
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    job.checkpoint = None
    job.lease_holder = job.lease_until = None
    _audit(actor, job, "Queued again")
    db.session.flush()
    notify()


def cancel(job: Job, *, actor: Any = None) -> None:
    """A job not yet started (or failed, to stop it being retried) will not run."""
    _lock(job)
    if job.status is JobStatus.RUNNING:
        raise OperationError("This job is running; it cannot be cancelled now. Wait for it to end.")
    if job.status not in (JobStatus.QUEUED, JobStatus.FAILED):
        raise OperationError(f"This job is {job.status.label.lower()}; there is nothing to cancel.")
    job.status = JobStatus.CANCELLED
    job.finished_at = utcnow()
    _audit(actor, job, "Cancelled")
    db.session.flush()


def cancel_queued(kind: str, unique_key: str | None = None, **payload_match: Any) -> int:
    """Cancel the queued jobs of `kind` (with that key, or whose payload holds these values):
    a campaign unscheduled, say. Returns how many."""
    jobs = db.session.scalars(
        sa.select(Job).where(Job.kind == kind, Job.status == JobStatus.QUEUED)
        if unique_key is None
        else sa.select(Job).where(Job.unique_key == unique_key, Job.status == JobStatus.QUEUED)
    ).all()
    count = 0
    for job in jobs:
        if all(job.payload.get(k) == v for k, v in payload_match.items()):
            job.status = JobStatus.CANCELLED
            job.finished_at = utcnow()
            count += 1
    db.session.flush()
    return count
