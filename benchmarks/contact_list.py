"""Contact list speed at scale: server-side time per request, beside a trivial endpoint.

For each engine (SQLite, PostgreSQL) and size (default 100k and 1M contacts) this builds a fresh
database with the migrations and the bulk generator (`flask crm demo --contacts N`), timing the
load beside the engine's bare insert speed for the same rows, then signs in as a lead through
Flask's test client (in-process: the time measured is the server's, without a network) and times
many requests of each kind:

  first page · a page 20 cursors deep · a deep page (cursor in the middle of the alphabet)
  · search by surname fragments · by full emails · by email prefixes (with and without the @)
  · /healthz, the trivial endpoint, as the floor of what any request costs in the same run

and prints p50 / p95 / max in milliseconds as a markdown table (also written to
benchmarks/results/, which git ignores).

    .venv/bin/python benchmarks/contact_list.py [--sizes 100000,1000000]
        [--engines sqlite,postgresql] [--requests 200]
        [--pg-url postgresql://postgres@127.0.0.1/crm_bench]
        [--keep DIR] [--reuse] [--only TEXT]

--keep DIR keeps the databases after the run (SQLite: DIR/bench-N.sqlite3; PostgreSQL: the
database of --pg-url with "_N" appended, one per size); --reuse measures such kept databases
again instead of building them (the migrations are applied first, so a new migration is
measured too; the load is not timed). --only keeps the request cases whose name contains TEXT.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision, sqlalchemy_url  # noqa: E402
from crm.auth.sessions import start as start_session  # noqa: E402

TARGET_P95_MS = 50.0
WARM_UP = 20


@dataclass
class Load:
    """How long the bulk load took, phase by phase, and the engine's bare insert of its rows."""

    seconds: float = 0.0
    phases: list[tuple[float, str]] = field(default_factory=list)
    bare_insert_seconds: float = 0.0

    def phase_summary(self) -> str:
        """'rows 23.1 s; contact indexes 11.0 s; …' from the generator's progress messages."""
        marks = [(at, m.split("] ")[-1]) for at, m in self.phases if "Contacts:" not in m]
        ends = [at for at, _message in marks[1:]] + [self.seconds]
        return "; ".join(
            f"{_phase_name(message)} {end - at:.1f} s"
            for (at, message), end in zip(marks, ends, strict=True)
        )


def _phase_name(message: str) -> str:
    """A progress message of crm.demo.bulk as the short name of the phase it starts."""
    message = message.rstrip("…")
    if message.startswith("Generating"):
        return "rows"  # organizations, then contacts: generated and written chunk by chunk
    if message.startswith("Building"):
        return message.removeprefix("Building ").removeprefix("the ")
    return {"Committing": "commit", "Updating planner statistics": "statistics"}.get(
        message, message
    )


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


BENCH_EMAIL = "bench@example.org"


def database_url(engine: str, size: int, pg_url: str, workdir: Path, *, per_size: bool) -> str:
    if engine == "sqlite":
        return f"sqlite:///{workdir / f'bench-{size}.sqlite3'}"
    url = sa.engine.make_url(sqlalchemy_url(pg_url))
    if per_size:  # kept databases: one per size, so both sizes can be reused
        url = url.set(database=f"{url.database}_{size}")
    return url.render_as_string(hide_password=False)


def make_app(url: str) -> Flask:
    from config import DevelopmentConfig
    from crm import create_app

    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        WTF_CSRF_ENABLED=False,
    )


def reuse_app(url: str, size: int) -> tuple[Flask, str] | None:
    """A database kept by an earlier run (--keep) with `size` contacts, migrated to the head
    revision; None when there is none or it is not complete."""
    from flask_migrate import upgrade

    from crm.auth.models import User
    from crm.contacts.models import Contact
    from crm.extensions import db

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    app = make_app(url)
    with app.app_context():
        try:
            contacts = db.session.scalar(sa.select(sa.func.count()).select_from(Contact))
            lead = db.session.scalar(sa.select(User).where(User.email == BENCH_EMAIL))
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            db.engine.dispose()
            return None
        if contacts != size or lead is None:
            db.engine.dispose()
            return None
        token = start_session(lead)
        db.session.commit()  # the signed-in session
        db.session.rollback()
        try:
            upgrade()
        except SystemExit:  # Flask-Migrate's answer to a revision this checkout does not have
            db.engine.dispose()
            return None
    return app, token


def build_app(engine: str, size: int, url: str) -> tuple[Flask, str, Load]:
    """A fresh database of `size` contacts: migrations, a lead to sign in as, the bulk load."""
    from flask_migrate import upgrade

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
    load = Load()
    with app.app_context():
        upgrade()
        # Created first, so the generated contacts get owners among the staff.
        lead = operations.create_user(
            None,
            email=BENCH_EMAIL,
            name="Bench Lead",
            role=Role.LEAD,
            password="bench kettle tune 42",
        )
        db.session.commit()
        token = start_session(lead)
        db.session.commit()  # the signed-in session
        started = time.perf_counter()

        def progress(message: str) -> None:
            load.phases.append((time.perf_counter() - started, message))
            print(f"    {message}", file=sys.stderr)

        bulk.generate(contacts=size, organizations=max(1, size // 10), seed=7, progress=progress)
        load.seconds = time.perf_counter() - started
        load.bare_insert_seconds = bare_insert_seconds(size)
    return app, token, load


def bare_insert_seconds(size: int) -> float:
    """The engine's own speed: the same contact rows into a table without any index or
    constraint, rows generated beforehand (not timed), in one transaction."""
    from crm.demo import bulk
    from crm.extensions import db

    dialect = db.engine.dialect.name
    chunks = list(bulk.contact_rows(size, dialect=dialect, seed=7))
    columns = ", ".join(bulk.CONTACT_COLUMNS)
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        if dialect == "sqlite":
            raw.execute(f"CREATE TABLE bare_contact ({columns})")
            placeholders = ", ".join("?" * len(bulk.CONTACT_COLUMNS))
            started = time.perf_counter()
            raw.execute("BEGIN")
            for rows in chunks:
                raw.executemany(f"INSERT INTO bare_contact VALUES ({placeholders})", rows)
            raw.execute("COMMIT")
            elapsed = time.perf_counter() - started
            raw.execute("DROP TABLE bare_contact")
        else:
            with raw.cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE bare_contact AS SELECT " + columns + " FROM contact WITH NO DATA"
                )
                raw.commit()
                started = time.perf_counter()
                for rows in chunks:
                    with cursor.copy(f"COPY bare_contact ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                raw.commit()
                elapsed = time.perf_counter() - started
                cursor.execute("DROP TABLE bare_contact")
                raw.commit()
    return elapsed


def sample_values(app: Flask, rng: random.Random, n: int) -> dict[str, list[str]]:
    """Real values from the data: surname fragments, full emails and their prefixes."""
    from crm.contacts.models import Contact
    from crm.extensions import db

    with app.app_context():
        max_id = db.session.scalar(sa.select(sa.func.max(Contact.id)))
        picked: list[tuple[str, str]] = []
        while len(picked) < n:
            row = db.session.execute(
                sa.select(Contact.last_name, Contact.email).where(
                    Contact.id == rng.randint(1, max_id), Contact.email.is_not(None)
                )
            ).first()
            if row:
                picked.append((row.last_name, row.email))
    values: dict[str, list[str]] = {"fragment": [], "email": [], "local": [], "at": []}
    for last, email in picked:
        plain = re.sub(r"[^a-z]", "", last.lower()) or "son"
        length = min(len(plain), rng.randint(3, 6))
        start = rng.randint(0, len(plain) - length)
        values["fragment"].append(plain[start : start + length])
        values["email"].append(email)
        local, domain = email.split("@")
        # "priya.sh": a substring search; "priya.sharma@nor": the email index's prefix range.
        values["local"].append(local[: rng.randint(5, max(5, len(local)))])
        values["at"].append(f"{local}@{domain[: rng.randint(1, 4)]}")
    return values


def timed_get(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return elapsed


def cursor_urls(app: Flask, client) -> tuple[str, str]:
    """The URL of page 21 (following Next 20 times) and of a page in mid-alphabet."""
    from crm.core.pagination import _encode
    from crm.extensions import db

    url = "/contacts/"
    for _ in range(20):
        html = client.get(url).get_data(as_text=True)
        url = re.search(r'rel="next" href="([^"#]+)"', html).group(1).replace("&amp;", "&")
    with app.app_context():
        middle = db.session.execute(
            sa.text(
                "SELECT sort_name, id FROM contact ORDER BY sort_name, id LIMIT 1 "
                "OFFSET (SELECT count(*) / 2 FROM contact)"
            )
        ).one()
    return url, f"/contacts/?after={_encode(list(middle))}"


def measure(
    app: Flask, token: str, requests: int, seed: int, only: str = ""
) -> dict[str, list[float]]:
    rng = random.Random(seed)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token  # Flask-Login's key: the user's session token
        session["_fresh"] = True
    page_21, deep = cursor_urls(app, client)
    values = sample_values(app, rng, requests)
    query = "/contacts/?q="
    cases: dict[str, Callable[[int], str]] = {
        "/healthz (trivial endpoint)": lambda i: "/healthz",
        "list: first page": lambda i: "/contacts/",
        "list: page 21 (cursor)": lambda i: page_21,
        "list: deep page (mid-alphabet cursor)": lambda i: deep,
        "search: surname fragment, 3–6 chars": lambda i: query + values["fragment"][i],
        # The list's own order asked for explicitly: every match must be ranked by name.
        "search: surname fragment, sorted by name": (
            lambda i: query + values["fragment"][i] + "&sort=name"
        ),
        "search: full email": lambda i: query + values["email"][i],
        "search: email prefix, local part": lambda i: query + values["local"][i],
        "search: email prefix, through the @": lambda i: query + values["at"][i],
    }
    samples: dict[str, list[float]] = {}
    for name, make_url in cases.items():
        if only and only not in name and not name.startswith("/healthz"):
            continue
        for i in range(WARM_UP):  # caches, compiled statements
            timed_get(client, make_url(i % requests))
        samples[name] = [timed_get(client, make_url(i)) for i in range(requests)]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/crm_bench")
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the databases (SQLite files in DIR) for --reuse"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure the databases kept by --keep DIR again"
    )
    parser.add_argument("--only", default="", help="only the request cases containing this")
    args = parser.parse_args()
    if args.reuse and not args.keep:
        parser.error("--reuse needs --keep DIR (where the kept databases are)")

    started = datetime.now(UTC)
    header = [
        f"Contact list benchmark, {started:%Y-%m-%d %H:%M} UTC, revision {git_revision()}; "
        f"{os.cpu_count()} CPUs; CPU reference loop {cpu_reference_ms():.0f} ms (lower is faster).",
        f"{args.requests} requests per case after {WARM_UP} warm-up, server-side time through "
        f"the Flask test client (no network). Target: p95 ≤ {TARGET_P95_MS:.0f} ms at 1M contacts.",
        "",
    ]
    table = [
        "| engine | contacts | request | p50 ms | p95 ms | max ms | |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    loads = [
        "| engine | contacts | bulk load s | bare insert of the same rows s | phases of the load |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        # The app's instance folder (mail files and the like), read when the app is created.
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
                    loads.append(f"| {engine} | {size:,} | (reused) | | |")
                else:
                    print(f"building {engine} with {size:,} contacts…", file=sys.stderr)
                    app, token, load = build_app(engine, size, url)
                    phases = load.phase_summary()
                    loads.append(
                        f"| {engine} | {size:,} | {load.seconds:.1f} | "
                        f"{load.bare_insert_seconds:.1f} | {phases} |"
                    )
                print(f"  {loads[-1]}\n  measuring…", file=sys.stderr)
                samples_by_case = measure(app, token, args.requests, seed=1, only=args.only)
                for name, samples in samples_by_case.items():
                    p95 = percentile(samples, 95)
                    flag = "over" if size >= 1_000_000 and p95 > TARGET_P95_MS else ""
                    table.append(
                        f"| {engine} | {size:,} | {name} | {statistics.median(samples):.1f} | "
                        f"{p95:.1f} | {max(samples):.1f} | {flag} |"
                    )
                    print(f"  {table[-1]}", file=sys.stderr)
                with app.app_context():
                    from crm.extensions import db

                    db.engine.dispose()
                if not args.keep:
                    for leftover in Path(tmp).glob(f"bench-{size}.sqlite3*"):
                        leftover.unlink()  # a million contacts take 0.7 GB
    report = "\n".join([*header, *table, "", *loads]) + "\n"
    print(report)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"contact_list-{started:%Y%m%dT%H%M%S}.md").write_text(report)


if __name__ == "__main__":
    main()
