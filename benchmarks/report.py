"""The quarterly adoption report at scale: server-side time per request, beside the engine floor.

For each engine (SQLite, PostgreSQL) this builds a fresh database with the migrations, a lead
and a viewer, the bulk generators (`crm.demo.bulk`: 1M contacts, 100k organizations;
`crm.demo.bulk_activity`: 20k pledges with two years of quarterly progress reports, 1M
engagements, champions and endorsements, events and participants, sent campaigns and their
recipients, case studies), then times, through Flask's test client (in-process, no network):

  the report page (GET /reports/?quarter=…) · its XLSX, PDF and one CSV download · the
  dashboard (which shows the current quarter's figures from the same report; measured with the
  report cache emptied, and warm) · /healthz, the floor of any request

beside what the engine itself needs: the report's SQL statements, captured while building it,
replayed bare on the driver's cursor with every row fetched ("engine floor"), and the report
built without rendering ("build only"). Targets (issue 6): HTML ≤ 3 s, XLSX ≤ 5 s.

    .venv/bin/python benchmarks/report.py [--engines sqlite,postgresql] [--runs 7]
        [--quarter 2026Q3] [--pg-url postgresql://postgres@127.0.0.1:5432/crm_bench_report]
        [--contacts 1000000] [--organizations 100000] [--pledges 20000]
        [--engagements 1000000] [--keep DIR] [--reuse] [--profile] [--only TEXT]

--keep DIR keeps the databases (SQLite: DIR/report.sqlite3; PostgreSQL: the --pg-url database,
which is always dropped with FORCE and recreated when built: give it one of its own); --reuse
measures them again without building (the migrations are applied first). --profile prints the
top of a cProfile of one report page per engine; --only TEXT,… measures just the cases whose
name contains one of them (and the two floors: /healthz and the bare SQL).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision, sqlalchemy_url  # noqa: E402
from crm.auth.sessions import start as start_session  # noqa: E402

LEAD_EMAIL = "bench-lead@example.org"
VIEWER_EMAIL = "bench-viewer@example.org"
STAFF = 25  # the lead signed in and 24 volunteers
TARGETS_S = {"report page (HTML)": 3.0, "XLSX download": 5.0}


def make_app(url: str) -> Flask:
    from config import DevelopmentConfig
    from crm import create_app

    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        WTF_CSRF_ENABLED=False,
    )


def tokens(app: Flask) -> dict[str, str] | None:
    from crm.auth.models import User
    from crm.extensions import db

    with app.app_context():
        users = {
            u.email: start_session(u)
            for u in db.session.scalars(
                sa.select(User).where(User.email.in_([LEAD_EMAIL, VIEWER_EMAIL]))
            )
        }
        db.session.commit()  # the signed-in sessions
        db.session.rollback()
    if len(users) != 2:
        return None
    return {"lead": users[LEAD_EMAIL], "viewer": users[VIEWER_EMAIL]}


def reuse_app(url: str) -> tuple[Flask, dict[str, str]] | None:
    """A database kept by an earlier run, migrated to the head revision; None if unusable."""
    from flask_migrate import upgrade

    from crm.extensions import db

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    app = make_app(url)
    try:
        found = tokens(app)
    except sa.exc.SQLAlchemyError:
        found = None
    if found is None:
        with app.app_context():
            db.engine.dispose()
        return None
    with app.app_context():
        try:
            upgrade()
        except SystemExit:
            db.engine.dispose()
            return None
    return app, found


def build_app(engine: str, url: str, args: argparse.Namespace) -> tuple[Flask, dict, list[str]]:
    """A fresh database: migrations, a lead and a viewer, contacts, then the activity."""
    from flask_migrate import upgrade

    from crm.auth import operations
    from crm.auth.models import Role
    from crm.demo import bulk, bulk_activity
    from crm.extensions import db

    if engine == "sqlite":
        for leftover in Path(url.removeprefix("sqlite:///")).parent.glob("report.sqlite3*"):
            leftover.unlink()
    else:
        fresh_postgres(url)
    app = make_app(url)
    lines = []
    with app.app_context():
        upgrade()
        # The staff own the generated records (contacts, engagements, follow-ups): a team.
        team = [(f"bench-staff-{i}@example.org", Role.VOLUNTEER) for i in range(STAFF - 1)]
        for email, role in [(LEAD_EMAIL, Role.LEAD), (VIEWER_EMAIL, Role.VIEWER), *team]:
            operations.create_user(
                None, email=email, name=email, role=role, password="bench kettle tune 42"
            )
        db.session.commit()

        def progress(message: str) -> None:
            print(f"    {message}", file=sys.stderr)

        for label, load in (
            (
                "contacts",
                lambda: bulk.generate(
                    contacts=args.contacts,
                    organizations=args.organizations,
                    seed=7,
                    progress=progress,
                ),
            ),
            (
                "activity",
                lambda: bulk_activity.generate(
                    pledges=args.pledges,
                    engagements=args.engagements,
                    seed=7,
                    progress=progress,
                ),
            ),
        ):
            started = time.perf_counter()
            summary = load()
            lines.append(f"- {engine}, {label}: {summary} ({time.perf_counter() - started:.0f} s)")
            print(lines[-1], file=sys.stderr)
    found = tokens(app)
    assert found is not None
    return app, found, lines


def table_counts(app: Flask) -> str:
    from crm.extensions import db

    tables = (
        "contact", "organization", "pledge", "pledge_change", "progress_report", "assessment",
        "engagement", "engagement_contact", "champion", "stage_change", "endorsement", "event",
        "participation", "campaign", "outbox_message", "delivery_event", "case_study",
    )  # fmt: skip
    with app.app_context():
        parts = ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        row = db.session.execute(sa.text(f"SELECT {parts}")).one()
        db.session.rollback()
    return ", ".join(f"{t} {n:,}" for t, n in zip(tables, row, strict=True))


# --- Measuring ---------------------------------------------------------------------------------


def capture_statements(app: Flask, quarter) -> list[tuple[str, object]]:
    """The SQL statements (with their parameters, as sent to the driver) of one report build."""
    from crm.extensions import db
    from crm.reports.build import build_report

    captured: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            build_report(quarter)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        db.session.rollback()
    return captured


def engine_floor(app: Flask, statements: list[tuple[str, object]]) -> Callable[[], None]:
    """Replays the captured statements on a bare driver cursor, fetching every row."""
    from crm.extensions import db

    def run() -> None:
        with app.app_context(), db.engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                if cursor.description is not None:
                    cursor.fetchall()
            cursor.close()
            connection.rollback()

    return run


def build_only(app: Flask, quarter) -> Callable[[], None]:
    from crm.extensions import db
    from crm.reports.build import build_report

    def run() -> None:
        with app.app_context():
            build_report(quarter)
            db.session.rollback()

    return run


def client_for(app: Flask, token: str):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token  # Flask-Login's key: the user's session token
        session["_fresh"] = True
    return client


def get(client, url: str, before: Callable[[], None] | None = None) -> Callable[[], None]:
    def run() -> None:
        if before is not None:
            before()
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        response.get_data()

    return run


def timed(run: Callable[[], None], runs: int) -> list[float]:
    run()  # warm-up: caches, compiled statements
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return samples


def measure(
    app: Flask, users: dict[str, str], quarter, runs: int, profile: bool, only: str = ""
) -> tuple[dict[str, list[float]], int, str]:
    from crm.reports import views

    code = f"{quarter.year}Q{quarter.number}"
    viewer = client_for(app, users["viewer"])
    lead = client_for(app, users["lead"])
    statements = capture_statements(app, quarter)
    cases: dict[str, Callable[[], None]] = {
        "/healthz (trivial endpoint)": get(viewer, "/healthz"),
        "engine floor: the report's SQL, bare": engine_floor(app, statements),
        "build only (frames, no rendering)": build_only(app, quarter),
        "report page (HTML)": get(viewer, f"/reports/?quarter={code}"),
        "XLSX download": get(viewer, f"/reports/{code}.xlsx"),
        "CSV download (one section)": get(viewer, f"/reports/{code}/maturity-by-principle.csv"),
        "PDF download": get(viewer, f"/reports/{code}.pdf"),
        "dashboard, report cache empty": get(lead, "/", before=views._cache.clear),
        "dashboard, report cached": get(lead, "/"),
    }
    samples = {}
    for name, run in cases.items():
        wanted = [part for part in only.split(",") if part]
        floor = name.startswith(("/healthz", "engine floor"))
        if wanted and not floor and not any(part in name for part in wanted):
            continue
        samples[name] = timed(run, runs)
        print(f"    {name}: p50 {statistics.median(samples[name]):.3f} s", file=sys.stderr)
    profiled = ""
    if profile:
        profiler = cProfile.Profile()
        run = cases["report page (HTML)"]
        profiler.enable()
        run()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        profiled = out.getvalue()
    return samples, len(statements), profiled


def last_complete_quarter():
    from crm.pledges.schedule import Quarter

    return Quarter.of(date.today()).previous()


# What the report's figures depend on: an uncommitted change elsewhere does not alter them.
REPORT_PATHS = ("crm/reports", "crm/demo/bulk_activity.py", "benchmarks/report.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quarter", default="", help="e.g. 2026Q3; default the last one ended")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/crm_bench_report")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--pledges", type=int, default=20_000)
    parser.add_argument("--engagements", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the databases for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure kept databases again")
    parser.add_argument("--profile", action="store_true", help="cProfile one report page")
    parser.add_argument(
        "--only", default="", help="only the cases containing one of these, comma-separated"
    )
    args = parser.parse_args()
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR (where the kept databases are)")

    from crm.reports.build import parse_quarter

    quarter = parse_quarter(args.quarter) if args.quarter else last_complete_quarter()
    started = datetime.now(UTC)
    header = [
        f"Quarterly report benchmark, {started:%Y-%m-%d %H:%M} UTC, "
        f"revision {git_revision(*REPORT_PATHS)}; "
        f"{os.cpu_count()} CPUs; CPU reference loop {cpu_reference_ms():.0f} ms.",
        f"Report for {quarter.label}; {args.runs} timed runs per case after one warm-up; "
        "seconds, server-side through the Flask test client (no network). Targets: "
        + ", ".join(f"{k} ≤ {v:g} s" for k, v in TARGETS_S.items())
        + ".",
        "",
    ]
    table = [
        "| engine | case | p50 s | min s | max s | |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    notes: list[str] = []
    profiles: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-report-") as tmp:
        os.environ.setdefault("CRM_INSTANCE_DIR", str(Path(tmp) / "instance"))
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for engine in args.engines.split(","):
            if engine == "sqlite":
                url = f"sqlite:///{workdir / 'report.sqlite3'}"
            else:
                url = sa.engine.make_url(sqlalchemy_url(args.pg_url)).render_as_string(
                    hide_password=False
                )
            reused = reuse_app(url) if args.reuse else None
            if reused:
                print(f"reusing {engine}…", file=sys.stderr)
                app, users = reused
                notes.append(f"- {engine}: reused database")
            else:
                print(f"building {engine}…", file=sys.stderr)
                app, users, lines = build_app(engine, url, args)
                notes += lines
            notes.append(f"- {engine} rows: {table_counts(app)}")
            print("  measuring…", file=sys.stderr)
            samples, n_statements, profiled = measure(
                app, users, quarter, args.runs, args.profile, args.only
            )
            notes.append(f"- {engine}: the report runs {n_statements} SQL statements")
            for name, values in samples.items():
                target = TARGETS_S.get(name)
                flag = f"over {target:g} s" if target and statistics.median(values) > target else ""
                table.append(
                    f"| {engine} | {name} | {statistics.median(values):.3f} | "
                    f"{min(values):.3f} | {max(values):.3f} | {flag} |"
                )
            if profiled:
                profiles.append(f"## {engine}: profile of one report page\n\n```\n{profiled}```")
            with app.app_context():
                from crm.extensions import db

                db.engine.dispose()
    report = "\n".join([*header, *table, "", *notes, "", *profiles]) + "\n"
    print(report)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"report-{started:%Y%m%dT%H%M%S}.md").write_text(report)


if __name__ == "__main__":
    main()
