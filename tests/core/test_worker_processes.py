"""Real `flask crm worker` processes on a database of their own (a SQLite file, or a PostgreSQL
database created and dropped here): workers sharing 10,000 jobs, the schedule shared by two
workers, a worker killed in the middle of a job, one stopped by SIGTERM, and one whose database
connections are cut. Nothing is timed: the waits below only stop a test that would hang."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
GIVE_UP = 300.0  # seconds: far beyond what any step takes, even on a busy machine

pytestmark = pytest.mark.no_db


def _postgres_url() -> sa.URL | None:
    base = os.environ.get("CRM_TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        return None
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=f"{url.database}_worker_processes")


def _postgres_only(reason: str = "several workers at once is a PostgreSQL feature") -> None:
    if _postgres_url() is None:
        pytest.skip(reason)


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    @property
    def name(self) -> str:
        return f"{socket.gethostname()}:{self.process.pid}"[:100]

    @property
    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        """SIGTERM, then its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=GIVE_UP)

    def ran(self) -> int:
        return int(re.search(r"stopped after (\d+) job", self.output).group(1))


@dataclass
class Database:
    url: str
    folder: Path
    engine: sa.Engine
    workers: list[Worker] = field(default_factory=list)

    @property
    def postgres(self) -> bool:
        return self.url.startswith("postgresql")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "CRM_CONFIG": "development",
            "CRM_INSTANCE_DIR": str(self.folder / "instance"),
            "CRM_MAIL_PROVIDER": "file",
            "CRM_MAIL_FILE_DIR": str(self.folder / "mail"),
            "SECRET_KEY": "worker-processes-test-secret-key-0123456789",
            "CRM_BASE_URL": "http://localhost",
            "CRM_JOB_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",  # its output in order, up to the moment it stops
            **extra,
        }
        env.pop("CRM_TEST_DATABASE_URL", None)
        return env

    def start(self, command: list[str] | None = None, **env: str) -> Worker:
        log = self.folder / f"worker-{len(self.workers)}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                command or FLASK + ["crm", "worker"],
                env=self.env(**env),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def queue(self, count: int, payload: dict | None = None) -> list[int]:
        """`count` check jobs, due now, in one transaction (waking PostgreSQL workers)."""
        from crm.core.db import utcnow
        from crm.core.jobs import Job

        job = Job.__table__
        now = utcnow()
        rows = [{"kind": "jobs.noop", "payload": payload or {}, "run_at": now}] * count
        with self.engine.begin() as conn:
            ids = conn.execute(sa.insert(job).returning(job.c.id), rows).scalars().all()
            if self.postgres:
                conn.exec_driver_sql("SELECT pg_notify('crm_jobs', '')")
        return ids

    def job(self, job_id: int) -> sa.Row:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT * FROM job WHERE id = :id"), {"id": job_id}).one()

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + GIVE_UP
        while not condition():
            alive = [w for w in self.workers if w.process.poll() is None]
            if time.monotonic() > deadline:
                pytest.fail(f"Gave up waiting: {what}")
            if self.workers and not alive:
                pytest.fail(f"Every worker stopped before {what}: {self.workers[-1].output}")
            time.sleep(0.05)

    def settled(self, workers: int) -> None:
        """Until `workers` have said they run and no job is due (their periodic jobs ran)."""
        self.wait_for(
            f"{workers} worker(s) started and idle",
            lambda: (
                self.scalar("SELECT count(*) FROM job_worker") >= workers
                and self.scalar(
                    "SELECT count(*) FROM job WHERE status IN ('queued', 'running') "
                    "AND kind <> 'jobs.noop' AND run_at <= :now",
                    now=_stamp(self),
                )  # fmt: skip
                == 0
            ),
        )


def _stamp(database: Database):
    from crm.core.db import utcnow

    now = utcnow()
    return now if database.postgres else now.replace(tzinfo=None).isoformat(sep=" ")


@pytest.fixture(scope="module")
def database_once(tmp_path_factory) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("worker-processes")
    url = _postgres_url()
    admin = None
    if url is not None:
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        url_text = url.render_as_string(hide_password=False)
    else:
        url_text = f"sqlite:///{folder / 'workers.sqlite3'}"
    # No pool: a test that cuts the database's connections does not cut its own for later.
    database = Database(url_text, folder, sa.create_engine(url_text, poolclass=sa.pool.NullPool))
    try:
        subprocess.run(FLASK + ["db", "upgrade"], env=database.env(), cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        yield database
    finally:
        database.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def database(database_once: Database) -> Iterator[Database]:
    """The module's database with no jobs; every worker a test started is killed after it."""
    with database_once.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM job")
        conn.exec_driver_sql("DELETE FROM job_worker")
    try:
        yield database_once
    finally:
        for worker in database_once.workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
        database_once.workers.clear()


def test_two_workers_drain_ten_thousand_jobs_each_once(database):
    _postgres_only()
    first, second = database.start(), database.start()
    database.settled(2)
    ids = database.queue(10_000)
    database.wait_for(
        "10,000 jobs done",
        lambda: (
            database.scalar("SELECT count(*) FROM job WHERE kind = 'jobs.noop' AND status = 'done'")
            == 10_000
        ),  # fmt: skip
    )
    assert first.stop() == 0 and second.stop() == 0, first.output + second.output

    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT status, attempts, result FROM job WHERE kind = 'jobs.noop'")
        ).all()
        claims = conn.execute(sa.text("SELECT sum(attempts) FROM job")).scalar()
    assert len(rows) == len(ids) == 10_000
    assert {(status, attempts) for status, attempts, _result in rows} == {("done", 1)}
    by_worker = Counter(result["worker"] for _status, _attempts, result in rows)
    assert set(by_worker) == {first.name, second.name}  # both took part
    # Each claim ran its job once: the jobs the workers say they ran (the 10,000 and their
    # periodic jobs) are as many as the attempts the table counts.
    assert first.ran() + second.ran() == claims


def test_two_workers_queue_a_periodic_job_once_per_period(database):
    _postgres_only()
    command = [sys.executable, "-m", "tests.core.scheduling_worker", "2"]
    first, second = database.start(command), database.start(command)
    database.wait_for(
        "five periods of the check done",
        lambda: (
            database.scalar("SELECT count(*) FROM job WHERE kind = 'jobs.noop' AND status = 'done'")
            >= 5
        ),  # fmt: skip
    )
    assert first.stop() == 0 and second.stop() == 0, first.output + second.output

    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT unique_key, status, attempts FROM job WHERE kind = 'jobs.noop' "
                "ORDER BY unique_key"
            )  # fmt: skip
        ).all()
    keys = [key for key, _status, _attempts in rows]
    assert len(keys) == len(set(keys)) >= 5  # one job per period
    # Each ran once; the last period's may still wait, queued when they were stopped.
    assert {(status, attempts) for _key, status, attempts in rows} <= {("done", 1), ("queued", 0)}
    starts = [datetime.fromisoformat(key.split("@")[1]) for key in keys]
    assert {(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)} == {2}
    # Both workers looked at those periods, and each period still has one job.
    looked = [_periods_looked_at(w) for w in (first, second)]
    assert len(looked[0] & looked[1] & set(keys)) >= 3, looked


def _periods_looked_at(worker: Worker) -> set[str]:
    """The check's periods a scheduling worker queued or found queued (it says so on exit)."""
    said = next(line for line in worker.output.splitlines() if line.startswith('{"name"'))
    return {key for key in json.loads(said)["periods"] if key.startswith("jobs.noop@")}


def test_a_job_whose_worker_is_killed_runs_again_and_is_done_once(database):
    """SIGKILL in the middle of a job; another worker takes it again (SQLite: at once, as the
    kernel frees the dead worker's lock; PostgreSQL: once its 3-second lease lapses)."""
    lease = {"CRM_JOB_LEASE_SECONDS": "3"}
    first = database.start(**lease)
    database.settled(1)
    (job_id,) = database.queue(1, {"sleep": 2})
    database.wait_for("the job running", lambda: database.job(job_id).status == "running")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=GIVE_UP)
    assert database.job(job_id).status == "running"  # killed in the middle of it

    second = database.start(**lease)
    database.wait_for("the job done", lambda: database.job(job_id).status == "done")
    assert second.stop() == 0, second.output
    job = database.job(job_id)
    assert job.attempts == 2
    result = job.result if isinstance(job.result, dict) else json.loads(job.result)
    assert result == {"attempts": 2, "worker": second.name}  # the second run is the one kept
    assert "taken up again" in job.last_error
    assert "Took back 1 job(s)" in second.output


def test_sigterm_lets_the_worker_finish_its_job_then_exit(database):
    worker = database.start()
    database.settled(1)
    (job_id,) = database.queue(1, {"sleep": 2})
    database.wait_for("the job running", lambda: database.job(job_id).status == "running")
    (waiting,) = database.queue(1)  # due, but queued after the stop: not the job in hand

    assert worker.stop() == 0, worker.output
    job = database.job(job_id)
    assert (job.status, job.attempts) == ("done", 1)
    assert database.job(waiting).status == "queued"


def test_a_worker_whose_connections_are_cut_keeps_going(database):
    """PostgreSQL restarted, a proxy dropped idle connections: the worker, which does not ping
    connections before using them, takes the error and carries on."""
    _postgres_only("a SQLite database is a file: no connection to lose")
    worker = database.start()
    database.settled(1)
    database.wait_for(
        "the worker listening for new jobs",
        lambda: database.scalar("SELECT count(*) FROM pg_stat_activity WHERE query = "
                                "'LISTEN crm_jobs' AND datname = current_database()") == 1,
    )  # fmt: skip
    with database.engine.connect() as conn:
        cut = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )  # fmt: skip
        ).scalar()
    assert cut >= 2  # its session's connection and its listener
    first, second = database.queue(2)
    database.wait_for("both jobs done", lambda: {database.job(first).status,
                                                 database.job(second).status} == {"done"})  # fmt: skip
    assert worker.process.poll() is None  # still running
    assert worker.stop() == 0, worker.output
