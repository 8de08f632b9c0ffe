"""Duplicate scan speed at scale, beside the engine's bare SELECT of the same columns.

For each engine (SQLite, PostgreSQL) this builds a fresh database with the migrations and the
bulk generator (`crm.demo.bulk.generate`: 1M contacts and 100k organizations by default), injects
known duplicates (contacts: the same email in capitals, a one-letter typo in the name within the
same organization, the same phone number written differently; organizations: a legal form
appended, a one-letter typo), then times, several runs each:

  * the bare SELECT of the columns the scan reads, fetched into Python (the engine's floor);
  * the whole scan (read, group, compare, score), phase by phase;

and checks that every injected pair was found. Then, as the app runs it (`--jobs`, on by
default), beside the floors in the same run:

  * the full scan as a job (`duplicates.scan` through the worker's drain: scan, store the pairs,
    mark it done), beside the scan alone;
  * the small job (`duplicates.compare`) after one contact, and after one organization, was
    edited to match another, beside an empty job (`jobs.noop`) through the same drain: the
    queue's own floor;
  * the duplicates page (first page, a page further on by cursor, score 100 only) through the
    test client, beside `/healthz` through the same client.

Prints markdown tables.

    .venv/bin/python benchmarks/duplicates.py [--contacts 1000000] [--organizations 100000]
        [--engines sqlite,postgresql] [--runs 3]
        [--pg-url postgresql://postgres@127.0.0.1/crm_bench_duplicates] [--keep DIR] [--reuse]
        [--no-jobs] [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks.common import cpu_reference_ms, fresh_postgres, sqlalchemy_url  # noqa: E402
from benchmarks.contact_list import make_app  # noqa: E402
from crm.auth.sessions import start as start_session  # noqa: E402

INJECTED = 1000  # of each kind


def _typo(text: str, rng: random.Random) -> str:
    """One letter dropped or two neighbours swapped, past the first letter."""
    if len(text) < 4:
        return text + "e"
    i = rng.randint(1, len(text) - 2)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def inject(rng: random.Random) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Known duplicate pairs, written with plain SQL; returns (contact pairs, org pairs)."""
    from crm.contacts.models import search_text_for, sort_name_for
    from crm.core.db import utcnow
    from crm.extensions import db
    from crm.organizations.operations import name_key

    session = db.session
    max_contact = session.scalar(sa.text("SELECT max(id) FROM contact"))
    max_org = session.scalar(sa.text("SELECT max(id) FROM organization"))
    picked = rng.sample(range(1, max_contact + 1), 3 * INJECTED)
    rows = {
        row.id: row
        for row in session.execute(
            sa.text(
                "SELECT id, first_name, last_name, email, organization_id, country, "
                "consent_status FROM contact WHERE id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": picked},
        )
    }
    now = utcnow()
    contact_pairs: set[tuple[int, int]] = set()
    new_rows = []
    next_id = max_contact + 1
    for n, source_id in enumerate(picked):
        src = rows[source_id]
        first, last, email, phone = src.first_name, src.last_name, None, None
        if n < INJECTED and src.email:
            email = src.email.upper()  # slipped in before normalization
            last = last + " Jr"
        elif n < 2 * INJECTED:
            last = _typo(last, rng)
        else:
            phone = f"+1 (555) {n:07d}"
            session.execute(
                sa.text("UPDATE contact SET phone = :p WHERE id = :i"),
                {"p": f"1555{n:07d}", "i": source_id},
            )
            first = first + "a"
        new_rows.append(
            {
                "id": next_id, "first_name": first, "last_name": last, "email": email,
                "phone": phone, "organization_id": src.organization_id,
                "country": src.country, "consent_status": src.consent_status,
                "sort_name": sort_name_for(first, last),
                "search_text": search_text_for(first, last, email),
                "created_at": now, "updated_at": now, "version": 1,
            }
        )  # fmt: skip
        contact_pairs.add((source_id, next_id))
        next_id += 1
    session.execute(
        sa.text(
            "INSERT INTO contact (id, first_name, last_name, email, phone, organization_id, "
            "country, consent_status, sort_name, search_text, created_at, updated_at, version) "
            "VALUES (:id, :first_name, :last_name, :email, :phone, :organization_id, :country, "
            ":consent_status, :sort_name, :search_text, :created_at, :updated_at, :version)"
        ),
        new_rows,
    )
    org_ids = rng.sample(range(1, max_org + 1), 2 * INJECTED)
    orgs = {
        row.id: row
        for row in session.execute(
            sa.text("SELECT id, name, kind, country FROM organization WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": org_ids},
        )
    }
    org_pairs: set[tuple[int, int]] = set()
    org_rows = []
    used = set(session.scalars(sa.text("SELECT name_key FROM organization")))
    next_org = max_org + 1
    for n, source_id in enumerate(org_ids):
        src = orgs[source_id]
        name = f"{src.name} Ltd" if n < INJECTED else _typo(src.name, rng)
        key = name_key(name)
        if key in used:
            continue
        used.add(key)
        org_rows.append(
            {
                "id": next_org, "name": name, "name_key": key, "kind": src.kind,
                "country": src.country, "created_at": now, "updated_at": now, "version": 1,
            }
        )  # fmt: skip
        org_pairs.add((source_id, next_org))
        next_org += 1
    session.execute(
        sa.text(
            "INSERT INTO organization (id, name, name_key, kind, country, created_at, "
            "updated_at, version) VALUES (:id, :name, :name_key, :kind, :country, :created_at, "
            ":updated_at, :version)"
        ),
        org_rows,
    )
    session.commit()
    return contact_pairs, org_pairs


def _injected() -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """The pairs inject() wrote into a kept database: the last rows of each table."""
    from crm.extensions import db

    def pairs(table: str, count: int) -> set[tuple[int, int]]:
        top = db.session.scalar(sa.text(f"SELECT max(id) FROM {table}"))  # noqa: S608
        return {(0, i) for i in range(top - count + 1, top + 1)}

    return pairs("contact", 3 * INJECTED), pairs("organization", 2 * INJECTED)


def _found(result, expected: set[tuple[int, int]]) -> float:
    """Share of the injected pairs found (for a kept database: of the injected records that
    are in some pair)."""
    frame = result.frame
    if expected and next(iter(expected))[0] == 0:
        ids = set(frame["low"].tolist()) | set(frame["high"].tolist())
        return sum(high in ids for _zero, high in expected) / len(expected)
    pairs = set(zip(frame["low"].tolist(), frame["high"].tolist(), strict=True))
    return len(expected & pairs) / len(expected) if expected else 1.0


def measure(
    engine: str,
    url: str,
    contacts: int,
    organizations: int,
    runs: int,
    *,
    reuse: bool = False,
    requests: int = 0,
) -> tuple[list[str], list[str]]:
    from flask_migrate import upgrade

    from crm.demo import bulk
    from crm.duplicates import scan
    from crm.extensions import db

    app = make_app(url)
    lines = []
    with app.app_context():
        upgrade()
        if reuse:
            contact_pairs, org_pairs = _injected()
        else:
            started = time.perf_counter()
            bulk.generate(contacts=contacts, organizations=organizations, seed=11)
            print(f"  {engine}: loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            contact_pairs, org_pairs = inject(random.Random(5))
            print(f"  {engine}: injected duplicates", file=sys.stderr)
        for kind, sql, run_scan, expected in (
            ("contacts", scan.CONTACT_SQL, scan.scan_contacts, contact_pairs),
            ("organizations", scan.ORGANIZATION_SQL, scan.scan_organizations, org_pairs),
        ):
            bare, full, results = [], [], []
            for _ in range(runs):
                db.session.rollback()
                t = time.perf_counter()
                rows = scan.read_rows(sql)
                bare.append(time.perf_counter() - t)
                count = len(rows)
                del rows
                db.session.rollback()
                result = run_scan()
                full.append(result.seconds)
                results.append(result)
            best = min(results, key=lambda r: r.seconds)
            phases = ", ".join(f"{k} {v:.2f}" for k, v in best.timings.items())
            lines.append(
                f"| {engine} | {kind} | {count:,} | {min(bare):.2f} / {statistics.median(bare):.2f}"
                f" | {min(full):.2f} / {statistics.median(full):.2f} | {len(best.pairs):,} "
                f"| {_found(best, expected):.1%} of {len(expected):,} | {phases} |"
            )
            print(lines[-1], file=sys.stderr)
        db.session.rollback()
    jobs = measure_jobs(engine, app, requests) if requests else []
    with app.app_context():
        db.engine.dispose()
    return lines, jobs


BENCH_EMAIL = "dupes-bench@example.org"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f} / {p95:.1f}"


def _drain(app) -> float:
    """Run every due job through the worker's own loop; seconds taken."""
    from crm.core.jobs.worker import Worker

    started = time.perf_counter()
    Worker(app, name="bench-worker").drain()
    return time.perf_counter() - started


def _queue(kind: str) -> None:
    from crm.core.jobs import enqueue
    from crm.extensions import db

    enqueue(kind)
    db.session.commit()


def _edit_to_match(kind) -> tuple[int, int]:
    """Edit one record so it matches another (a one-letter typo of its name, in the same
    organization for contacts), as a save does (updated_at moves); returns the pair."""
    from crm.contacts.models import Contact
    from crm.duplicates.models import DuplicateKind
    from crm.extensions import db
    from crm.organizations.models import Organization
    from crm.organizations.operations import name_key

    rng = random.Random()  # another record each run: a kept database already has last run's
    if kind is DuplicateKind.CONTACT:
        model = Contact
        top = db.session.scalar(sa.select(sa.func.max(Contact.id)))
        while True:
            source = db.session.get(Contact, rng.randint(1, top // 2))
            if source is not None and source.organization_id and len(source.last_name) > 5:
                break
        target = db.session.get(Contact, top // 2 + rng.randint(1, top // 2 - 1))
        target.first_name = source.first_name
        target.last_name = _typo(source.last_name, rng)
        target.organization_id = source.organization_id
        target.email = None
        target.set_search_fields()
    else:
        model = Organization
        top = db.session.scalar(sa.select(sa.func.max(Organization.id)))
        source = db.session.get(Organization, rng.randint(1, top // 2))
        target = db.session.get(Organization, top // 2 + rng.randint(1, top // 2 - 1))
        target.name = source.name + " Holdings"
        target.name_key = name_key(target.name)
    db.session.commit()
    del model
    return tuple(sorted((source.id, target.id)))  # type: ignore[return-value]


def measure_jobs(engine: str, app, requests: int) -> list[str]:
    """The scan and the small job as the worker runs them, and the page, beside their floors."""
    from crm.auth.models import Role, User
    from crm.core.db import utcnow
    from crm.duplicates import queries
    from crm.duplicates.models import (
        COMPARE_JOB,
        DuplicateKind,
        DuplicatePair,
        DuplicateScan,
    )
    from crm.duplicates.operations import scans
    from crm.extensions import db

    lines = []
    with app.app_context():
        db.session.rollback()
        lead = db.session.scalar(sa.select(User).where(User.email == BENCH_EMAIL))
        if lead is None:
            lead = User(email=BENCH_EMAIL, name="Dupes Bench", role=Role.LEAD)
            lead.set_password("bench kettle tune 42")
            db.session.add(lead)
            db.session.commit()
        token = start_session(lead)
        db.session.commit()  # the signed-in session
        # The generated and injected records were all saved within the last minutes: date them
        # back, so the small job sees only the edits below (as on a database in use, where the
        # comparison keeps up with the saves).
        back = utcnow() - timedelta(minutes=10)
        for table in ("contact", "organization"):
            db.session.execute(
                sa.text(f"UPDATE {table} SET updated_at = :back WHERE updated_at > :back"),  # noqa: S608
                {"back": back},
            )
        db.session.commit()
        noop = []
        for _ in range(5):
            _queue("jobs.noop")
            noop.append(_drain(app))
        floor = f"{statistics.median(noop) * 1000:.0f} ms"
        for kind in DuplicateKind:
            scan, _ = scans.request_scan(None, kind)
            db.session.commit()
            scan_id = scan.id
            seconds = _drain(app)
            db.session.expire_all()
            done = db.session.get(DuplicateScan, scan_id)
            lines.append(
                f"| {engine} | full scan job, {kind.label.lower()} | {done.records:,} records "
                f"| {seconds:.2f} s | scan alone {done.seconds:.2f} s; {done.pairs_found:,} pairs "
                f"stored ({done.status.value}) |"
            )
            print(lines[-1], file=sys.stderr)
        _queue(COMPARE_JOB)
        seconds = _drain(app)
        lines.append(
            f"| {engine} | small job, nothing changed | | {seconds * 1000:.0f} ms "
            f"| empty job {floor} |"
        )
        for kind in DuplicateKind:
            pair = _edit_to_match(kind)

            def stored_score(kind=kind, pair=pair) -> int | None:
                return db.session.scalar(
                    sa.select(DuplicatePair.score).where(
                        DuplicatePair.kind == kind,
                        DuplicatePair.low_id == pair[0],
                        DuplicatePair.high_id == pair[1],
                    )
                )

            if stored_score() is not None:
                raise RuntimeError(f"{pair} was stored before the edit was compared")
            _queue(COMPARE_JOB)
            seconds = _drain(app)
            found = stored_score()
            lines.append(
                f"| {engine} | small job, one {kind.value} edited to match another | "
                f"| {seconds * 1000:.0f} ms | empty job {floor}; pair stored: "
                f"{'yes, score ' + str(found) if found else 'NO'} |"
            )
            print(lines[-1], file=sys.stderr)
        db.session.rollback()
        deep = queries.page_of_pairs(DuplicateKind.CONTACT)
        for _ in range(20):  # twenty pages on
            if deep.next_after is None:
                break
            deep = queries.page_of_pairs(DuplicateKind.CONTACT, after=deep.next_after)
        cursor = queries.cursor_text(deep.after)
        db.session.rollback()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    cases = {
        "/healthz (floor)": "/healthz",
        "page: contacts, first page": "/duplicates/",
        "page: contacts, 21st page (cursor)": f"/duplicates/?after={cursor}",
        "page: contacts, score 100 only": "/duplicates/?min_score=100",
        "page: organizations, first page": "/duplicates/?kind=organizations",
    }
    for label, url in cases.items():
        samples = []
        client.get(url)  # warm
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
        lines.append(f"| {engine} | {label} | {requests} requests | {_ms(samples)} ms | |")
        print(lines[-1], file=sys.stderr)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1/crm_bench_duplicates")
    parser.add_argument("--keep", help="directory for the SQLite database (kept after)")
    parser.add_argument(
        "--reuse", action="store_true",
        help="measure the databases kept by an earlier run (--keep DIR; PostgreSQL: --pg-url) "
        "instead of building them",
    )  # fmt: skip
    parser.add_argument("--no-jobs", action="store_true", help="time the scan only")
    parser.add_argument("--requests", type=int, default=50, help="page requests per case")
    args = parser.parse_args()

    lines, jobs = [], []
    with tempfile.TemporaryDirectory(prefix="crm-dups-") as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for engine in args.engines.split(","):
            if engine == "sqlite":
                path = workdir / "duplicates.sqlite3"
                if not args.reuse:
                    for leftover in workdir.glob("duplicates.sqlite3*"):
                        leftover.unlink()
                url = f"sqlite:///{path}"
            else:
                url = sqlalchemy_url(args.pg_url)
                if not args.reuse:
                    fresh_postgres(url)
            scanned, timed = measure(
                engine, url, args.contacts, args.organizations, args.runs, reuse=args.reuse,
                requests=0 if args.no_jobs else args.requests,
            )  # fmt: skip
            lines += scanned
            jobs += timed
    print(f"CPU reference loop: {cpu_reference_ms():.0f} ms (lower is faster)\n")
    print(
        "| engine | records | rows | bare SELECT s (best / median) | scan s (best / median) "
        "| pairs | injected found | phases of the best run, s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    if jobs:
        print("\n| engine | case | size | ours: time (page: median / p95) | beside |")
        print("|---|---|---|---|---|")
        for line in jobs:
            print(line)


if __name__ == "__main__":
    main()
