"""How long the job table keeps what is finished, and forgetting workers that are gone.

Finished jobs are kept `CRM_JOB_KEEP_DAYS` (14) to read on the Jobs page, failed ones
`CRM_JOB_KEEP_FAILED_DAYS` (30) to look into; then they go, with the email bodies and personal
links their payloads hold. The hourly housekeeping job calls these.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.db import rows_touched
from crm.core.jobs import presence
from crm.core.jobs.models import Job, JobStatus, JobWorker
from crm.extensions import db

# A PostgreSQL worker writes its heartbeat every few seconds and comes back by itself if its row
# went (its next beat adds it again): a row this old is a worker that died without saying so.
WORKER_GONE_AFTER = timedelta(hours=1)


def forget_finished_jobs(now: datetime, *, keep_days: int, failed_keep_days: int) -> int:
    """Delete jobs done or cancelled more than `keep_days` ago, and failed ones more than
    `failed_keep_days` ago. Waiting and running jobs stay, however old."""
    done = sa.and_(
        Job.status.in_([JobStatus.DONE, JobStatus.CANCELLED]),
        Job.finished_at < now - timedelta(days=keep_days),
    )
    failed = sa.and_(
        Job.status == JobStatus.FAILED,
        Job.finished_at < now - timedelta(days=failed_keep_days),
    )
    return rows_touched(db.session.execute(sa.delete(Job).where(sa.or_(done, failed))))


def forget_gone_workers(now: datetime) -> int:
    """Delete the rows of workers that stopped without removing their own (SIGKILL, power
    loss). On SQLite the worker holding the lock is the only one alive, whatever its row says
    (it writes no heartbeat there); every other row is gone."""
    if presence.is_sqlite():
        holder = presence.sqlite_holder(db.engine)
        gone = JobWorker.name != holder if holder else sa.true()
    else:
        gone = JobWorker.seen_at < now - WORKER_GONE_AFTER
    return rows_touched(db.session.execute(sa.delete(JobWorker).where(gone)))
