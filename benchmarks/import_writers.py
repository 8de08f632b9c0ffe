"""An import beside people saving: how long it holds the write lock, how long saves wait, and
its speed on SQLite and PostgreSQL beside each engine's floor.

    .venv/bin/python benchmarks/import_writers.py [--contacts 100000] [--rows 100000]
        [--savers 40] [--pg-url postgresql://postgres@127.0.0.1:5432/NAME] [--keep DIR]
        [--reuse] [--skip-sqlite] [--saves-alone SECONDS]

Builds a database of `--contacts` contacts (the bulk demo loader) on SQLite, and on PostgreSQL
when `--pg-url` is given (that database is dropped and made again), and a contacts CSV of
`--rows` rows (90% new people, 10% addresses the database has), as benchmarks/imports.py does.
Then, on each engine:

- floor: the same new rows' contact columns written in one transaction by the engine's own
  bulk path, nothing validated or matched (SQLite: one executemany through sqlite3;
  PostgreSQL: one COPY through psycopg, rolled back);
- import: `flask crm import FILE --type contacts` in a process of its own, as from a terminal,
  while `--savers` threads of this process each save a contact of their own on the web form
  (the test client, as a browser would post it), one save after another, until the import
  ends. The import process times each transaction that took SQLite's write lock, from its
  `BEGIN IMMEDIATE` returning to its commit (on PostgreSQL: each writing transaction), and
  the check of the file (read, validate, match: no lock).

`--saves-alone 30` then runs the same saves on SQLite for 30 s with no import: how long they
wait for each other, the baseline for the waits beside the import.

With `--keep DIR --reuse` the databases built by an earlier run with the same `--keep` are
used again (copied afresh on SQLite; on PostgreSQL the import's contacts deleted again first).

It prints the import's time beside the floor, the longest write transaction (the lock held),
the check's time, the import's peak memory, and the saves: how many, how many failed, and the
longest and 99th-percentile wait.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision, sqlalchemy_url  # noqa: E402
from crm.auth.sessions import start as start_session  # noqa: E402

SECRET = "benchmark-secret-key-benchmark-secret"


def _base():
    """benchmarks/imports.py (its database builder, CSV writer and SQLite floor)."""
    spec = importlib.util.spec_from_file_location(
        "imports_benchmark", ROOT / "benchmarks" / "imports.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_app(url: str, instance: Path, config: str = "DevelopmentConfig"):
    import config as settings
    from crm import create_app

    return create_app(
        getattr(settings, config),
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=SECRET,
        INSTANCE_DIR=str(instance),
    )


# --- building -------------------------------------------------------------------------------


def build_postgres(url: str, contacts: int, instance: Path) -> float:
    from flask_migrate import upgrade

    from crm.demo import bulk

    fresh_postgres(url)
    app = make_app(url, instance)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        bulk.generate(contacts=contacts, organizations=max(1, contacts // 10), seed=11)
        from crm.extensions import db

        db.session.remove()
        db.engine.dispose()
    return time.perf_counter() - started


def reset_postgres(url: str, instance: Path) -> None:
    """A database built by an earlier run made as it was built again: what the last import
    wrote (every record made since its run began) and the benchmark's lead are deleted."""
    import sqlalchemy as sa

    from crm.audit.models import AuditEntry
    from crm.auth.models import User
    from crm.contacts.models import Contact
    from crm.core.jobs.models import Job
    from crm.extensions import db
    from crm.imports.models import ImportItem, ImportRun, ImportUpload
    from crm.organizations.models import Organization
    from crm.tags.models import contact_tag

    app = make_app(url, instance)
    with app.app_context():
        first = db.session.scalar(sa.select(sa.func.min(ImportRun.created_at)))
        if first is not None:
            made = sa.select(Contact.id).where(Contact.created_at >= first)
            db.session.execute(sa.delete(contact_tag).where(contact_tag.c.contact_id.in_(made)))
            for model in (Contact, Organization):
                db.session.execute(sa.delete(model).where(model.created_at >= first))
            db.session.execute(sa.delete(AuditEntry).where(AuditEntry.at >= first))
        for model in (ImportItem, ImportRun, ImportUpload, Job):
            db.session.execute(sa.delete(model))
        db.session.execute(sa.delete(User).where(User.email == "bench-lead@example.org"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def add_lead_and_targets(url: str, instance: Path, savers: int) -> list[int]:
    """A lead to save as, and the ids of the contacts the savers edit (one each)."""
    import sqlalchemy as sa

    from crm.auth.models import Role, User
    from crm.contacts.models import Contact
    from crm.extensions import db

    app = make_app(url, instance)
    with app.app_context():
        user = User(email="bench-lead@example.org", name="Bench Lead", role=Role.LEAD)
        user.set_password("correct horse battery staple")
        db.session.add(user)
        db.session.commit()
        ids = list(db.session.scalars(sa.select(Contact.id).order_by(Contact.id).limit(savers)))
        db.session.remove()
        db.engine.dispose()
    return ids


# --- floors ---------------------------------------------------------------------------------


def floor_postgres(url: str, csv_path: Path) -> dict:
    """The same new rows' contact columns by one COPY in one transaction (rolled back)."""
    import csv

    import psycopg

    from crm.contacts.models import search_text_for, sort_name_for
    from crm.imports.cell_values import country

    plain = sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as con:
        orgs = dict(con.execute("SELECT name, id FROM organization").fetchall())
        known = {e for (e,) in con.execute("SELECT email FROM contact WHERE email IS NOT NULL")}
        consent = {"yes": "granted", "no": "withdrawn"}
        now = "2026-11-25 12:00:00+00"
        rows = []
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for first, last, email, org, place, title, _tags, agreed in reader:
                email = email.lower()
                if email in known:
                    continue
                status = consent.get(agreed, "unknown")
                rows.append((
                    first, last, email, title or None, orgs.get(org),
                    country(place) if place else None, status,
                    f"import: {csv_path.name}" if status != "unknown" else None,
                    now if status != "unknown" else None,
                    sort_name_for(first, last), search_text_for(first, last, email),
                    now, now, 1,
                ))  # fmt: skip
        started, c0 = time.perf_counter(), time.process_time()
        copy_sql = (
            "COPY contact (first_name, last_name, email, title, organization_id, country, "
            "consent_status, consent_source, consent_at, sort_name, search_text, created_at, "
            "updated_at, version) FROM STDIN"
        )
        with con.transaction(force_rollback=True), con.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        return {"rows": len(rows), "total_s": time.perf_counter() - started,
                "cpu_s": time.process_time() - c0}  # fmt: skip


# --- the import, in a process of its own ------------------------------------------------------


def child_import(url: str, instance: Path, csv_path: Path) -> dict:
    """`flask crm import` in this process, its writing transactions timed."""
    import sqlalchemy as sa

    from crm.core.write_lock import begins_writing
    from crm.extensions import db
    from crm.imports import staged

    app = make_app(url, instance)
    held: list[float] = []
    commits: list[float] = []
    began: dict[int, float] = {}
    checks: list[float] = []

    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):  # after the app's own listener: BEGIN IMMEDIATE has returned
        if begins_writing():
            began[id(connection.connection.dbapi_connection)] = time.perf_counter()

    slow: list[tuple[float, str]] = []  # statements that took over half a second

    @sa.event.listens_for(engine, "before_cursor_execute")
    def before_statement(connection, cursor, statement, parameters, context, executemany):
        connection.info["statement_began"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def after_statement(connection, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - connection.info.pop("statement_began", time.perf_counter())
        if took > 0.5:
            slow.append((round(took, 2), " ".join(statement.split())[:160]))

    committing: list[float] = []  # each write transaction's COMMIT: how long it took

    @sa.event.listens_for(engine, "commit")
    def on_commit(connection):  # as the COMMIT is sent
        if id(connection.connection.dbapi_connection) in began:
            committing.append(time.perf_counter())

    def on_end(session):
        for key in list(began):
            now = time.perf_counter()
            held.append(now - began.pop(key))
            if committing:
                commits.append(now - committing.pop())

    sa.event.listen(sa.orm.Session, "after_commit", on_end)
    sa.event.listen(sa.orm.Session, "after_rollback", on_end)
    original = staged.check_without_lock

    def timed_check(*args, **kwargs):
        checked = original(*args, **kwargs)
        checks.append(checked.seconds)
        return checked

    staged.check_without_lock = timed_check
    if os.environ.get("IMPORT_WRITERS_PROFILE"):  # where the write phase's time goes
        import cProfile
        import pstats

        writing = staged.write_with_lock

        def profiled(*args, **kwargs):
            profile = cProfile.Profile()
            try:
                return profile.runcall(writing, *args, **kwargs)
            finally:
                with open(os.environ["IMPORT_WRITERS_PROFILE"], "a") as out:
                    print(url.split(":")[0], file=out)
                    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(35)

        staged.write_with_lock = profiled
    started, c0 = time.perf_counter(), time.process_time()
    result = app.test_cli_runner().invoke(
        args=["crm", "import", str(csv_path), "--type", "contacts"]
    )
    total = time.perf_counter() - started
    base = _base()
    return {
        "exit_code": result.exit_code,
        "output": result.output[-400:],
        "total_s": total,
        "cpu_s": time.process_time() - c0,
        "check_s": checks[0] if checks else None,
        "write_transactions_s": sorted(held, reverse=True)[:3],
        "write_transactions": len(held),
        "write_transactions_in_order_s": [round(h, 3) for h in held],
        "commits_in_order_s": [round(c, 3) for c in commits],
        "slow_statements": slow,
        "held_total_s": sum(held),
        "peak_mb": base.peak_mb(),
    }


def run_import_with_saves(
    url: str, instance: Path, csv_path: Path, targets: list[int], alone: float | None = None
) -> dict:
    """The import in a child process; each of `targets` saved again and again meanwhile.
    With `alone`, no import: the same saves for that many seconds (what they wait for each
    other, the baseline)."""
    import sqlalchemy as sa

    from crm.auth.models import User
    from crm.contacts.models import Contact
    from crm.extensions import db

    app = make_app(url, instance, "TestConfig")  # the form without its CSRF token
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "bench-lead@example.org"))
        token = start_session(user)
        db.session.commit()  # the signed-in session
        db.session.remove()
    out = instance / "child.json"
    command = [sys.executable, __file__, "--child", url, str(instance), str(csv_path), str(out)]
    if alone:
        command = [sys.executable, "-c", f"import time; time.sleep({alone})"]
    child = subprocess.Popen(command, cwd=ROOT)
    waits: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def saver(contact_id: int) -> None:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = token, True
        n = 0
        while child.poll() is None:
            with app.app_context():
                version = db.session.get(Contact, contact_id).version
                db.session.remove()
            form = {"first_name": "Saved", "last_name": f"Person{contact_id}",  # fmt: skip
                    "title": f"Save {n}", "organization": "", "tags": "", "languages": "",
                    "phone": "", "country": "", "owner_id": "", "notes": "", "consent_source": "",
                    "consent_status": "unknown", "version": str(version)}  # fmt: skip
            started = time.perf_counter()
            status = client.post(f"/contacts/{contact_id}/edit", data=form).status_code
            elapsed = time.perf_counter() - started
            with lock:
                waits.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
            n += 1

    threads = [threading.Thread(target=saver, args=(i,)) for i in targets]
    for thread in threads:
        thread.start()
    child.wait()
    for thread in threads:
        thread.join()
    result = {} if alone else json.loads(out.read_text())
    ordered = sorted(waits)
    result["saves"] = {
        "count": len(waits),
        "statuses": statuses,
        "failed": sum(n for status, n in statuses.items() if status != 302),
        "max_s": ordered[-1] if ordered else None,
        "p99_s": ordered[int(len(ordered) * 0.99)] if ordered else None,
        "median_s": statistics.median(ordered) if ordered else None,
    }
    return result


# --- the report -----------------------------------------------------------------------------


def report(engine: str, floor: dict, imported: dict, rows: int) -> None:
    longest = imported["write_transactions_s"][0] if imported["write_transactions_s"] else 0
    saves = imported["saves"]
    if not saves["count"]:
        saves.update(median_s=0.0, p99_s=0.0, max_s=0.0)
    held = "the write lock held" if engine == "SQLite" else "its row locks held"
    lines = [
        f"\n{engine}",
        f"  floor ({floor['rows']:,} new rows, one transaction): {floor['total_s']:.2f} s",
        f"  import ({rows:,} rows, `flask crm import`): {imported['total_s']:.2f} s = "
        f"{imported['total_s'] / floor['total_s']:.1f}x the floor (exit {imported['exit_code']}), "
        f"peak {imported['peak_mb']:.0f} MB",
        f"    checking (no lock): {imported['check_s']:.2f} s",
        f"    longest write transaction ({held}): {longest:.2f} s = "
        f"{longest / floor['total_s']:.2f}x the floor's one transaction",
        f"    all {imported.get('write_transactions', 0)} write transactions: "
        f"{imported.get('held_total_s', 0):.2f} s = "
        f"{imported.get('held_total_s', 0) * 100_000 / rows:.2f} s per 100,000 rows",
        f"  saves meanwhile: {saves['count']} by {len(imported.get('targets', []))} savers, "
        f"{saves['failed']} failed {saves['statuses']}",
        f"    wait: median {saves['median_s']:.3f} s, p99 {saves['p99_s']:.2f} s, "
        f"max {saves['max_s']:.2f} s",
    ]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--savers", type=int, default=40)
    parser.add_argument("--pg-url")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--saves-alone", type=float, help="seconds of the saves with no import")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, instance, csv_path, out = args.child
        Path(out).write_text(json.dumps(child_import(url, Path(instance), Path(csv_path))))
        return

    base = _base()
    work = args.keep or Path(tempfile.mkdtemp(prefix="import-writers-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"revision {git_revision('crm', 'benchmarks')}; CPU reference {cpu_reference_ms():.0f} ms"
    )
    source = work / "built.sqlite3"
    csv_path = work / "people.csv"
    if not (args.reuse and source.exists() and csv_path.exists()):
        print(f"building {args.contacts:,} contacts on SQLite: "
              f"{base.build(source, args.contacts):.0f} s")  # fmt: skip
        base.write_csv(source, csv_path, args.rows, seed=7)
    print(f"load before: {os.getloadavg()[0]:.2f}")
    results = {}

    # SQLite
    if not args.skip_sqlite:
        floor_db = work / "floor.sqlite3"
        for leftover in work.glob("floor.sqlite3*"):  # an old -wal would replay onto the copy
            leftover.unlink()
        shutil.copyfile(source, floor_db)
        floor = base.phase_raw(floor_db, csv_path, bulk_fts=True)
        for leftover in work.glob("floor.sqlite3*"):
            leftover.unlink()
        target = work / "import.sqlite3"
        for leftover in work.glob("import.sqlite3*"):
            leftover.unlink()
        shutil.copyfile(source, target)
        url = f"sqlite:///{target}"
        instance = work / "instance-sqlite"
        shutil.rmtree(instance, ignore_errors=True)
        instance.mkdir(exist_ok=True)
        targets = add_lead_and_targets(url, instance, args.savers)
        imported = run_import_with_saves(url, instance, csv_path, targets)
        imported["targets"] = targets
        report("SQLite", floor, imported, args.rows)
        results["sqlite"] = {"floor": floor, "import": imported}
        if args.saves_alone:
            saves = run_import_with_saves(url, instance, csv_path, targets, args.saves_alone)
            alone = saves["saves"]
            print(f"  the same saves for {args.saves_alone:g} s with no import: {alone['count']}, "
                  f"{alone['failed']} failed {alone['statuses']}; wait: median "
                  f"{alone['median_s']:.3f} s, p99 {alone['p99_s']:.2f} s, "
                  f"max {alone['max_s']:.2f} s")  # fmt: skip
            results["sqlite"]["saves_alone"] = alone

    if args.pg_url:
        url = sqlalchemy_url(args.pg_url)
        instance = work / "instance-pg"
        instance.mkdir(exist_ok=True)
        if args.reuse and (work / "built-postgres").exists():
            reset_postgres(url, instance)
        else:
            print(f"\nbuilding {args.contacts:,} contacts on PostgreSQL: "
                  f"{build_postgres(url, args.contacts, instance):.0f} s")  # fmt: skip
            (work / "built-postgres").touch()
        floor = floor_postgres(url, csv_path)
        targets = add_lead_and_targets(url, instance, args.savers)
        imported = run_import_with_saves(url, instance, csv_path, targets)
        imported["targets"] = targets
        report("PostgreSQL", floor, imported, args.rows)
        results["postgresql"] = {"floor": floor, "import": imported}
        if "sqlite" in results:
            sqlite_s = results["sqlite"]["import"]["total_s"]
            print(f"\nPostgreSQL import time / SQLite import time: "
                  f"{imported['total_s'] / sqlite_s:.2f}")  # fmt: skip
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "import_writers.json").write_text(json.dumps(results, indent=2, default=str))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
