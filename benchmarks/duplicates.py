"""Duplicate scan speed at scale, beside the engine's bare SELECT of the same columns.

For each engine (SQLite, PostgreSQL) this builds a fresh database with the migrations and the
bulk generator (`crm.demo.bulk.generate`: 1M contacts and 100k organizations by default), injects
known duplicates (contacts: the same email in capitals, a one-letter typo in the name within the
same organization, the same phone number written differently; organizations: a legal form
appended, a one-letter typo), then times, several runs each:

  * the bare SELECT of the columns the scan reads, fetched into Python (the engine's floor);
  * the whole scan (read, group, compare, score), phase by phase;

and checks that every injected pair was found. Prints a markdown table.

    .venv/bin/python benchmarks/duplicates.py [--contacts 1000000] [--organizations 100000]
        [--engines sqlite,postgresql] [--runs 3]
        [--pg-url postgresql://postgres@127.0.0.1/crm_bench_duplicates] [--keep DIR] [--reuse]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks.common import cpu_reference_ms, fresh_postgres, sqlalchemy_url  # noqa: E402
from benchmarks.contact_list import make_app  # noqa: E402

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
    engine: str, url: str, contacts: int, organizations: int, runs: int, *, reuse: bool = False
) -> list[str]:
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
                rows = scan._read(sql)
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
        db.engine.dispose()
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
    args = parser.parse_args()

    lines = []
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
            lines += measure(
                engine, url, args.contacts, args.organizations, args.runs, reuse=args.reuse
            )
    print(f"CPU reference loop: {cpu_reference_ms():.0f} ms (lower is faster)\n")
    print(
        "| engine | records | rows | bare SELECT s (best / median) | scan s (best / median) "
        "| pairs | injected found | phases of the best run, s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
