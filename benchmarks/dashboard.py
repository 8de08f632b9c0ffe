"""The dashboard at scale: its figures counted in the request (before) or read from the store.

For each engine this builds (or with --reuse, measures again) a database of N contacts and N/10
organizations with the bulk generator (`crm.demo.bulk.generate`, as benchmarks/contact_list.py;
its --keep databases can be reused: same file and database names), signs in as a lead through
Flask's test client (in-process: server-side time, no network) and times, in the same run:

  /healthz, the floor of any request · the dashboard with its figures counted in the request
  (what every view did before: nothing stored and the small-database limit lifted, so the page
  counts live; the quarterly report stored, as the old per-process cache held it warm) · the
  dashboard reading the figures the `dashboard.figures` job stored · the dashboard of a big
  database with nothing stored yet (capped counts only) · the figures job itself, once.

    .venv/bin/python benchmarks/dashboard.py [--sizes 1000000] [--engines sqlite,postgresql]
        [--requests 50] [--pg-url postgresql://postgres@127.0.0.1:5432/crm_bench]
        [--keep DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision  # noqa: E402
from benchmarks.contact_list import (  # noqa: E402
    BENCH_EMAIL,
    database_url,
    percentile,
    reuse_app,
    timed_get,
)
from crm.auth.sessions import start as start_session  # noqa: E402

WARM_UP = 3


def build_app(engine: str, size: int, url: str) -> tuple[Flask, str]:
    """A fresh database of `size` contacts: migrations, a lead to sign in as, the bulk load."""
    from flask_migrate import upgrade

    from benchmarks.contact_list import make_app
    from crm.auth import operations
    from crm.auth.models import Role
    from crm.demo import bulk
    from crm.extensions import db

    if engine == "sqlite":
        for leftover in Path(url.removeprefix("sqlite:///")).parent.glob(f"bench-{size}.sqlite3*"):
            leftover.unlink()
    else:
        fresh_postgres(url)
    app = make_app(url)
    with app.app_context():
        upgrade()
        lead = operations.create_user(
            None, email=BENCH_EMAIL, name="Bench Lead", role=Role.LEAD, password="bench kettle 42"
        )
        db.session.commit()
        token = start_session(lead)
        db.session.commit()  # the signed-in session
        bulk.generate(
            contacts=size,
            organizations=max(1, size // 10),
            seed=7,
            progress=lambda message: print(f"    {message}", file=sys.stderr),
        )
    return app, token


def _set_store(app: Flask, *, figures: bool, report: bool) -> float:
    """Empty the stored figures and report, then store those asked for (the jobs' work);
    returns the seconds the figures job took."""
    from crm.core import shared_store
    from crm.dashboard.figures import KEY, store_figures
    from crm.extensions import db
    from crm.pledges.schedule import Quarter
    from crm.reports.stored import key, rebuild

    seconds = 0.0
    with app.app_context():
        shared_store.delete(KEY)
        shared_store.delete(key(Quarter.of(date.today())))
        if figures:
            started = time.perf_counter()
            store_figures(date.today())
            seconds = time.perf_counter() - started
        if report:
            rebuild(Quarter.of(date.today()))
        db.session.commit()
    return seconds


def measure(app: Flask, token: str, requests: int) -> tuple[dict[str, list[float]], float]:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    cap = app.config["COUNT_CAP"]
    samples: dict[str, list[float]] = {}

    def run(name: str, url: str, n: int) -> None:
        for _ in range(WARM_UP):
            timed_get(client, url)
        samples[name] = [timed_get(client, url) for _ in range(n)]
        print(f"    {name}: p50 {statistics.median(samples[name]):.1f} ms", file=sys.stderr)

    run("/healthz (floor)", "/healthz", requests)
    _set_store(app, figures=False, report=True)
    app.config["COUNT_CAP"] = 10**12  # "small": counted in the request, as before
    run("dashboard, figures counted in the request (before)", "/", max(5, requests // 5))
    app.config["COUNT_CAP"] = cap
    job_seconds = _set_store(app, figures=True, report=True)
    run("dashboard, stored figures (after)", "/", requests)
    _set_store(app, figures=False, report=True)
    run("dashboard, nothing stored yet (capped counts)", "/", requests)
    return samples, job_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/crm_bench")
    parser.add_argument("--keep", metavar="DIR", help="keep the databases (SQLite files in DIR)")
    parser.add_argument("--reuse", action="store_true", help="measure kept databases again")
    args = parser.parse_args()
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR (where the kept databases are)")

    started = datetime.now(UTC)
    lines = [
        f"Dashboard benchmark, {started:%Y-%m-%d %H:%M} UTC, revision {git_revision()}; "
        f"{os.cpu_count()} CPUs; CPU reference loop {cpu_reference_ms():.0f} ms.",
        "Server-side time through the Flask test client (no network); ratio = p50 / /healthz p50.",
        "",
        "| engine | contacts | request | p50 ms | p95 ms | × /healthz |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    jobs = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        os.environ.setdefault("CRM_INSTANCE_DIR", str(Path(tmp) / "instance"))
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for engine in args.engines.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                url = database_url(engine, size, args.pg_url, workdir, per_size=bool(args.keep))
                reused = reuse_app(url, size) if args.reuse else None
                if reused:
                    print(f"reusing {engine} with {size:,} contacts…", file=sys.stderr)
                    app, token = reused
                else:
                    print(f"building {engine} with {size:,} contacts…", file=sys.stderr)
                    app, token = build_app(engine, size, url)
                samples, job_seconds = measure(app, token, args.requests)
                floor = statistics.median(samples["/healthz (floor)"])
                for name, values in samples.items():
                    p50 = statistics.median(values)
                    lines.append(
                        f"| {engine} | {size:,} | {name} | {p50:.1f} | "
                        f"{percentile(values, 95):.1f} | {p50 / floor:.0f} |"
                    )
                jobs.append(
                    f"- {engine}, {size:,} contacts: the figures job took "
                    f"{job_seconds * 1000:.0f} ms (once a minute, in the worker)"
                )
                with app.app_context():
                    from crm.extensions import db

                    db.engine.dispose()
                if not args.keep:
                    for leftover in Path(tmp).glob(f"bench-{size}.sqlite3*"):
                        leftover.unlink()
    report = "\n".join([*lines, "", *jobs]) + "\n"
    print(report)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"dashboard-{started:%Y%m%dT%H%M%S}.md").write_text(report)


if __name__ == "__main__":
    main()
