"""The duplicate scan and comparison as jobs, run by `flask crm worker`.

* `duplicates.scan`: one full scan of a kind, queued by "Scan again" or the nightly schedule
  (crm.duplicates.operations.scans). It reads and compares in a transaction of its own (on
  SQLite without the write lock, so saves go on meanwhile), reporting each step as the job's
  progress, then replaces the kind's stored pairs in one short transaction that also marks the
  scan done and the job done: the page shows the old pairs or the new, never half. A failure
  marks the scan failed with its reason.
* `duplicates.nightly`: queues a full scan of each kind once a day.
* `duplicates.compare`: every 30 seconds, the records changed since it last ran, against their
  blocks only (crm.duplicates.compare).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.jobs import JobContext, Retry, handler, periodic
from crm.core.jobs.worker import TRANSIENT
from crm.duplicates import compare, store
from crm.duplicates import scan as scanning
from crm.duplicates.models import (
    COMPARE_JOB,
    NIGHTLY_JOB,
    SCAN_JOB,
    DuplicateDismissal,
    DuplicateKind,
    DuplicateScan,
    ScanStatus,
)
from crm.duplicates.operations import scans
from crm.extensions import db

log = logging.getLogger(__name__)


def threshold() -> int:
    return current_app.config["DUPLICATE_THRESHOLD"]


def _describe(payload: dict) -> str:
    scan = db.session.get(DuplicateScan, payload.get("scan_id") or 0)
    return f"{scan.kind.label}" if scan is not None else f"Scan #{payload.get('scan_id')}"


@handler(SCAN_JOB, label="Duplicate scan", max_attempts=2, describe=_describe)
def run_scan(payload: dict, job: JobContext) -> dict:
    scan_id = int(payload["scan_id"])
    scan = db.session.get(DuplicateScan, scan_id)
    if scan is None:
        raise OperationError(f"Duplicate scan #{scan_id} no longer exists.")
    if not scan.status.active:
        return {"skipped": f"the scan was already {scan.status.label.lower()}"}
    kind = scan.kind
    scan.status = ScanStatus.RUNNING
    scan.started_at = utcnow()
    scan.error = None
    try:
        with job.reading():  # commits "running" first, so every page sees it
            began = utcnow()
            result = scanning.scan(kind, threshold(), progress=job.progress)
        return _store(scan_id, kind, result, began)
    except (Retry, *TRANSIENT):
        if job.attempts < job.max_attempts:
            raise  # tried again later; the scan stays running meanwhile
        _fail_now(scan_id, "The database was unavailable on each try.")
        raise
    except OperationError as error:
        _fail_now(scan_id, error.message)
        raise
    except Exception as error:
        log.exception("Duplicate scan %s stopped on an unexpected error", scan_id)
        _fail_now(scan_id, f"Stopped on an unexpected error: {type(error).__name__}: {error}")
        raise


def _store(scan_id: int, kind: DuplicateKind, result: scanning.ScanResult, began) -> dict:
    """Replace the kind's pairs and finish the scan, in the transaction the job's "done"
    commits with."""
    # The watermark row first: on PostgreSQL a comparison running now finishes before this
    # replaces its pairs. The scan covers every change before it read; those since (even ones
    # a comparison already stored, which this replaces) are compared again next time.
    mark = compare.watermark(kind, lock=True)
    mark.changed_after = began
    dismissed = set(
        db.session.execute(
            sa.select(DuplicateDismissal.low_id, DuplicateDismissal.high_id).where(
                DuplicateDismissal.kind == kind
            )
        ).all()
    )
    if dismissed:
        keys = list(zip(result.frame["low"].tolist(), result.frame["high"].tolist(), strict=True))
        result.frame = result.frame[[key not in dismissed for key in keys]]
    found = store.replace_all(kind, result)
    # Merged while the scan was reading: their pairs go (the merge removed the old ones).
    merged = compare.merged_since(kind, began)
    if merged:
        found -= store.forget(kind, merged)
    scan = db.session.get(DuplicateScan, scan_id, populate_existing=True)
    assert scan is not None
    scan.status = ScanStatus.DONE
    scan.finished_at = utcnow()
    scan.active_kind = None
    scan.records = result.records
    scan.pairs_found = found
    scan.seconds = round(result.seconds, 3)
    steps = len(scanning.CONTACT_STEPS if kind is DuplicateKind.CONTACT else
                scanning.ORGANIZATION_STEPS) + 1  # fmt: skip
    scan.progress_done = scan.progress_total = steps
    db.session.flush()
    return {"records": result.records, "pairs": found, "seconds": scan.seconds}


def _fail_now(scan_id: int, reason: str) -> None:
    """Mark the scan failed in a transaction of its own, before the worker records the job's
    failure (which rolls back whatever the handler had not committed)."""
    db.session.rollback()
    try:
        scan = db.session.get(DuplicateScan, scan_id, populate_existing=True)
        if scan is not None:
            scans.fail(scan, reason)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the job's own failure is still recorded by the worker
        db.session.rollback()
        log.warning("Duplicate scan %s: could not mark it failed", scan_id, exc_info=True)


@handler(NIGHTLY_JOB, label="Nightly duplicate scans", max_attempts=3)
def queue_nightly(payload: dict, job: JobContext) -> dict:
    queued = [kind.value for kind in DuplicateKind if scans.request_scan(None, kind)[1]]
    return {"queued": queued}


@handler(COMPARE_JOB, label="Duplicates of changed records", max_attempts=1)
def compare_changed(payload: dict, job: JobContext) -> dict:
    started = time.perf_counter()
    outcome = {
        kind.value: compare.compare_changed(kind, threshold(), reading=job.reading)
        for kind in DuplicateKind
    }
    return {**outcome, "seconds": round(time.perf_counter() - started, 3)}


periodic(NIGHTLY_JOB, every=timedelta(days=1))
periodic(COMPARE_JOB, every=compare.COMPARE_EVERY)
