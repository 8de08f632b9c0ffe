"""`flask crm worker`: runs every job, and queues periodic work once per period.

One round: claim the next due job (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number of
workers on any number of machines share the table; SQLite: one worker at a time holds the lock
beside the database), run its handler in a transaction of its own, and commit that transaction
with the job marked done, only while this worker still holds the job's lease. So a job's work
and its "done" commit together: an import either committed or did not. While work is waiting,
that same commit also claims the next job: one commit per job (benchmarks/jobs.py).

While a job runs, a pulse thread renews its lease and reports its progress. A worker that died
(SIGKILL, power loss) stops renewing; once the lease lapses another worker takes the job again.
Transient failures (the mail provider's 429 or 5xx, a lost database connection) are retried
with exponential backoff and jitter; after the last attempt the job is failed with its error.
SIGTERM or Ctrl+C: the job in hand is finished, then the worker exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import Flask, g

from crm.core.db import UTCDateTime, rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.jobs import presence
from crm.core.jobs.models import Job, JobStatus, JobWorker
from crm.core.jobs.queue import CHANNEL, enqueue
from crm.core.jobs.registry import KINDS, PERIODIC
from crm.core.write_lock import transactions
from crm.extensions import db

if TYPE_CHECKING:
    import psycopg  # imported where it is used: only a PostgreSQL worker listens

log = logging.getLogger(__name__)

SCHEDULE_EVERY = 15.0  # seconds between looks at the periodic schedule
PULSE_EVERY = 1.0  # seconds between progress reports of a running job
RECONNECT_EVERY = 2.0  # seconds between tries while the database cannot be reached
_job = Job.__table__


class Retry(Exception):  # noqa: N818 - it is an instruction, not an error
    """A transient failure: run the job again later (at `at`, or after a backoff)."""

    def __init__(self, message: str, *, at: datetime | None = None, forget_checkpoint=False):
        super().__init__(message)
        self.message = message
        self.at = at
        self.forget_checkpoint = forget_checkpoint


TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


def backoff(attempts: int, base: float = 10.0, cap: float = 3600.0) -> timedelta:
    """Exponential, with full jitter so failed jobs do not all come back at once."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


@dataclass
class JobContext:
    """What a handler knows of its job, and how it reports back."""

    id: int
    kind: str
    attempts: int
    max_attempts: int
    created_by_id: int | None
    checkpoint: dict | None
    should_stop: Callable[[], bool] = lambda: False
    worker: str = ""  # the name of the worker running it (host:pid)
    _progress: dict | None = field(default=None, repr=False)

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """How far the job has got; the pulse thread passes it on within a second."""
        self._progress = {"done": int(done), "total": total, "message": message}

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """A long read in a transaction of its own, ended when the block ends: on SQLite it
        begins without the write lock (a job's transactions otherwise take it up front), so
        saves go on while a job reads for seconds. What the job did before is committed first."""
        db.session.commit()
        with transactions(writing=False):
            try:
                yield
            finally:
                db.session.rollback()

    def save_checkpoint(self, data: dict | None) -> None:
        """Record `data` on the job and commit it, with everything the handler did so far,
        before a step that must not be repeated: a second run sees it in `checkpoint`. Refused
        when another worker has taken the job meanwhile (this one looked dead)."""
        # Without a worker (a handler called directly, as tests do) the job is anyone's.
        mine = _MINE if self.worker else _job.c.id == sa.bindparam("job_id")
        recorded = db.session.execute(
            sa.update(_job).where(mine).values(checkpoint=data),
            {"job_id": self.id, "me": self.worker},
        )
        if rows_touched(recorded) != 1:
            db.session.rollback()
            raise OperationError("Another worker took this job over; this run stopped.")
        db.session.commit()
        self.checkpoint = data


class Pulse(threading.Thread):
    """Renews the lease of the job in hand, writes this worker's heartbeat and passes on
    the job's progress, on a database connection of its own (PostgreSQL) or in a file beside
    the database (SQLite, whose write lock a job may hold)."""

    def __init__(self, worker: Worker):
        super().__init__(name="job-pulse", daemon=True)
        self.worker = worker
        self.engine = db.engine
        self.sqlite = presence.is_sqlite(self.engine)
        self.stopped = threading.Event()
        self._sent: tuple | None = None
        self._last_beat = 0.0

    def run(self) -> None:
        while not self.stopped.wait(PULSE_EVERY):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried in a second
                log.warning("The worker's pulse could not be written", exc_info=True)

    def beat(self, force: bool = False) -> None:
        ctx = self.worker.current
        progress = ctx._progress if ctx else None
        key = (ctx.id, tuple(progress.values())) if ctx and progress else None
        renew = force or time.monotonic() - self._last_beat >= self.worker.lease.seconds / 4
        if self.sqlite:
            if ctx and progress and key != self._sent:
                presence.write_progress_file(self.engine, ctx.id, progress)
                self._sent = key
            return
        if not renew and (key is None or key == self._sent):
            return
        now = utcnow()
        with self.engine.begin() as conn:
            if ctx is not None:
                values: dict[str, Any] = {"lease_until": now + self.worker.lease}
                if progress:
                    values.update(progress_columns(progress))
                conn.execute(
                    sa.update(_job)
                    .where(_job.c.id == ctx.id, _job.c.lease_holder == self.worker.name)
                    .values(**values)
                )
            if renew:
                _upsert_worker(conn, self.worker.name, ctx.id if ctx else None, now)
                self._last_beat = time.monotonic()
        self._sent = key

    def stop(self) -> None:
        self.stopped.set()


def _upsert_worker(conn: sa.Connection, name: str, job_id: int | None, now: datetime) -> None:
    table = JobWorker.__table__
    updated = conn.execute(
        sa.update(table).where(table.c.name == name).values(seen_at=now, job_id=job_id)
    ).rowcount
    if not updated:
        conn.execute(sa.insert(table).values(name=name, started_at=now, seen_at=now, job_id=job_id))


@dataclass
class Claimed:
    id: int
    kind: str
    payload: dict
    attempts: int
    max_attempts: int
    checkpoint: dict | None
    created_by_id: int | None


# The hot path's statements, built once: building and hashing a statement per job cost more
# than running it. SQLite's compiler leaves out FOR UPDATE (its worker holds the file lock).
_at = UTCDateTime()
_running = _job.c.status == JobStatus.RUNNING.value


def progress_columns(progress: dict[str, Any]) -> dict[str, Any]:
    """A job's reported progress as the job table's columns (the message cut to fit)."""
    message = progress["message"] or None
    return {
        "progress_done": progress["done"],
        "progress_total": progress["total"],
        "progress_message": message and message[:300],
    }


_DUE = (
    sa.select(_job.c.id)
    .where(_job.c.status == JobStatus.QUEUED.value, _job.c.run_at <= sa.bindparam("now", type_=_at))
    .order_by(_job.c.run_at, _job.c.id)
    .limit(1)
)
_CLAIM = (
    sa.update(_job)
    .where(_job.c.id == _DUE.with_for_update(skip_locked=True).scalar_subquery())
    .values(
        status=JobStatus.RUNNING.value,
        lease_holder=sa.bindparam("me"),
        lease_until=sa.bindparam("until", type_=_at),
        attempts=_job.c.attempts + 1,
        started_at=sa.func.coalesce(_job.c.started_at, sa.bindparam("now", type_=_at)),
    )
    .returning(
        _job.c.id,
        _job.c.kind,
        _job.c.payload,
        _job.c.attempts,
        _job.c.max_attempts,
        _job.c.checkpoint,
        _job.c.created_by_id,
    )
)
_MINE = sa.and_(
    _job.c.id == sa.bindparam("job_id"), _job.c.lease_holder == sa.bindparam("me"), _running
)
_DONE = (
    sa.update(_job)
    .where(_MINE)
    .values(
        status=JobStatus.DONE.value,
        finished_at=sa.bindparam("now", type_=_at),
        result=sa.bindparam("result", type_=sa.JSON(none_as_null=True)),  # None: SQL NULL
        lease_holder=None,
        lease_until=None,
    )
)
_DONE_WITH_PROGRESS = _DONE.values(
    progress_done=sa.bindparam("progress_done"),
    progress_total=sa.bindparam("progress_total"),
    progress_message=sa.bindparam("progress_message"),
)


class Worker:
    def __init__(
        self,
        app: Flask,
        *,
        name: str | None = None,
        idle_seconds: float | None = None,
        echo: Callable[[str], None] = print,
    ):
        self.app = app
        self.name = name or worker_name()
        config = app.config
        self.lease = timedelta(seconds=config.get("JOB_LEASE_SECONDS", 60))
        self.idle_seconds = (
            idle_seconds if idle_seconds is not None else config.get("JOB_POLL_SECONDS", 0.5)
        )
        self.echo = echo
        self.current: JobContext | None = None
        self.stopping = threading.Event()
        self._scheduled: dict[str, str] = {}  # kind -> the period it was last queued for
        self._next_schedule = 0.0
        self._next_reclaim = 0.0
        self._listener: psycopg.Connection[tuple[Any, ...]] | None = None
        self._lock: presence.WorkerLock | None = None
        self._sqlite: bool | None = None  # known once the app's engine is at hand

    @property
    def sqlite(self) -> bool:
        if self._sqlite is None:
            self._sqlite = presence.is_sqlite()
        return self._sqlite

    # --- the loop -----------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()

    def run(self, *, once: bool = False, max_jobs: int | None = None) -> int:
        """Run jobs until stopped (or, with `once`, until none is due). Returns how many ran."""
        ran = 0
        with self.app.app_context():
            if not self._acquire(wait=not once):
                return 0
            try:
                if once:
                    if not self.sqlite:  # (on SQLite the lock's new holder took them back)
                        self.take_back()
                    self.schedule_periodic()
                    return self.drain()
                self._announce()
                pulse = Pulse(self)
                pulse.start()
                # The loop checks a connection out of the pool for each job, back to back: the
                # app's pre-ping (for web processes, whose connections idle between requests)
                # would add a round trip per job. A connection lost meanwhile fails one claim
                # or one job instead (both tried again, below and in `_run`), and the pool then
                # drops its connections and opens fresh ones.
                pool = db.engine.pool
                pinging, pool._pre_ping = pool._pre_ping, False
                try:
                    claimed: Claimed | None = None
                    # A job claimed with the last one's commit is run even when stopping: it is
                    # the job in hand.
                    while claimed is not None or not self.stopping.is_set():
                        try:
                            self._housekeep()
                            if claimed is None:
                                claimed = self.claim()
                            if claimed is None:
                                self._wait()
                                continue
                            ran += 1
                            more = max_jobs is None or ran < max_jobs
                            _status, claimed = self._run(claimed, claim_next=more)
                            if not more:
                                break
                        except TRANSIENT:
                            # The database went away for a moment: keep going. A job caught
                            # in it keeps its lease until it lapses, then runs again.
                            claimed = None
                            db.session.rollback()
                            log.warning("The database is unreachable; trying again", exc_info=True)
                            self.stopping.wait(RECONNECT_EVERY)
                finally:
                    pool._pre_ping = pinging
                    pulse.stop()
                    self._withdraw()
            finally:
                self._release()
        return ran

    def drain(self, *, max_jobs: int = 10_000) -> int:
        """Run every job that is due now, in this process and this session, then return how
        many ran: for tests and for `--once`. No lock, pulse or heartbeat: the caller is the
        only one running jobs."""
        ran = 0
        claimed = self.claim()
        while claimed is not None:
            ran += 1
            _status, claimed = self._run(claimed, claim_next=ran < max_jobs)
        return ran

    def _acquire(self, *, wait: bool) -> bool:
        """SQLite: take the lock (waiting for another worker to stop, unless `wait` is off),
        then take back what a stopped worker left running."""
        if not self.sqlite:
            return True
        self._lock = presence.WorkerLock(presence.lock_path(db.engine), self.name)
        announced = False
        while not self._lock.acquire():
            if not wait:
                self.echo("Another worker is running (SQLite runs one at a time).")
                return False
            if not announced:
                self.echo("Waiting for the other worker to stop (SQLite runs one at a time).")
                announced = True
            if self.stopping.wait(1.0):
                return False
        taken = self.take_back(everything=True)
        if taken:
            self.echo(f"Took back {taken} job(s) a stopped worker was running.")
        return True

    def _release(self) -> None:
        db.session.rollback()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _announce(self) -> None:
        with db.engine.begin() as conn:
            _upsert_worker(conn, self.name, None, utcnow())

    def _withdraw(self) -> None:
        with db.engine.begin() as conn:
            conn.execute(sa.delete(JobWorker.__table__).where(JobWorker.name == self.name))

    def _housekeep(self) -> None:
        now = time.monotonic()
        if now >= self._next_schedule:
            # SQLite: the write lock first, as a job's transactions take it (one that has read
            # cannot start writing once another process wrote, say a campaign's enqueue).
            with transactions(writing=self.sqlite):
                self.schedule_periodic()
            self._next_schedule = now + SCHEDULE_EVERY
        if now >= self._next_reclaim and not self.sqlite:
            taken = self.take_back()
            if taken:
                self.echo(f"Took back {taken} job(s) whose worker stopped renewing its lease.")
            self._next_reclaim = now + self.lease.total_seconds() / 2

    def schedule_periodic(self, now: datetime | None = None) -> None:
        """Queue each periodic job for the current period unless it is queued already: the
        unique key makes that once per period, however many workers look."""
        now = now or utcnow()
        for item in PERIODIC:
            key = item.key(now)
            if self._scheduled.get(item.kind) == key or item.kind not in KINDS:
                continue
            enqueue(item.kind, dict(item.payload), unique_key=key)
            db.session.commit()
            self._scheduled[item.kind] = key

    def take_back(self, *, everything: bool = False) -> int:
        """Jobs left running by a worker that stopped: queued again, or failed once they have
        used their attempts. On SQLite (`everything`), whatever is running is a stopped
        worker's, as only the lock holder runs jobs."""
        now = utcnow()
        orphaned = _job.c.status == JobStatus.RUNNING.value
        if not everything:
            orphaned = sa.and_(orphaned, _job.c.lease_until < now)
        failed = rows_touched(
            db.session.execute(
                sa.update(_job)
                .where(orphaned, _job.c.attempts >= _job.c.max_attempts)
                .values(
                    status=JobStatus.FAILED.value,
                    finished_at=now,
                    lease_holder=None,
                    lease_until=None,
                    last_error="The worker running this job stopped before it finished, "
                    "on each of its attempts; nothing of the last one was kept.",
                )
            )
        )
        requeued = rows_touched(
            db.session.execute(
                sa.update(_job)
                .where(orphaned)
                .values(
                    status=JobStatus.QUEUED.value,
                    run_at=now,
                    lease_holder=None,
                    lease_until=None,
                    last_error="The worker running this job stopped before it finished; "
                    "it was taken up again (nothing of that run was kept).",
                )
            )
        )
        db.session.commit()
        return failed + requeued

    def claim(self) -> Claimed | None:
        """The next due job, marked running under this worker's lease (committed)."""
        params = self._claim_params(utcnow())
        conn = db.session.connection()
        if self.sqlite:
            # A cheap read first: an idle poll should not take SQLite's write lock. It ends
            # before the write, which then waits for the lock in a transaction of its own.
            found = conn.execute(_DUE, params).first()
            db.session.commit()
            if found is None:
                return None
            conn = db.session.connection()
        row = conn.execute(_CLAIM, params).first()
        db.session.commit()
        return Claimed(*row) if row else None

    def _claim_params(self, now: datetime) -> dict[str, Any]:
        return {"now": now, "until": now + self.lease, "me": self.name}

    def run_job(self, claimed: Claimed) -> JobStatus:
        return self._run(claimed, claim_next=False)[0]

    def _run(self, claimed: Claimed, *, claim_next: bool) -> tuple[JobStatus, Claimed | None]:
        """Run one job; with `claim_next`, the next due job is claimed in the transaction that
        marks this one done (one commit per job instead of two: the claim, like any, holds
        only once committed, and a job whose lease was lost takes no claim with it)."""
        ctx = JobContext(
            id=claimed.id,
            kind=claimed.kind,
            attempts=claimed.attempts,
            max_attempts=claimed.max_attempts,
            created_by_id=claimed.created_by_id,
            checkpoint=claimed.checkpoint,
            should_stop=self.stopping.is_set,
            worker=self.name,
        )
        self.current = ctx
        kind = KINDS.get(claimed.kind)
        # On SQLite the job's transactions take the write lock when they begin: one that has
        # read could not start writing once a web request has written ("database is locked").
        g.write_transactions = self.sqlite
        try:
            if kind is None:
                raise OperationError(f"No worker knows how to run a {claimed.kind!r} job.")
            result = kind.run(claimed.payload or {}, ctx)
            return self._done(ctx, result, claim_next=claim_next and not self.stopping.is_set())
        except Retry as error:
            db.session.rollback()
            return self._again(ctx, error.message, error.at, error.forget_checkpoint), None
        except TRANSIENT as error:
            db.session.rollback()
            # A DisconnectionError is raised by the pool, not the driver: it has no `orig`.
            message = f"Database unavailable: {getattr(error, 'orig', None) or error}"
            return self._again(ctx, message, None, False), None
        except OperationError as error:
            db.session.rollback()
            return self._failed(ctx, error.message), None
        except Exception as error:  # noqa: BLE001 - any failure: roll back and record it
            db.session.rollback()
            log.exception("Job %s (%s) failed", claimed.id, claimed.kind)
            return self._failed(ctx, f"Stopped on an unexpected error: {type(error).__name__}: "
                                     f"{error}"), None  # fmt: skip
        finally:
            self.current = None
            g.write_transactions = False
            if ctx._progress is not None and self.sqlite:
                presence.forget_progress_file(db.engine, claimed.id)

    def _done(
        self, ctx: JobContext, result: dict | None, *, claim_next: bool
    ) -> tuple[JobStatus, Claimed | None]:
        now = utcnow()
        params: dict[str, Any] = {**self._claim_params(now), "job_id": ctx.id, "result": result}
        statement = _DONE
        if ctx._progress:
            progress = ctx._progress
            statement = _DONE_WITH_PROGRESS
            params.update(progress_columns(progress))
        conn = db.session.connection()
        if conn.execute(statement, params).rowcount != 1:
            # Another worker took the job (this one looked dead): its work is not kept twice.
            db.session.rollback()
            log.warning("Job %s: lease lost before it finished; its work was rolled back", ctx.id)
            return JobStatus.RUNNING, None
        row = conn.execute(_CLAIM, params).first() if claim_next else None
        db.session.commit()
        return JobStatus.DONE, Claimed(*row) if row else None

    def _again(
        self, ctx: JobContext, message: str, at: datetime | None, forget_checkpoint: bool
    ) -> JobStatus:
        if ctx.attempts >= ctx.max_attempts:
            return self._failed(ctx, f"Gave up after {ctx.attempts} attempts: {message}")
        values: dict[str, Any] = {"run_at": at or utcnow() + backoff(ctx.attempts)}
        if forget_checkpoint:
            values["checkpoint"] = None
        return self._record(ctx, JobStatus.QUEUED, message, **values)

    def _failed(self, ctx: JobContext, message: str) -> JobStatus:
        return self._record(ctx, JobStatus.FAILED, message, finished_at=utcnow())

    def _record(self, ctx: JobContext, status: JobStatus, error: str, **values: Any) -> JobStatus:
        """The job leaves this worker: queued again or failed, with the error shown."""
        db.session.execute(
            sa.update(_job)
            .where(_MINE)
            .values(
                status=status.value, last_error=error, lease_holder=None, lease_until=None, **values
            ),
            {"job_id": ctx.id, "me": self.name},
        )
        db.session.commit()
        return status

    # --- waiting for work ---------------------------------------------------------------

    def _wait(self) -> None:
        """Until a job may be due: woken by NOTIFY on PostgreSQL, polling on SQLite."""
        timeout = self.idle_seconds
        next_at = db.session.scalar(
            sa.select(sa.func.min(_job.c.run_at)).where(_job.c.status == JobStatus.QUEUED.value)
        )
        db.session.commit()
        if next_at is not None:
            timeout = max(0.0, min(timeout, (next_at - utcnow()).total_seconds()))
        if self.sqlite:
            self.stopping.wait(timeout)
            return
        self._listen(max(timeout, 0.01))

    def _listen(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        try:
            if self._listener is None:
                url = db.engine.url.set(drivername="postgresql")
                self._listener = psycopg.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                )
                self._listener.execute(f"LISTEN {CHANNEL}")
            while not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for _ in self._listener.notifies(timeout=min(left, 1.0), stop_after=1):
                    return
        except psycopg.Error:
            # The listening connection was lost: poll until a new one is made on the next wait
            # (a job queued meanwhile waits for the poll, not for a notification).
            log.warning("Lost the connection that listens for new jobs", exc_info=True)
            if self._listener is not None:
                with contextlib.suppress(psycopg.Error):
                    self._listener.close()
                self._listener = None
            self.stopping.wait(max(0.0, deadline - time.monotonic()))
