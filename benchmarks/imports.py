"""Import speed and memory: a 100k-row contacts CSV into a database of 1M contacts.

    .venv/bin/python benchmarks/imports.py [--contacts 1000000] [--rows 100000]
        [--big-rows 1000000] [--update-rows 100000] [--keep DIR] [--reuse] [--skip-trigger]
        [--skip-overwrite-undo]

Builds (or reuses, with --keep DIR --reuse) a SQLite database of `--contacts` contacts and a
tenth as many organizations with the bulk demo loader, writes a contacts CSV of `--rows` rows
(90% new people, 10% addresses already in the database, organizations named by name, countries,
tags, consent), then, each on a fresh copy of the database and in a process of its own (so peak
memory is the import's own):

- raw: the engine's floor, the same rows' contact columns inserted with one executemany in one
  transaction through sqlite3, with the same indexes (nothing validated, nothing matched); once
  with the search trigger firing per row, once with the search index filled by one statement
  at the end, as the importer does;
- import: `crm.imports.operations` exactly as the web page and `flask crm import` run it (read,
  map, validate, dedupe against the database and inside the file, write, the run's undo items,
  commit), existing records filled in;
- overwrite: an import of `--update-rows` contacts the database has, each with new values
  (title, phone, country, organization, tags, consent), policy "overwrite": every row an
  update with its audit entry; then the undo of it (an entry per record put back); beside
  its floor, the same values written by one executemany of UPDATE by id;
- import of a `--big-rows` file, for peak memory.

`--skip-trigger` leaves out the raw case with the per-row search trigger (the slowest, and
unchanged by the importer), `--skip-overwrite-undo` the undo of the overwrite. Besides the
wall-clock time each case gives its CPU time (user + system): on a busy machine that moves
less than the wall clock.

Rows per second and peak memory (max RSS of the process) are printed and written to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTRIES = ["BD", "KE", "IN", "GB", "US", "DE", "BR", "VN", "Kenya", "Bangladesh", "Sénégal", "UK"]
TAGS = ["pilot", "priority", "asia", "africa", "europe", "newsletter", ""]


def peak_mb() -> float:
    """This process's own high-water mark (VmHWM: ru_maxrss would carry the parent's peak
    across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_app(path: Path):
    from config import DevelopmentConfig
    from crm import create_app

    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        INSTANCE_DIR=str(path.parent / "instance"),
    )


def build(path: Path, contacts: int) -> float:
    from flask_migrate import upgrade

    from crm.demo import bulk

    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    app = make_app(path)
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        bulk.generate(
            contacts=contacts,
            organizations=max(1, contacts // 10),
            seed=11,
            progress=lambda m: print(f"    {m}", file=sys.stderr),
        )
    return time.perf_counter() - started


def write_csv(db_path: Path, out: Path, rows: int, seed: int) -> None:
    """`rows` contacts: 90% new, 10% with an address the database has (some in other case)."""
    rng = random.Random(seed)
    con = sqlite3.connect(db_path)
    existing = [
        e
        for (e,) in con.execute(
            "SELECT email FROM contact WHERE email IS NOT NULL ORDER BY random() LIMIT ?",
            (rows // 10,),
        )
    ]
    orgs = [n for (n,) in con.execute("SELECT name FROM organization ORDER BY random() LIMIT 5000")]
    con.close()
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "First name",
                "Last name",
                "E-mail",
                "Company",
                "Country",
                "Job title",
                "Tags",
                "Consent",
            ]
        )
        known = iter(existing)
        for i in range(rows):
            email = next(known, None) if i % 10 == 0 else None
            if email is None:
                email = f"person{seed}.{i}@import{i % 97}.example"
            elif i % 20 == 0:
                email = email.upper()
            writer.writerow(
                [
                    rng.choice(["Amina", "José", "Nguyễn", "Priya", "Oliver", "Fatou", "Li"]),
                    rng.choice(["Rahman", "Núñez", "Thị Lan", "Sharma", "Taylor", "Diop", "Wei"])
                    + str(i % 1000),
                    email,
                    rng.choice(orgs),
                    rng.choice(COUNTRIES),
                    rng.choice(["Compliance officer", "Buyer", "Organizer", ""]),
                    rng.choice(TAGS),
                    rng.choice(["yes", "", "no", "unknown"]),
                ]
            )


def write_update_csv(db_path: Path, out: Path, rows: int, seed: int) -> None:
    """`rows` contacts the database has (by email, a few in capitals), each with new values
    for an overwrite: title, phone, country, organization, tags, consent (the names as
    they are, so the match is by email and the name index is left alone)."""
    rng = random.Random(seed)
    con = sqlite3.connect(db_path)
    existing = con.execute(
        "SELECT first_name, last_name, email FROM contact WHERE email IS NOT NULL "
        "ORDER BY random() LIMIT ?",
        (rows,),
    ).fetchall()
    orgs = [n for (n,) in con.execute("SELECT name FROM organization ORDER BY random() LIMIT 5000")]
    con.close()
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["First name", "Last name", "E-mail", "Phone", "Company", "Country", "Job title",
             "Tags", "Consent"]
        )  # fmt: skip
        for i, (first, last, email) in enumerate(existing):
            writer.writerow(
                [
                    first,
                    last,
                    email.upper() if i % 20 == 0 else email,
                    f"+254 7{i:08d}",
                    rng.choice(orgs),
                    rng.choice(COUNTRIES),
                    rng.choice(["Compliance officer", "Buyer", "Organizer", "Director"]),
                    rng.choice(TAGS),
                    rng.choice(["yes", "", "no", "unknown"]),
                ]
            )


def audit_count(db) -> int:
    import sqlalchemy as sa

    return db.session.scalar(sa.text("SELECT count(*) FROM audit_entry"))


def phase_import(db_path: Path, csv_path: Path, policy: str) -> dict:
    from crm.extensions import db
    from crm.imports import operations

    app = make_app(db_path)
    with app.app_context():
        entries = audit_count(db)
        t0, c0 = time.perf_counter(), time.process_time()
        run = operations.start_run(None, "contacts", csv_path.name, csv_path)
        operations.set_mapping(run, run.mapping, policy)
        t1 = time.perf_counter()
        outcome = operations.perform(None, run)
        t2 = time.perf_counter()
        db.session.commit()
        t3 = time.perf_counter()
        return {
            "rows": run.total_rows,
            "upload_and_count_s": t1 - t0,
            "import_s": t2 - t1,
            "commit_s": t3 - t2,
            "total_s": t3 - t0,
            "cpu_s": time.process_time() - c0,
            "created": outcome.created,
            "updated": outcome.updated,
            "skipped": outcome.skipped,
            "failed": outcome.failed,
            "extra": run.extra_created,
            "audit_entries": audit_count(db) - entries,
            "peak_mb": peak_mb(),
        }


def phase_undo(db_path: Path) -> dict:
    import sqlalchemy as sa

    from crm.extensions import db
    from crm.imports import operations
    from crm.imports.models import ImportRun

    app = make_app(db_path)
    with app.app_context():
        run = db.session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc())).first()
        entries = audit_count(db)
        started, c0 = time.perf_counter(), time.process_time()
        result = operations.undo(None, run)
        db.session.commit()
        return {
            "rows": run.total_rows,
            "total_s": time.perf_counter() - started,
            "cpu_s": time.process_time() - c0,
            "peak_mb": peak_mb(),
            "removed": result["removed"],
            "restored": result["restored"],
            "audit_entries": audit_count(db) - entries,
        }


def _app_pragmas(con) -> None:
    """The connection settings the app's SQLite engine uses, so the floors compare fairly."""
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL",
                   "cache_size=-65536"):  # fmt: skip
        con.execute(f"PRAGMA {pragma}")


def phase_raw(db_path: Path, csv_path: Path, bulk_fts: bool) -> dict:
    """The same rows' contact columns into the contact table: one executemany, one
    transaction, the app's pragmas, indexes and triggers. Everything the importer works out
    (organization ids, country codes, consent, names folded for sorting and search) is worked
    out beforehand, untimed; new rows only (the importer updates the 10% it finds)."""
    from crm.contacts.models import search_text_for, sort_name_for
    from crm.imports.cell_values import country

    con = sqlite3.connect(db_path, isolation_level=None)
    orgs = dict(con.execute("SELECT name, id FROM organization"))
    known = {e for (e,) in con.execute("SELECT email FROM contact WHERE email IS NOT NULL")}
    now = "2026-11-25 12:00:00.000000"
    consent = {"yes": "granted", "no": "withdrawn"}
    rows = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for first, last, email, org, place, title, _tags, agreed in reader:
            email = email.lower()
            if email in known:
                continue
            status = consent.get(agreed, "unknown")
            rows.append(
                (
                    first,
                    last,
                    email,
                    title or None,
                    orgs.get(org),
                    country(place) if place else None,
                    status,
                    f"import: {csv_path.name}" if status != "unknown" else None,
                    now if status != "unknown" else None,
                    sort_name_for(first, last),
                    search_text_for(first, last, email),
                    now,
                    now,
                    1,
                )
            )
    del known
    _app_pragmas(con)
    started, c0 = time.perf_counter(), time.process_time()
    con.execute("BEGIN IMMEDIATE")
    before = con.execute("SELECT max(id) FROM contact").fetchone()[0] or 0
    if bulk_fts:  # the search index filled by one statement, as the importer does
        con.execute("DROP TRIGGER contact_fts_ai")
    con.executemany(
        "INSERT INTO contact (first_name, last_name, email, title, organization_id, country, "
        "consent_status, consent_source, consent_at, sort_name, search_text, created_at, "
        "updated_at, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    if bulk_fts:
        con.execute(
            "INSERT INTO contact_fts(rowid, search_text) SELECT id, search_text FROM contact "
            "WHERE id > ?",
            (before,),
        )
    con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - c0
    return {"rows": len(rows), "total_s": elapsed, "cpu_s": cpu, "peak_mb": peak_mb()}


def phase_raw_update(db_path: Path, csv_path: Path) -> dict:
    """The floor of the overwrite case: the same rows' new values (phone, title, organization,
    country, consent) written over the contacts they name by one executemany of UPDATE by id
    in one transaction, the ids and values worked out beforehand, untimed; no audit entries,
    no undo items, no tags."""
    from crm.imports.cell_values import country

    con = sqlite3.connect(db_path, isolation_level=None)
    orgs = dict(con.execute("SELECT name, id FROM organization"))
    ids = dict(con.execute("SELECT email, id FROM contact WHERE email IS NOT NULL"))
    now = "2026-11-25 12:00:00.000000"
    consent = {"yes": "granted", "no": "withdrawn"}
    rows = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for _first, _last, email, phone, org, place, title, _tags, agreed in reader:
            status = consent.get(agreed, "unknown")
            rows.append(
                (phone, title, orgs.get(org), country(place), status, now, ids[email.lower()])
            )
    del ids
    _app_pragmas(con)
    started, c0 = time.perf_counter(), time.process_time()
    con.execute("BEGIN IMMEDIATE")
    con.executemany(
        "UPDATE contact SET phone = ?, title = ?, organization_id = ?, country = ?, "
        "consent_status = ?, updated_at = ?, version = version + 1 WHERE id = ?",
        rows,
    )
    con.execute("COMMIT")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - c0
    return {"rows": len(rows), "total_s": elapsed, "cpu_s": cpu, "peak_mb": peak_mb()}


def run_phase(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--update-rows",
        type=int,
        default=100_000,
        help="rows of the overwrite case (existing contacts, new values); 0 skips it",
    )
    parser.add_argument("--skip-trigger", action="store_true")
    parser.add_argument("--skip-overwrite-undo", action="store_true")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--phase", nargs="*")
    args = parser.parse_args()
    if args.phase:
        kind, db_path, csv_path, *rest = args.phase
        if kind == "undo":
            result = phase_undo(Path(db_path))
        elif kind == "raw-update":
            result = phase_raw_update(Path(db_path), Path(csv_path))
        elif kind.startswith("raw"):
            result = phase_raw(Path(db_path), Path(csv_path), kind == "raw-bulk-fts")
        else:
            result = phase_import(Path(db_path), Path(csv_path), rest[0] if rest else "fill")
        print(json.dumps(result))
        return

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="crm-import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / f"base-{args.contacts}.sqlite3"
    if not (args.reuse and base.exists()):
        print(f"Building {args.contacts:,} contacts…", file=sys.stderr)
        print(f"  built in {build(base, args.contacts):.1f} s", file=sys.stderr)
    files = {}
    for rows in (args.rows, args.big_rows):
        if rows:
            files[rows] = workdir / f"contacts-{rows}.csv"
            if not (args.reuse and files[rows].exists()):
                write_csv(base, files[rows], rows, seed=rows % 1000 + 3)
    if args.update_rows:
        updates_csv = workdir / f"contacts-update-{args.update_rows}.csv"
        if not (args.reuse and updates_csv.exists()):
            write_update_csv(base, updates_csv, args.update_rows, seed=args.update_rows % 1000 + 5)
    results = []

    def fresh_copy(name: str) -> Path:
        target = workdir / f"{name}.sqlite3"
        for leftover in workdir.glob(f"{name}.sqlite3*"):
            leftover.unlink()
        shutil.copyfile(base, target)
        shutil.rmtree(workdir / "instance", ignore_errors=True)
        return target

    print(f"Raw insert of {args.rows:,} rows…", file=sys.stderr)
    if not args.skip_trigger:
        raw = run_phase("raw", str(fresh_copy("raw")), str(files[args.rows]))
        results.append(("raw executemany, search trigger per row", raw))
    raw = run_phase("raw-bulk-fts", str(fresh_copy("raw")), str(files[args.rows]))
    results.append(("raw executemany, search index in one statement (floor)", raw))
    print(f"Import of {args.rows:,} rows…", file=sys.stderr)
    copy = fresh_copy("import")
    imp = run_phase("import", str(copy), str(files[args.rows]), "fill")
    results.append((f"import {args.rows:,} rows", imp))
    print("Undo of that import…", file=sys.stderr)
    undo = run_phase("undo", str(copy), str(files[args.rows]))
    results.append((f"undo the {args.rows:,}-row import", undo))
    if args.update_rows:
        print(f"Raw update of {args.update_rows:,} existing contacts…", file=sys.stderr)
        raw = run_phase("raw-update", str(fresh_copy("raw")), str(updates_csv))
        results.append(("raw executemany UPDATE by id of the same values (overwrite floor)", raw))
        print(f"Overwrite import of {args.update_rows:,} existing contacts…", file=sys.stderr)
        copy = fresh_copy("update")
        upd = run_phase("import", str(copy), str(updates_csv), "overwrite")
        results.append((f"overwrite {args.update_rows:,} existing contacts", upd))
        if not args.skip_overwrite_undo:
            print("Undo of that import…", file=sys.stderr)
            undo = run_phase("undo", str(copy), str(updates_csv))
            results.append((f"undo the {args.update_rows:,}-row overwrite", undo))
    if args.big_rows:
        print(f"Import of {args.big_rows:,} rows…", file=sys.stderr)
        big = run_phase("import", str(fresh_copy("big")), str(files[args.big_rows]), "fill")
        results.append((f"import {args.big_rows:,} rows", big))

    lines = [
        f"# Contacts import into SQLite with {args.contacts:,} contacts "
        f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs)",
        "",
        "| case | rows | seconds | rows/s | CPU s | peak MB | detail |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in results:
        detail = ""
        if "removed" in r:
            detail = f"{r['removed']:,} removed, {r['restored']:,} put back"
        if "created" in r:
            detail = (
                f"{r['created']:,} created, {r['updated']:,} updated, {r['skipped']:,} skipped, "
                f"{r['failed']:,} failed; read+count {r['upload_and_count_s']:.1f} s, "
                f"import {r['import_s']:.1f} s, commit {r['commit_s']:.1f} s"
            )
        if "audit_entries" in r:
            detail += f"; {r['audit_entries']:,} audit entries"
        lines.append(
            f"| {name} | {r['rows']:,} | {r['total_s']:.2f} | {r['rows'] / r['total_s']:,.0f} "
            f"| {r['cpu_s']:.2f} | {r['peak_mb']:.0f} | {detail} |"
        )
    report = "\n".join(lines)
    print(report)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"imports-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
