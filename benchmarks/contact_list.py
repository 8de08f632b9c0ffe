"""Contact list speed at scale: server-side time per request, beside a trivial endpoint.

For each engine (SQLite, PostgreSQL) and size (default 100k and 1M contacts) this builds a fresh
database with the migrations and the bulk generator, signs in as a lead through Flask's test
client (in-process: the time measured is the server's, without a network), and times many
requests of each kind:

  first page · a page 20 cursors deep · a deep page (cursor in the middle of the alphabet)
  · search by a name fragment · search by a full email · search by an email prefix
  · /healthz, the trivial endpoint, as the floor of what any request costs in the same run

and prints p50 / p95 in milliseconds as a markdown table (also written to benchmarks/results/).

    .venv/bin/python benchmarks/contact_list.py [--sizes 100000,1000000]
        [--engines sqlite,postgresql] [--requests 200] [--pg-url postgresql://postgres@127.0.0.1/crm_bench]
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def fresh_postgres(url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def build_app(engine: str, size: int, pg_url: str, workdir: Path):
    from flask_migrate import upgrade

    from config import DevelopmentConfig
    from crm import create_app
    from crm.demo import bulk

    if engine == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{size}.sqlite3'}"
    else:
        url = pg_url
        fresh_postgres(url)
    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        WTF_CSRF_ENABLED=False,
    )
    with app.app_context():
        upgrade()
        from crm.auth import operations
        from crm.auth.models import Role
        from crm.extensions import db

        lead = operations.create_user(
            None, email="bench@example.org", name="Bench Lead", role=Role.LEAD,
            password="bench kettle tune",
        )
        db.session.commit()
        started = time.perf_counter()
        bulk.generate(contacts=size, organizations=max(1, size // 10), seed=7,
                      progress=lambda msg: None)
        load_seconds = time.perf_counter() - started
        token = lead.get_id()
    return app, token, load_seconds


def sample_queries(app, rng: random.Random, n: int) -> dict[str, list[str]]:
    """Real values from the data: fragments of surnames, full emails, email prefixes, cursors."""
    from crm.contacts.models import Contact
    from crm.extensions import db

    with app.app_context():
        max_id = db.session.scalar(sa.select(sa.func.max(Contact.id)))
        picked = []
        while len(picked) < n:
            row = db.session.execute(
                sa.select(Contact.last_name, Contact.email).where(
                    Contact.id == rng.randint(1, max_id), Contact.email.is_not(None)
                )
            ).first()
            if row:
                picked.append(row)
    fragments, emails, prefixes = [], [], []
    for last, email in picked:
        plain = re.sub(r"[^a-z]", "", last.lower()) or "son"
        length = min(len(plain), rng.randint(3, 6))
        start = rng.randint(0, len(plain) - length)
        fragments.append(plain[start : start + length])
        emails.append(email)
        prefixes.append(email.split("@")[0][: rng.randint(4, 8)] + "")
    return {"fragment": fragments, "email": emails, "prefix": prefixes}


def timed(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def measure(app, token: str, requests: int, seed: int) -> dict[str, tuple[float, float, str]]:
    rng = random.Random(seed)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True

    # A cursor 20 pages in, and one in the middle of the alphabet (a deep page).
    url = "/contacts/"
    for _ in range(20):
        html = client.get(url).get_data(as_text=True)
        url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    page_20 = url
    from crm.core.pagination import _encode
    from crm.extensions import db

    with app.app_context():
        middle = db.session.execute(
            sa.text("SELECT sort_name, id FROM contact ORDER BY sort_name, id LIMIT 1 OFFSET "
                    "(SELECT count(*) / 2 FROM contact)")
        ).first()
    deep = f"/contacts/?after={_encode(list(middle))}"

    values = sample_queries(app, rng, requests)
    cases = {
        "/healthz (trivial endpoint)": lambda i: "/healthz",
        "contact list, first page": lambda i: "/contacts/",
        "contact list, page 21 (cursor)": lambda i: page_20,
        "contact list, deep page (middle)": lambda i: deep,
        "search by name fragment": lambda i: f"/contacts/?q={values['fragment'][i]}",
        "search by full email": lambda i: f"/contacts/?q={values['email'][i]}",
        "search by email prefix": lambda i: f"/contacts/?q={values['prefix'][i]}",
    }
    results = {}
    for name, make_url in cases.items():
        for i in range(min(20, requests)):  # warm-up: caches, prepared plans
            timed(client, make_url(i))
        samples = [timed(client, make_url(i)) for i in range(requests)]
        results[name] = (
            statistics.median(samples),
            percentile(samples, 95),
            f"e.g. {make_url(0)[:60]}",
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench")
    args = parser.parse_args()
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))

    lines = [
        f"Contact list benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, {args.requests} requests per case (after warm-up), "
        "server-side time through the Flask test client.",
        "",
        "| engine | contacts | request | p50 ms | p95 ms |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        for engine in args.engines.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                print(f"building {engine} with {size:,} contacts…", file=sys.stderr)
                app, token, load_seconds = build_app(engine, size, args.pg_url, Path(tmp))
                print(f"  bulk load took {load_seconds:.1f} s; measuring…", file=sys.stderr)
                for name, (p50, p95, _example) in measure(app, token, args.requests, 1).items():
                    lines.append(f"| {engine} | {size:,} | {name} | {p50:.1f} | {p95:.1f} |")
                    print(lines[-1], file=sys.stderr)
                lines.append(f"| {engine} | {size:,} | (bulk load of the data) | "
                             f"{load_seconds * 1000:.0f} | |")
                with app.app_context():
                    from crm.extensions import db

                    db.engine.dispose()
    table = "\n".join(lines)
    print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"contact_list-{datetime.now(UTC):%Y%m%dT%H%M%S}.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
