"""Housekeeping: the hourly `housekeeping` job deletes what is kept only for a while.

The core imports no domain, so each domain's cleanup is registered here as a task
(`@task("old login attempts")` in crm/auth/jobs.py); the core's own are below: public
form submissions, finished jobs, workers gone without a word. Each task runs in a savepoint, so
one that fails keeps back none of the others; the job then fails and names it (and runs again
the next hour).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from crm.core import flood, shared_store
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.jobs import JobContext, handler, periodic, retention
from crm.extensions import db

log = logging.getLogger(__name__)

HOUSEKEEPING = "housekeeping"


@dataclass(frozen=True)
class Task:
    label: str  # what it removes, for the job's result: "old login attempts"
    run: Callable[[datetime], int]  # run(now) -> how many it removed


TASKS: list[Task] = []


def task(label: str) -> Callable[[Callable[[datetime], int]], Callable[[datetime], int]]:
    """Register `fn(now) -> int` (how many it removed) to run with every housekeeping job."""

    def register(fn: Callable[[datetime], int]) -> Callable[[datetime], int]:
        if not any(t.label == label for t in TASKS):
            TASKS.append(Task(label, fn))
        return fn

    return register


@handler(HOUSEKEEPING, label="Housekeeping", max_attempts=3)
def run_housekeeping(payload: dict, job: JobContext) -> dict:
    now = utcnow()
    removed: dict[str, int] = {}
    failed: list[str] = []
    for item in TASKS:
        try:
            with db.session.begin_nested():
                removed[item.label] = item.run(now)
        except Exception as error:  # noqa: BLE001 - one task's failure keeps back no other
            log.exception("Housekeeping: %s failed", item.label)
            failed.append(f"{item.label} ({type(error).__name__}: {error})")
    if failed:
        db.session.commit()  # what the other tasks removed stays removed
        raise OperationError(
            "Housekeeping could not remove " + "; ".join(failed) + ". Everything else was done; "
            "it tries again within the hour."
        )
    return {"removed": removed}


periodic(HOUSEKEEPING, every=timedelta(hours=1))


@task("public form submissions")
def _public_submissions(now: datetime) -> int:
    return flood.forget_old_submissions(now)


@task("finished jobs")
def _finished_jobs(now: datetime) -> int:
    config = current_app.config
    return retention.forget_finished_jobs(
        now, keep_days=config["JOB_KEEP_DAYS"], failed_keep_days=config["JOB_KEEP_FAILED_DAYS"]
    )


@task("workers gone")
def _gone_workers(now: datetime) -> int:
    return retention.forget_gone_workers(now)


@task("expired shared values")
def _expired_shared_values(now: datetime) -> int:
    # Only the database keeps them past their time; Redis forgets them itself.
    return shared_store.DatabaseBackend().forget_expired(now)
