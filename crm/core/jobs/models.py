"""The job table: every unit of background work, and the workers that run them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.db import Actor, enum_type, utcnow
from crm.extensions import Model


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "queued": "Waiting",
            "running": "Running",
            "done": "Done",
            "failed": "Failed",
            "cancelled": "Cancelled",
        }[self.value]

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(Model):
    """One unit of background work: queued in the transaction that asks for it, run by
    `flask crm worker` after that transaction commits.

    A running job belongs to the worker named in `lease_holder` until `lease_until`; the worker
    renews the lease while it works, so a job whose worker died is taken again once it lapses.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60))  # "mail.send", "imports.run"
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(enum_type(JobStatus, 20), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)  # not before
    lease_holder: Mapped[str | None] = mapped_column(sa.String(100))
    lease_until: Mapped[datetime | None]
    progress_done: Mapped[int | None]
    progress_total: Mapped[int | None]
    progress_message: Mapped[str | None] = mapped_column(sa.String(300))
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # What a handler recorded, committed, before a step it must not repeat (an email handed to
    # the provider): a second run reads it and does not do that step again.
    checkpoint: Mapped[dict | None] = mapped_column(sa.JSON)
    # The same key is queued once: "pledges.remind@2026-12-07" runs once that day.
    unique_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    # Named, not imported: accounts (crm.auth) sit above the core.
    created_by: Mapped[Actor | None] = relationship("User", viewonly=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        sa.Index("ix_job_due", "status", "run_at", "id"),
        sa.Index("ix_job_kind_created_at", "kind", "created_at"),
        sa.Index("ix_job_finished_at", "finished_at"),
        # The Jobs page's "done in the last day" of one kind (0020).
        sa.Index("ix_job_kind_finished_at", "kind", "finished_at"),
    )

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return max(0, min(100, round(100 * (self.progress_done or 0) / self.progress_total)))

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.status}>"


class JobWorker(Model):
    """A running `flask crm worker` process, as last seen (its heartbeat)."""

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    job_id: Mapped[int | None]  # what it is running now
