"""Which workers are alive, and how far a running job has got, as every web process sees it.

PostgreSQL: rows. Each worker's pulse thread, on a connection of its own, renews its lease,
writes its heartbeat (`job_worker.seen_at`) and the running job's progress columns.

SQLite has one writer at a time, and a job such as an import holds the write lock for its whole
run, so nothing could be written there meanwhile. SQLite is one machine, though, so its worker
holds an OS lock on a file beside the database (the kernel lets go of it when the process dies,
SIGKILL included: no lease to wait for), and writes progress to small files beside it that every
process on the machine reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from crm.core.db import utcnow
from crm.core.jobs.models import Job, JobStatus, JobWorker
from crm.extensions import db

SEEN_WITHIN = timedelta(minutes=1)  # a worker not heard from for longer is taken for gone


def is_sqlite(engine: sa.Engine | None = None) -> bool:
    return (engine or db.engine).dialect.name == "sqlite"


def _database_file(engine: sa.Engine) -> Path:
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return Path(current_app.config["INSTANCE_DIR"]) / "memory-database"
    return Path(name).resolve()


def lock_path(engine: sa.Engine) -> Path:
    return _database_file(engine).with_name(_database_file(engine).name + ".worker-lock")


def progress_dir(engine: sa.Engine) -> Path:
    return _database_file(engine).with_name(_database_file(engine).name + ".jobs")


class WorkerLock:
    """SQLite's one-worker-at-a-time lock: an exclusive lock on a file beside the database."""

    def __init__(self, path: Path, holder: str):
        self.path = path
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"name": self.holder, "since": utcnow().isoformat()}).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the lock
            self._fd = None


def sqlite_holder(engine: sa.Engine) -> str | None:
    """The worker holding the SQLite lock, or None when no worker runs."""
    path = lock_path(engine)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(path.read_text() or "{}").get("name") or "a worker"
            except (OSError, ValueError):
                return "a worker"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --- progress of a running job ----------------------------------------------------------------


def write_progress_file(engine: sa.Engine, job_id: int, progress: dict) -> None:
    folder = progress_dir(engine)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f"{job_id}.tmp"
    temp.write_text(json.dumps(progress))
    os.replace(temp, folder / f"{job_id}.json")


def forget_progress_file(engine: sa.Engine, job_id: int) -> None:
    (progress_dir(engine) / f"{job_id}.json").unlink(missing_ok=True)


@dataclass
class Progress:
    done: int | None
    total: int | None
    message: str | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return max(0, min(100, round(100 * (self.done or 0) / self.total)))


def progress_of(job: Job) -> Progress:
    """How far `job` has got: its columns, or on SQLite while it runs, its progress file."""
    if job.status is JobStatus.RUNNING and is_sqlite():
        try:
            data = json.loads((progress_dir(db.engine) / f"{job.id}.json").read_text())
            return Progress(data.get("done"), data.get("total"), data.get("message"))
        except (OSError, ValueError):
            pass
    return Progress(job.progress_done, job.progress_total, job.progress_message)


# --- is any worker running? -------------------------------------------------------------------


@dataclass
class SeenWorker:
    name: str
    seen_at: datetime | None
    job_id: int | None = None


def workers_seen(now: datetime | None = None) -> list[SeenWorker]:
    """The workers heard from within the last minute (on SQLite: the one holding the lock)."""
    if is_sqlite():
        holder = sqlite_holder(db.engine)
        if holder is None:
            return []
        row = db.session.get(JobWorker, holder)
        return [SeenWorker(holder, row.seen_at if row else None, row.job_id if row else None)]
    now = now or utcnow()
    rows = db.session.scalars(
        sa.select(JobWorker).where(JobWorker.seen_at >= now - SEEN_WITHIN).order_by(JobWorker.name)
    ).all()
    return [SeenWorker(w.name, w.seen_at, w.job_id) for w in rows]


WAITING_CAP = 1_000  # counted up to this many: more reads "more than 1,000"


def waiting_jobs(cap: int | None = None) -> int:
    """How many jobs are due and waiting (for the "no worker is running" warning); with `cap`,
    counted up to cap + 1 (an index range of ix_job_due, however long the queue)."""
    due = sa.select(Job.id).where(Job.status == JobStatus.QUEUED, Job.run_at <= utcnow())
    if cap is not None:
        due = due.limit(cap + 1)
    return db.session.execute(sa.select(sa.func.count()).select_from(due.subquery())).scalar_one()


@dataclass
class NoWorker:
    """No worker has been seen within a minute: what the warning says."""

    waiting: int  # up to WAITING_CAP + 1

    @property
    def waiting_label(self) -> str:
        if self.waiting > WAITING_CAP:
            return f"More than {WAITING_CAP:,} jobs are due and waiting"
        if self.waiting == 0:
            return "No job is due yet; the next one will wait"
        return f"{self.waiting:,} job{'s are' if self.waiting != 1 else ' is'} due and waiting"


def no_worker(seen: list[SeenWorker] | None = None) -> NoWorker | None:
    """The one check behind "no worker is running" (the dashboard and the Jobs page): None
    while a worker is seen (`seen`, when the caller looked already), otherwise how many jobs
    wait for one."""
    if seen is None:
        seen = workers_seen()
    if seen:
        return None
    return NoWorker(waiting_jobs(cap=WAITING_CAP))
