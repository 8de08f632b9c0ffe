"""Job queue speed: trivial jobs claimed and completed per second by 1, 2 and 4 workers, beside
the engine's floor, and the time from a commit that queues a job to the job starting.

    .venv/bin/python benchmarks/jobs.py [--engines postgresql,sqlite] [--jobs 10000]
        [--workers 1,2,4] [--rounds 1] [--latency 100]
        [--pg-url postgresql://postgres@127.0.0.1:5432/crm_bench_jobs]

A fresh database (SQLite in a temporary folder; the PostgreSQL database named, which is DROPPED
and recreated) gets the migrations. Then, for each number of processes N (SQLite: 1, as it runs
one worker at a time):

- **floor**: the job table filled with `--jobs` queued `jobs.noop` rows, then N processes, each
  on a bare driver connection (psycopg or sqlite3, no SQLAlchemy), loop over
  `UPDATE job SET status = 'done', … WHERE id = (SELECT id FROM job WHERE status = 'queued' AND
  run_at <= … ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`, one
  transaction per job, until none is left (SQLite: the same statement without the lock clause,
  in `BEGIN IMMEDIATE`). Also "floor, two transactions": the same rows marked running by one
  statement and transaction, then done by a second, the least a worker that commits its
  claim before running the job can do;
- **workers**: N real `flask --app wsgi crm worker` processes are started on the emptied table
  and left to settle (registered, their periodic jobs run), then the same number of `jobs.noop`
  jobs is inserted in one transaction (with the NOTIFY `enqueue` sends on PostgreSQL).

Jobs per second are counted from the first job's start to the last one's end (the `started_at`
and `finished_at` the workers record; for the floor, from the start signal to the last loop's
end), so the workers' start-up is not counted, nor SQLite's first poll.

**Latency**: one idle worker; `--latency` times, after a pause of 50-300 ms, a `jobs.noop` is
queued through `crm.core.jobs.enqueue` and committed; the time from just before that commit to
the job's `started_at` (its claim) is one sample. PostgreSQL wakes the worker with NOTIFY;
SQLite's worker polls every `CRM_JOB_POLL_SECONDS` (0.5 s).

Targets (issue 13): at least 1,000 jobs/s with 4 workers on PostgreSQL, within 3x the floor;
p95 latency at most 1 s. The report is printed and written to `benchmarks/results/`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision  # noqa: E402

NOOP = "jobs.noop"
SETTLE_TIMEOUT = 120.0  # seconds for workers to start and run their periodic jobs


def sqlite_stamp(at: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive text), so comparisons match."""
    return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- the floor: bare driver loops in processes of their own -----------------------------------

PG_ONE = """
UPDATE job SET status = 'done', attempts = attempts + 1, started_at = %(now)s,
    finished_at = %(now)s
WHERE id = (SELECT id FROM job WHERE status = 'queued' AND run_at <= %(now)s
            ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""
PG_CLAIM = """
UPDATE job SET status = 'running', attempts = attempts + 1, lease_holder = %(me)s,
    lease_until = %(until)s, started_at = %(now)s
WHERE id = (SELECT id FROM job WHERE status = 'queued' AND run_at <= %(now)s
            ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""
PG_DONE = """
UPDATE job SET status = 'done', finished_at = %(now)s, lease_holder = NULL, lease_until = NULL
WHERE id = %(id)s AND lease_holder = %(me)s AND status = 'running'
"""
SQLITE_ONE = """
UPDATE job SET status = 'done', attempts = attempts + 1, started_at = :now, finished_at = :now
WHERE id = (SELECT id FROM job WHERE status = 'queued' AND run_at <= :now
            ORDER BY run_at, id LIMIT 1)
RETURNING id
"""
SQLITE_CLAIM = """
UPDATE job SET status = 'running', attempts = attempts + 1, lease_holder = :me,
    lease_until = :until, started_at = :now
WHERE id = (SELECT id FROM job WHERE status = 'queued' AND run_at <= :now
            ORDER BY run_at, id LIMIT 1)
RETURNING id
"""
SQLITE_DONE = """
UPDATE job SET status = 'done', finished_at = :now, lease_holder = NULL, lease_until = NULL
WHERE id = :id AND lease_holder = :me AND status = 'running'
"""


def floor_loop(target: str, two: bool, gate, results) -> None:
    """One bare loop: wait for the start signal, consume jobs until none is left, report."""
    me = f"floor:{os.getpid()}"
    done = 0
    if target.startswith("sqlite:"):
        conn = sqlite3.connect(target[len("sqlite:") :], isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            conn.execute(f"PRAGMA {pragma}")
        gate.wait()
        started = time.perf_counter()
        while True:
            now = datetime.now(UTC)
            params = {"now": sqlite_stamp(now), "me": me, "until": sqlite_stamp(now)}
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(SQLITE_CLAIM if two else SQLITE_ONE, params).fetchone()
            conn.execute("COMMIT")
            if row is None:
                break
            if two:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(SQLITE_DONE, {**params, "id": row[0]})
                conn.execute("COMMIT")
            done += 1
    else:
        import psycopg

        conn = psycopg.connect(target)
        gate.wait()
        started = time.perf_counter()
        while True:
            now = datetime.now(UTC)
            params = {"now": now, "me": me, "until": now + timedelta(seconds=60)}
            row = conn.execute(PG_CLAIM if two else PG_ONE, params).fetchone()
            conn.commit()
            if row is None:
                break
            if two:
                conn.execute(PG_DONE, {**params, "id": row[0]})
                conn.commit()
            done += 1
    results.put((done, started, time.perf_counter()))
    conn.close()


def run_floor(target: str, processes: int, two: bool) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    gate = ctx.Event()
    results = ctx.Queue()
    args = (target, two, gate, results)
    procs = [ctx.Process(target=floor_loop, args=args) for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let them import and connect
    gate.set()
    reports = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    done = sum(r[0] for r in reports)
    seconds = max(r[2] for r in reports) - min(r[1] for r in reports)
    return done, seconds


# --- the database, through the app ------------------------------------------------------------


class Bench:
    def __init__(self, url: str, tmp: Path):
        from config import DevelopmentConfig
        from crm import create_app

        self.url = url
        self.tmp = tmp
        self.postgres = url.startswith("postgresql")
        self.app = create_app(
            DevelopmentConfig,
            SQLALCHEMY_DATABASE_URI=url,
            SECRET_KEY="benchmark-secret-key-benchmark-secret",
            INSTANCE_DIR=str(tmp / "instance"),
        )
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "CRM_CONFIG": "development",
            "CRM_INSTANCE_DIR": str(tmp / "instance"),
            "CRM_MAIL_PROVIDER": "file",
            "CRM_MAIL_FILE_DIR": str(tmp / "mail"),
            "SECRET_KEY": "benchmark-secret-key-benchmark-secret",
            "CRM_BASE_URL": "http://localhost",
        }
        self.env.pop("CRM_TEST_DATABASE_URL", None)

    @property
    def driver_target(self) -> str:
        """Where the floor's bare loops connect."""
        u = sa.engine.make_url(self.url)
        if self.postgres:
            return u.set(drivername="postgresql").render_as_string(hide_password=False)
        return f"sqlite:{u.database}"

    def upgrade(self) -> None:
        from flask_migrate import upgrade

        with self.app.app_context():
            upgrade()

    def execute(self, sql: str, **params) -> list:
        from crm.extensions import db

        with self.app.app_context():
            result = db.session.execute(sa.text(sql), params)
            rows = result.all() if result.returns_rows else []
            db.session.commit()
            return rows

    def empty(self) -> None:
        """No jobs left, and (PostgreSQL) the dead rows of the last case vacuumed away."""
        from crm.extensions import db

        with self.app.app_context():
            if self.postgres:
                db.session.execute(sa.text("TRUNCATE job"))
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.exec_driver_sql("VACUUM ANALYZE job")
            else:
                db.session.execute(sa.text("DELETE FROM job"))
                db.session.commit()
            db.session.remove()

    def fill(self, count: int) -> float:
        """Queue `count` trivial jobs in one transaction (waking PostgreSQL workers at its
        commit, as `enqueue` would); returns the wall time just before the commit."""
        from crm.core.db import utcnow
        from crm.core.jobs import Job
        from crm.core.jobs.queue import notify
        from crm.extensions import db

        with self.app.app_context():
            due = utcnow() - timedelta(seconds=1)
            rows = [{"kind": NOOP, "payload": {}, "run_at": due, "created_at": due}] * count
            db.session.execute(sa.insert(Job.__table__), rows)
            notify()
            before = time.time()
            db.session.commit()
            db.session.remove()
        return before

    def count(self, where: str, **params) -> int:
        return self.execute(f"SELECT count(*) FROM job WHERE {where}", **params)[0][0]

    def start_workers(self, processes: int) -> list[subprocess.Popen]:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi", "crm", "worker"]
        logs = self.tmp / "logs"
        logs.mkdir(exist_ok=True)
        workers = []
        for i in range(processes):
            log = open(logs / f"worker-{len(list(logs.iterdir()))}-{i}.log", "w")  # noqa: SIM115
            workers.append(subprocess.Popen(flask, env=self.env, cwd=ROOT, stdout=log, stderr=log))
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            registered = self.execute("SELECT count(*) FROM job_worker")[0][0]
            busy = self.count("status IN ('queued', 'running') AND run_at <= :now",
                              now=self.now_param())  # fmt: skip
            if registered >= processes and busy == 0:
                time.sleep(0.5)  # let them all reach their idle wait
                return workers
            if any(w.poll() is not None for w in workers):
                raise SystemExit(f"A worker stopped on start-up; see {logs}")
            time.sleep(0.2)
        raise SystemExit(f"The workers did not settle within {SETTLE_TIMEOUT:.0f} s; see {logs}")

    def stop_workers(self, workers: list[subprocess.Popen]) -> None:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            if w.wait(timeout=60) != 0:
                print(f"warning: a worker exited with {w.returncode}", file=sys.stderr)
        self.execute("DELETE FROM job_worker")

    def now_param(self):
        now = datetime.now(UTC)
        return now if self.postgres else sqlite_stamp(now)


def measure_workers(bench: Bench, processes: int, jobs: int) -> tuple[int, float]:
    bench.empty()
    workers = bench.start_workers(processes)
    try:
        bench.fill(jobs)
        deadline = time.monotonic() + 600
        while bench.count("kind = :k AND status = 'done'", k=NOOP) < jobs:
            if time.monotonic() > deadline:
                raise SystemExit("The workers did not finish within 10 minutes.")
            time.sleep(0.25)
    finally:
        bench.stop_workers(workers)
    first, last = bench.execute(
        "SELECT min(started_at), max(finished_at) FROM job WHERE kind = :k", k=NOOP
    )[0]
    first, last = (
        v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in (first, last)
    )
    once = bench.count("kind = :k AND status = 'done' AND attempts = 1", k=NOOP)
    if once != jobs:
        raise SystemExit(f"Only {once} of {jobs} jobs were done on their first attempt.")
    return jobs, (last - first).total_seconds()


def measure_floor(bench: Bench, processes: int, jobs: int, two: bool) -> tuple[int, float]:
    bench.empty()
    bench.fill(jobs)
    done, seconds = run_floor(bench.driver_target, processes, two)
    if done != jobs:
        raise SystemExit(f"The floor consumed {done} jobs of {jobs}.")
    return done, seconds


def measure_latency(bench: Bench, samples: int) -> list[float]:
    from crm.core.db import utcnow
    from crm.core.jobs import Job, enqueue
    from crm.extensions import db

    bench.empty()
    workers = bench.start_workers(1)
    latencies = []
    try:
        with bench.app.app_context():
            for _ in range(samples):
                time.sleep(random.uniform(0.05, 0.3))
                job = enqueue(NOOP, {})
                db.session.flush()
                job_id = job.id
                before = utcnow()
                db.session.commit()
                deadline = time.monotonic() + 30
                started = None
                while started is None and time.monotonic() < deadline:
                    time.sleep(0.005)
                    started = db.session.scalar(
                        sa.select(Job.started_at).where(Job.id == job_id, Job.status == "done")
                    )
                    db.session.commit()
                if started is None:
                    raise SystemExit(f"Job {job_id} did not run within 30 s.")
                latencies.append((started - before).total_seconds())
            db.session.remove()
    finally:
        bench.stop_workers(workers)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL; SQLite runs one")
    parser.add_argument("--rounds", type=int, default=1, help="measure each case this often")
    parser.add_argument("--latency", type=int, default=100, help="samples per engine (0: none)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/crm_bench_jobs")
    args = parser.parse_args()

    header = [
        f"Job queue benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, revision "
        f"{git_revision()}; {os.cpu_count()} CPUs; CPU reference loop {cpu_reference_ms():.0f} ms "
        f"(lower is faster); load average {os.getloadavg()[0]:.1f} at the start.",
        f"{args.jobs:,} `jobs.noop` jobs per case, {args.rounds} round(s). Targets: ≥ 1,000 "
        "jobs/s with 4 workers on PostgreSQL, within 3× the floor; p95 latency ≤ 1 s.",
        "",
    ]
    table = [
        "| engine | case | processes | jobs/s, each round | median jobs/s | × floor (medians) |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    latency_lines = []
    cases = {
        "floor": "floor: one UPDATE … RETURNING per job",
        "floor2": "floor, two transactions (claim, done)",
        "worker": "**`flask crm worker`**",
    }
    for engine in args.engines.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"crm-bench-jobs-{engine}-"))
        if engine == "postgresql":
            url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
            fresh_postgres(url)
            counts = [int(n) for n in args.workers.split(",")]
        else:
            url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            counts = [1]
        bench = Bench(url, tmp)
        bench.upgrade()
        rates: dict[tuple[str, int], list[float]] = {}
        for round_ in range(args.rounds):
            for n in counts:  # the cases interleaved, so a busy minute hits them all
                for case in cases:
                    if case == "worker":
                        done, seconds = measure_workers(bench, n, args.jobs)
                    else:
                        done, seconds = measure_floor(bench, n, args.jobs, two=case == "floor2")
                    rates.setdefault((case, n), []).append(done / seconds)
                    print(f"{engine} round {round_ + 1} {case} ×{n}: {done / seconds:,.0f} "
                          "jobs/s", flush=True)  # fmt: skip
        for n in counts:
            floor = statistics.median(rates["floor", n])
            for case, label in cases.items():
                median = statistics.median(rates[case, n])
                each = ", ".join(f"{r:,.0f}" for r in rates[case, n])
                bold = "**" if case == "worker" else ""
                table.append(f"| {engine} | {label} | {n} | {each} | {bold}{median:,.0f}{bold} "
                             f"| {floor / median:.2f} |")  # fmt: skip
        if args.latency:
            samples = measure_latency(bench, args.latency)
            latency_lines.append(
                f"| {engine} | {'NOTIFY' if bench.postgres else 'polling every 0.5 s'} | "
                f"{len(samples)} | {1000 * percentile(samples, 50):.0f} | "
                f"{1000 * percentile(samples, 95):.0f} | {1000 * max(samples):.0f} |"
            )
            print(latency_lines[-1], flush=True)
    report = header + table
    if latency_lines:
        report += [
            "",
            "Commit to job start, idle worker (ms):",
            "",
            "| engine | woken by | samples | p50 | p95 | max |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
            *latency_lines,
        ]
    report.append(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}.")
    print("\n".join(report))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"jobs-{time.strftime('%Y%m%dT%H%M%S')}.txt").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
