"""What the Jobs page reads: jobs by status, counted with a cap, a page at a time.

The job table can hold hundreds of thousands of done emails, so every read here walks an index
range and stops early: waiting, running, failed and cancelled jobs along `ix_job_due` (status,
run_at, id), done jobs along `ix_job_finished_at` from now back to a day ago (those of one kind
along `ix_job_kind_finished_at`). Counts stop at `COUNT_CAP` + 1 ("more than 1,000"). With a
kind, the other statuses are filtered along `ix_job_due`: a walk through the jobs waiting,
running, failed or cancelled, which are few beside the done ones (`benchmarks/jobs_page.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.core.db import utcnow
from crm.core.jobs.models import Job, JobStatus
from crm.core.jobs.registry import KINDS
from crm.core.pagination import Page, SortOption, paginate
from crm.extensions import db

COUNT_CAP = 1_000
DONE_WITHIN = timedelta(days=1)  # the done jobs the page lists

# The statuses the page filters by, in the order of its tabs.
SHOWN = (
    JobStatus.RUNNING,
    JobStatus.QUEUED,
    JobStatus.FAILED,
    JobStatus.DONE,
    JobStatus.CANCELLED,
)

# Waiting jobs in the order they will run; the others newest first. Failed and cancelled jobs
# sort by run_at (when their last attempt was due, which is close to when it ended) because
# ix_job_due holds it after the status: finding them never reads a done job.
ORDER = {
    JobStatus.RUNNING: SortOption("Started first", (Job.run_at, Job.id)),
    JobStatus.QUEUED: SortOption("Next due first", (Job.run_at, Job.id)),
    JobStatus.FAILED: SortOption("Newest first", (Job.run_at, Job.id), descending=True),
    JobStatus.DONE: SortOption("Newest first", (Job.finished_at, Job.id), descending=True),
    JobStatus.CANCELLED: SortOption("Newest first", (Job.run_at, Job.id), descending=True),
}


def kind_options() -> list[tuple[str, str]]:
    """Every registered kind as (kind, label), by label."""
    return sorted(((name, k.label) for name, k in KINDS.items()), key=lambda o: o[1].lower())


def parse_status(value: str | None) -> JobStatus | None:
    """The status filter from a query string; anything else means the overview."""
    try:
        status = JobStatus(value or "")
    except ValueError:
        return None
    return status if status in SHOWN else None


def parse_kind(value: str | None) -> str | None:
    return value if value in KINDS else None


def jobs_in(status: JobStatus, kind: str | None = None, now: datetime | None = None) -> sa.Select:
    stmt = sa.select(Job).where(Job.status == status)
    if status is JobStatus.DONE:
        stmt = stmt.where(Job.finished_at >= (now or utcnow()) - DONE_WITHIN)
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    return stmt


@dataclass(frozen=True)
class Count:
    n: int  # up to COUNT_CAP + 1

    @property
    def capped(self) -> bool:
        return self.n > COUNT_CAP

    @property
    def label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.n:,}"


def _ordered(stmt: sa.Select, status: JobStatus) -> sa.Select:
    sort = ORDER[status]
    return stmt.order_by(*(c.desc() if sort.descending else c.asc() for c in sort.columns))


def count_in(status: JobStatus, kind: str | None = None, now: datetime | None = None) -> Count:
    # In the list's order, so the count walks the list's index and stops at the cap: SQLite
    # would otherwise count done jobs along ix_job_due, oldest first, through all of them.
    found = _ordered(jobs_in(status, kind, now).with_only_columns(Job.id), status)
    found = found.limit(COUNT_CAP + 1)
    return Count(
        db.session.execute(sa.select(sa.func.count()).select_from(found.subquery())).scalar_one()
    )


def counts(kind: str | None = None, now: datetime | None = None) -> dict[JobStatus, Count]:
    return {status: count_in(status, kind, now) for status in SHOWN}


def first(status: JobStatus, kind: str | None = None, limit: int = 10) -> list[Job]:
    """The first jobs of a section of the overview, in the section's order."""
    return list(db.session.scalars(_ordered(jobs_in(status, kind), status).limit(limit)))


def page_of(
    status: JobStatus,
    kind: str | None,
    *,
    after: str | None,
    before: str | None,
    page_size: int,
    total: Count,
) -> Page:
    page = paginate(
        jobs_in(status, kind),
        ORDER[status],
        after=after,
        before=before,
        page_size=page_size,
        count=False,  # counted once for the tabs
    )
    page.total, page.total_is_capped = total.n, total.capped
    return page
