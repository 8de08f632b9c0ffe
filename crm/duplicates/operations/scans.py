"""Asking for a full scan: "Scan again" and the nightly schedule queue one per kind at most."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.core.db import utcnow
from crm.core.jobs import Job, JobStatus, enqueue
from crm.core.validation import clean_choice
from crm.duplicates.models import SCAN_JOB, DuplicateKind, DuplicateScan, ScanStatus
from crm.extensions import db

ABANDONED = "The scan's job ended without finishing it; nothing of it was kept."


def active_scan(kind: DuplicateKind) -> DuplicateScan | None:
    return db.session.scalar(sa.select(DuplicateScan).where(DuplicateScan.active_kind == kind))


def job_failure(scan: DuplicateScan, job: Job | None) -> str | None:
    """Why a waiting or running scan will never finish (its job failed, was cancelled, or is
    gone), or None while it may still."""
    if job is None:
        return ABANDONED
    if job.status is JobStatus.FAILED:
        return job.last_error or ABANDONED
    if job.status is JobStatus.CANCELLED:
        return "The scan's job was cancelled."
    if job.status is JobStatus.DONE and scan.status.active:
        return ABANDONED
    return None


def fail(scan: DuplicateScan, reason: str) -> None:
    scan.status = ScanStatus.FAILED
    scan.error = reason
    scan.finished_at = scan.finished_at or utcnow()
    scan.active_kind = None
    db.session.flush()


def request_scan(actor: Any, kind: DuplicateKind | str) -> tuple[DuplicateScan, bool]:
    """Queue a full scan of `kind` in the caller's transaction, unless one is waiting or
    running: then that one, and False. A second click, or two people at once, queue one."""
    kind = clean_choice(DuplicateKind, kind, "a kind of record")
    active = active_scan(kind)
    if active is not None:
        reason = job_failure(active, db.session.get(Job, active.job_id) if active.job_id else None)
        if reason is None:
            return active, False
        fail(active, reason)  # its worker died on the last attempt, or it was cancelled
    scan = DuplicateScan(
        kind=kind, active_kind=kind.value, requested_by_id=getattr(actor, "id", None)
    )
    try:
        with db.session.begin_nested():
            db.session.add(scan)
    except IntegrityError:
        # Someone else's request committed first: theirs is the one.
        existing = active_scan(kind)
        if existing is None:
            raise
        return existing, False
    scan.job_id = enqueue(SCAN_JOB, {"scan_id": scan.id}, actor=actor).id
    db.session.flush()
    return scan, True
