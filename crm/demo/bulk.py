"""`flask crm demo --contacts N --organizations M`: realistic scale data, loaded in bulk.

The ORM needs tens of minutes for a million contacts; here rows are built as plain tuples and
written through the driver's fastest path: one big executemany transaction on SQLite, COPY on
PostgreSQL. Indexes and the SQLite search triggers are dropped for the load and rebuilt once at
the end (measured: see benchmarks/README.md), all inside the load's single transaction, so a
failure part-way leaves the database exactly as it was.

Data is appended: ids continue after the largest existing ones, and organization names (by
name_key) and contact emails stay unique against the rows already there.
"""

from __future__ import annotations

import gc
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from crm.auth.operations import STAFF_ROLES
from crm.contacts.models import search_text_for, sort_name_for
from crm.core.countries import country_name
from crm.core.search_ddl import SQLITE_FTS_DDL
from crm.demo import names
from crm.demo.sample import ascii_slug
from crm.extensions import db
from crm.organizations.models import OrganizationKind
from crm.organizations.operations import name_key

Progress = Callable[[str], None]
T = TypeVar("T")

CHUNK = 50_000  # contact rows per executemany / progress report
HISTORY_DAYS = 6 * 365  # created_at spreads over this many days before now
TIMESTAMP_POOL = 1 << 18  # distinct timestamps to draw from
PHONE_POOL = 1 << 16

ORGANIZATION_COLUMNS = (
    "id", "name", "name_key", "kind", "sector", "country", "website",
    "created_at", "updated_at", "version", "created_by_id", "updated_by_id",
)  # fmt: skip
CONTACT_COLUMNS = (
    "id", "first_name", "last_name", "email", "phone", "title", "organization_id", "country",
    "languages", "consent_status", "consent_source", "consent_at", "owner_id", "sort_name",
    "search_text", "created_at", "updated_at", "version", "created_by_id", "updated_by_id",
)  # fmt: skip

KIND_WEIGHTS = {
    OrganizationKind.BRAND: 18,
    OrganizationKind.SUPPLIER: 22,
    OrganizationKind.TECHNOLOGY_PROVIDER: 10,
    OrganizationKind.NGO: 12,
    OrganizationKind.WORKER_ORGANIZATION: 10,
    OrganizationKind.MULTI_STAKEHOLDER: 5,
    OrganizationKind.INVESTOR: 4,
    OrganizationKind.GOVERNMENT: 5,
    OrganizationKind.ACADEMIC: 6,
    OrganizationKind.OTHER: 3,
}
# Kinds whose names read naturally with a family name in front ("Sharma Textiles").
FAMILY_NAMED_KINDS = {"brand", "supplier", "technology_provider", "investor", "other"}
TITLES = (
    "Head of Sustainability", "CSR Manager", "Programme Officer", "Director", "Researcher",
    "General Secretary", "HR Manager", "Product Lead", "Compliance Officer", "Organizer", None,
)  # fmt: skip
CONSENT_SOURCES = ("event sign-up", "web form", "business card", "pledge form")

# Secondary indexes rebuilt after the load; (name, table, columns, unique).
SQLITE_INDEXES = (
    ("ix_contact_sort_name", "contact", "sort_name, id"),
    ("ix_contact_created_at", "contact", "created_at, id"),
    ("ix_contact_organization", "contact", "organization_id, sort_name, id"),
    ("ix_contact_country", "contact", "country, sort_name, id"),
    ("ix_contact_owner", "contact", "owner_id, sort_name, id"),
)


@dataclass
class _Existing:
    """What is already in the database, so appended rows do not collide with it."""

    max_organization_id: int
    max_contact_id: int
    contact_count: int
    staff_ids: list[int]
    tag_ids: list[int]
    org_keys: set[str]
    emails: set[str]


@dataclass
class _Org:
    id: int
    country: str
    region: str
    domain: str


@dataclass
class _Plan:
    organizations: list[tuple]
    orgs: list[_Org]
    organization_tags: list[tuple[int, int]] = field(default_factory=list)


class _Clock:
    """Timestamps as the strings each engine stores, drawn from a sorted pool.

    Formatting a million timestamps costs seconds; formatting a pool once and picking from it
    costs nothing per row. A moment is an index into the pool, so "later" is a larger index.
    """

    def __init__(self, rng: np.random.Generator, dialect: str, size: int = TIMESTAMP_POOL) -> None:
        self.rng = rng
        self.size = size
        now = datetime.now(UTC).replace(tzinfo=None)
        seconds = np.sort(rng.random(size)) * HISTORY_DAYS * 86400
        micro = (seconds * 1_000_000).astype(np.int64)
        moments = np.datetime64(now, "us") - np.timedelta64(HISTORY_DAYS, "D") + micro
        # SQLAlchemy writes naive UTC with microseconds on SQLite; PostgreSQL gets the zone
        # spelled out, as the session time zone may not be UTC.
        suffix = "" if dialect == "sqlite" else "+00"
        self.pool = np.array(
            [m.replace("T", " ") + suffix for m in np.datetime_as_string(moments).tolist()],
            dtype=object,
        )

    def moments(self, n: int) -> np.ndarray:
        """`n` moments, uniformly spread over the history."""
        return self.rng.integers(0, self.size, n)

    def later(self, moments: np.ndarray) -> np.ndarray:
        """A moment between each of `moments` and now."""
        return moments + (self.rng.random(len(moments)) * (self.size - moments)).astype(np.int64)

    def format(self, moments: np.ndarray, where: np.ndarray | None = None) -> list[str | None]:
        text = self.pool[moments]
        if where is not None:
            text = np.where(where, text, None)
        return text.tolist()


def generate(
    *,
    contacts: int,
    organizations: int,
    seed: int = 2017,
    progress: Progress | None = None,
) -> str:
    """Append `organizations` organizations and `contacts` contacts; commits; returns a summary."""
    started = time.perf_counter()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"[{time.perf_counter() - started:5.1f} s cpu {time.process_time():5.1f}] {message}")

    engine = db.engine
    dialect = engine.dialect.name
    db.session.commit()  # the CLI's session must hold no lock during the load
    # Millions of short-lived tuples make the cyclic GC run often, for nothing: none are cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            loader = _SQLiteLoader(raw) if dialect == "sqlite" else _PostgresLoader(raw)
            existing = loader.existing()
            rng = np.random.default_rng(seed)
            clock = _Clock(rng, dialect)
            say(f"Generating {organizations:,} organizations…")
            plan = _plan_organizations(rng, clock, organizations, existing)
            if not plan.orgs and contacts:
                plan.orgs = loader.existing_organizations()
                if not plan.orgs:
                    raise ValueError("Contacts need organizations: pass --organizations.")
            tag_links = len(plan.organization_tags)
            with loader.bulk(replace_indexes=contacts >= existing.contact_count, say=say) as bulk:
                loader.insert("organization", ORGANIZATION_COLUMNS, plan.organizations)
                loader.insert(
                    "organization_tag", ("organization_id", "tag_id"), plan.organization_tags
                )
                done = 0
                chunks = _contact_chunks(rng, clock, contacts, plan.orgs, existing)
                if X.get("prefetch", "0") == "1":
                    chunks = _prefetch(chunks)
                for rows, tags in chunks:
                    loader.insert("contact", CONTACT_COLUMNS, rows)
                    if bulk is not None:
                        bulk.on_contacts(rows)
                    loader.insert("contact_tag", ("contact_id", "tag_id"), tags)
                    done += len(rows)
                    tag_links += len(tags)
                    if done % (4 * CHUNK) == 0 or done == contacts:
                        say(f"Contacts: {done:,} of {contacts:,}")
            say("Updating planner statistics…")
            loader.analyze()
            if dialect == "sqlite":
                connection.invalidate()  # FTS5 caches index structure per connection
    finally:
        if gc_was_enabled:
            gc.enable()
    return (
        f"Bulk demo data ({dialect}): {len(plan.organizations):,} organizations, "
        f"{contacts:,} contacts, {tag_links:,} tag links in {time.perf_counter() - started:.1f} s."
    )


def _prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a background thread, `depth` ahead of the consumer.

    The drivers release the GIL while the database works, so generating the next chunk in
    Python overlaps with writing the current one.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(exc)

    worker = threading.Thread(target=produce, name="bulk-generate", daemon=True)
    worker.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


# --- Row generation ---------------------------------------------------------------------------


def _plan_organizations(
    rng: np.random.Generator, clock: _Clock, count: int, existing: _Existing
) -> _Plan:
    kinds = [k.value for k in KIND_WEIGHTS]
    weights = np.array(list(KIND_WEIGHTS.values()), dtype=float)
    regions = list(names.COUNTRIES)
    staff = existing.staff_ids or [None]
    used = existing.org_keys
    repeats: dict[str, int] = {}
    slugs: dict[str, str] = {}
    plan = _Plan(organizations=[], orgs=[])
    next_id = existing.max_organization_id + 1
    kind_picks = rng.choice(len(kinds), size=count, p=weights / weights.sum()).tolist()
    uniform = iter(rng.random(count * 8).tolist())
    created = clock.moments(count)
    changed = clock.later(created)
    created_at, updated_at = clock.format(created), clock.format(changed)
    for i, org_id in enumerate(range(next_id, next_id + count)):
        kind = kinds[kind_picks[i]]
        region = _pick(regions, next(uniform))
        country = _pick(names.COUNTRIES[region], next(uniform))
        base = _org_name(kind, region, country, uniform)
        name, key, number = _unique(base, used, repeats)
        stem = base.split(" (")[0]
        if stem not in slugs:
            slugs[stem] = ascii_slug(stem).replace(".", "")
        domain = f"{slugs[stem]}{number or ''}.example"
        creator = _pick(staff, next(uniform))
        plan.organizations.append(
            (
                org_id,
                name,
                key,
                kind,
                _pick(names.SECTORS, next(uniform)) if kind in ("brand", "supplier") else None,
                country,
                f"https://www.{domain}",
                created_at[i],
                updated_at[i],
                1,
                creator,
                creator,
            )
        )
        plan.orgs.append(_Org(org_id, country, region, domain))
        if existing.tag_ids and next(uniform) < 0.2:
            plan.organization_tags.append((org_id, _pick(existing.tag_ids, next(uniform))))
    return plan


def _pick(options: Sequence[Any], u: float) -> Any:
    """The option a uniform draw in [0, 1) falls on."""
    return options[int(u * len(options))]


def _org_name(kind: str, region: str, country: str, uniform: Iterator[float]) -> str:
    firsts, seconds = names.ORG_WORDS[kind]
    first, second = _pick(firsts, next(uniform)), _pick(seconds, next(uniform))
    if kind == "government":
        return f"{first} ({country_name(country)})"
    style = next(uniform)
    if kind in FAMILY_NAMED_KINDS and style < 0.5:
        first = _pick(names.LAST_NAMES[region], next(uniform))
    name = f"{first} {second}"
    if style > 0.75:
        name = f"{name} {country_name(country)}"
    return name


def _unique(name: str, used: set[str], repeats: dict[str, int]) -> tuple[str, str, int]:
    """(`name`, or `name 2`, `name 3`…: the first whose name_key is free; that key; the number)."""
    key = name_key(name)
    candidate, number = name, 0
    while key in used:
        number = repeats[name] = repeats.get(name, 1) + 1
        candidate = f"{name} {number}"
        key = name_key(candidate)
    used.add(key)
    return candidate, key, number


class _People:
    """Name, country and language tables for drawing whole columns of contacts at once."""

    def __init__(self) -> None:
        regions = list(names.COUNTRIES)
        self.region_index = {region: i for i, region in enumerate(regions)}
        firsts: list[str] = []
        lasts: list[str] = []
        countries: list[str] = []
        languages: list[str] = []
        spans: dict[str, list[list[int]]] = {"first": [], "last": [], "country": [], "lang": []}
        for region in regions:
            pairs = [
                f"{a},{b}"
                for a in names.LANGUAGES[region]
                for b in names.LANGUAGES[region]
                if a != b
            ]
            for kind, flat, items in (
                ("first", firsts, names.FIRST_NAMES[region]),
                ("last", lasts, names.LAST_NAMES[region]),
                ("country", countries, names.COUNTRIES[region]),
                ("lang", languages, pairs),
            ):
                spans[kind].append([len(flat), len(items)])
                flat.extend(items)
        self.spans = {kind: np.array(rows) for kind, rows in spans.items()}
        self.first = np.array(firsts, dtype=object)
        self.last = np.array(lasts, dtype=object)
        self.country = np.array(countries, dtype=object)
        self.languages = np.array(languages, dtype=object)
        # Per (first, last) pair: the sort key and the email's local part.
        self.sort_name = np.array(
            [sort_name_for(f, last) for f in firsts for last in lasts], dtype=object
        )
        self.local = np.array(
            [
                f"{ascii_slug(f)}.{ascii_slug(last)}".replace("..", ".")
                for f in firsts
                for last in lasts
            ],
            dtype=object,
        )

    def draw(self, kind: str, region: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Indexes into the flat `kind` table, one per row, within each row's region."""
        start, size = self.spans[kind][region].T
        return start + (u * size).astype(np.int64)


def _contact_chunks(
    rng: np.random.Generator,
    clock: _Clock,
    count: int,
    orgs: Sequence[_Org],
    existing: _Existing,
) -> Iterator[tuple[list[tuple], list[tuple[int, int]]]]:
    """Contact rows and their contact_tag rows, CHUNK contacts at a time.

    Random choices are drawn a column at a time with numpy; Python only formats strings and
    keeps emails unique.
    """
    people = _People()
    org_ids = np.array([o.id for o in orgs])
    org_region = np.array([people.region_index.get(o.region, 0) for o in orgs])
    org_country = np.array([o.country for o in orgs], dtype=object)
    org_domain = np.array(["@" + o.domain for o in orgs], dtype=object)
    staff = np.array([*existing.staff_ids, None], dtype=object)
    titles = np.array(TITLES, dtype=object)
    statuses = np.array(["unknown", "granted", "withdrawn"], dtype=object)
    sources = np.array(CONSENT_SOURCES, dtype=object)
    tag_ids = np.array(existing.tag_ids)
    used = existing.emails
    repeats: dict[str, int] = {}
    n_last = len(people.last)
    phones = np.array(
        [
            f"+{a} {b}"
            for a, b in zip(
                rng.integers(1, 99, PHONE_POOL).tolist(),
                rng.integers(100_000_000, 999_999_999, PHONE_POOL).tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    next_id = existing.max_contact_id + 1

    for start in range(next_id, next_id + count, CHUNK):
        n = min(CHUNK, next_id + count - start)
        ids = np.arange(start, start + n)
        # A few big organizations and a long tail of small ones.
        org = (len(orgs) * rng.random(n) * rng.random(n)).astype(np.int64)
        # Most people come from their organization's region; a quarter from anywhere.
        region = np.where(
            rng.random(n) < 0.75, org_region[org], rng.integers(0, len(people.spans["first"]), n)
        )
        first = people.draw("first", region, rng.random(n))
        last = people.draw("last", region, rng.random(n))
        pair = first * n_last + last
        first_names = people.first[first].tolist()
        last_names = people.last[last].tolist()

        emails: list[str | None] = []
        has_email = (rng.random(n) < 0.94).tolist()
        for has, local, domain in zip(
            has_email, people.local[pair].tolist(), org_domain[org].tolist(), strict=True
        ):
            if not has:
                emails.append(None)
                continue
            email = local + domain
            while email in used:
                number = repeats[local + domain] = repeats.get(local + domain, 1) + 1
                email = f"{local}{number}{domain}"
            used.add(email)
            emails.append(email)

        country = np.where(
            rng.random(n) < 0.8,
            org_country[org],
            people.country[people.draw("country", region, rng.random(n))],
        )
        created = clock.moments(n)
        consent = np.searchsorted([0.3, 0.9], rng.random(n), side="right")
        asked = consent > 0
        consent_at = clock.format(clock.later(created), where=asked)
        source = np.where(asked, sources[(rng.random(n) * len(sources)).astype(np.int64)], None)
        owner = staff[(rng.random(n) * len(staff)).astype(np.int64)].tolist()
        rows = list(
            zip(
                ids.tolist(),
                first_names,
                last_names,
                emails,
                phones[rng.integers(0, len(phones), n)].tolist(),
                titles[(rng.random(n) * len(titles)).astype(np.int64)].tolist(),
                org_ids[org].tolist(),
                country.tolist(),
                people.languages[people.draw("lang", region, rng.random(n))].tolist(),
                statuses[consent].tolist(),
                source.tolist(),
                consent_at,
                owner,
                people.sort_name[pair].tolist(),
                list(map(search_text_for, first_names, last_names, emails)),
                clock.format(created),
                clock.format(clock.later(created)),
                itertools.repeat(1),
                owner,
                owner,
                strict=False,  # the repeat() column is endless
            )
        )
        tagged = ids[rng.random(n) < 0.15]
        tags: list[tuple[int, int]] = []
        if len(tag_ids) and len(tagged):
            tags = list(
                zip(tagged.tolist(), rng.choice(tag_ids, len(tagged)).tolist(), strict=True)
            )
            # About a third of those get a second, different tag.
            again = tagged[rng.random(len(tagged)) < 0.3]
            first_tag = dict(tags)
            seconds = rng.choice(tag_ids, len(again)).tolist()
            tags += [
                (cid, tid)
                for cid, tid in zip(again.tolist(), seconds, strict=True)
                if tid != first_tag[cid]
            ]
        yield rows, tags


# --- Loading ----------------------------------------------------------------------------------


class _Loader:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def scalar(self, sql: str) -> Any:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone()
            return row[0] if row else None
        finally:
            cursor.close()

    def column(self, sql: str) -> list:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql)
            return [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()

    def existing(self) -> _Existing:
        self.ensure_tags()
        roles = ", ".join(f"'{role.value}'" for role in STAFF_ROLES)
        user = self.quote("user")
        return _Existing(
            max_organization_id=self.scalar("SELECT coalesce(max(id), 0) FROM organization"),
            max_contact_id=self.scalar("SELECT coalesce(max(id), 0) FROM contact"),
            contact_count=self.scalar("SELECT count(*) FROM contact"),
            staff_ids=self.column(
                f"SELECT id FROM {user} WHERE active AND role IN ({roles}) ORDER BY id"
            ),
            tag_ids=self.column("SELECT id FROM tag ORDER BY id"),
            org_keys=set(self.column("SELECT name_key FROM organization")),
            emails=set(self.column("SELECT email FROM contact WHERE email IS NOT NULL")),
        )

    def existing_organizations(self) -> list[_Org]:
        """Contacts asked for without new organizations join the existing ones."""
        cursor = self.raw.cursor()
        cursor.execute("SELECT id, coalesce(country, 'GB'), website FROM organization")
        region_of = {c: r for r, codes in names.COUNTRIES.items() for c in codes}
        orgs = [
            _Org(
                org_id,
                country,
                region_of.get(country, "europe"),
                (website or "").split("www.")[-1].strip("/") or "example.org",
            )
            for org_id, country, website in cursor.fetchall()
        ]
        cursor.close()
        return orgs

    def quote(self, name: str) -> str:
        return f'"{name}"'

    def ensure_tags(self) -> None:
        raise NotImplementedError

    def bulk(self, *, replace_indexes: bool, say: Progress):
        raise NotImplementedError

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def analyze(self) -> None:
        raise NotImplementedError


class _SQLiteLoader(_Loader):
    def ensure_tags(self) -> None:
        self.raw.executemany(
            "INSERT INTO tag (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
            [(name,) for name in names.TAGS],
        )

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            placeholders = ", ".join("?" * len(columns))
            self.raw.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
            )

    def bulk(self, *, replace_indexes: bool, say: Progress) -> _SQLiteBulk:
        return _SQLiteBulk(self, replace_indexes, say)

    def analyze(self) -> None:
        if X.get("alimit"):
            self.raw.execute(f"PRAGMA analysis_limit={X['alimit']}")
        self.raw.execute("ANALYZE")


import os  # EXPERIMENT

X = {k[5:].lower(): v for k, v in os.environ.items() if k.startswith("BULK_")}  # EXPERIMENT


class _FtsWorker:
    def __init__(self, ddl: str) -> None:
        import tempfile
        self.dir = tempfile.TemporaryDirectory(prefix="crm-bulk-")
        self.path = os.path.join(self.dir.name, "fts.sqlite3")
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.ddl = ddl
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        import sqlite3
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-1048576")
            conn.execute(self.ddl)
            conn.execute("BEGIN")
            while (rows := self.queue.get()) is not None:
                conn.executemany("INSERT INTO contact_fts(rowid, search_text) VALUES (?, ?)", rows)
            conn.execute("COMMIT")
            conn.close()
        except BaseException as exc:
            self.error = exc
            while self.queue.get() is not None:
                pass

    def add(self, rows):
        self.queue.put([(r[0], r[14]) for r in rows])

    def finish(self) -> str:
        self.queue.put(None)
        self.thread.join()
        if self.error:
            raise self.error
        return self.path


class _SQLiteBulk:
    """One transaction around the load; triggers and indexes come back before it commits."""

    def __init__(self, loader: _SQLiteLoader, replace_indexes: bool, say: Progress) -> None:
        self.raw = loader.raw
        self.replace_indexes = replace_indexes and X.get("indexes", "drop") == "drop"
        self.say = say
        self.fts = X.get("fts", "insert")

    def __enter__(self) -> None:
        raw = self.raw
        self.say(f"EXPERIMENT {X}")
        if X.get("journal"):
            self.say("journal " + str(raw.execute(f"PRAGMA journal_mode={X['journal']}").fetchone()))
        # Outside a transaction these pragmas are honoured; restored in __exit__.
        if X.get("fk", "off") == "off":
            raw.execute("PRAGMA foreign_keys=OFF")  # every reference is generated valid
        raw.execute(f"PRAGMA cache_size=-{int(X.get('cache_mb', 1024)) * 1024}")
        raw.execute("PRAGMA temp_store=MEMORY")
        raw.execute("PRAGMA threads=2")
        raw.execute("BEGIN IMMEDIATE")
        self.worker = None
        if self.fts == "parallel":
            empty = raw.execute("SELECT NOT EXISTS (SELECT 1 FROM contact_fts_docsize)").fetchone()[0]
            self.say(f"fts empty {empty}")
            if empty:
                self.worker = _FtsWorker(SQLITE_FTS_DDL["contact"][0])
        self.start_ids = {
            t: raw.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]  # noqa: S608
            for t in ("contact", "organization")
        }
        if self.fts != "triggers":
            for table in ("contact", "organization"):
                for suffix in ("ai", "ad", "au"):
                    raw.execute(f"DROP TRIGGER {table}_fts_{suffix}")
        if self.replace_indexes:
            for index, _table, _columns in SQLITE_INDEXES:
                raw.execute(f"DROP INDEX {index}")
        return self

    def on_contacts(self, rows) -> None:
        if self.worker is not None:
            self.worker.add(rows)

    def _indexes(self) -> None:
        raw = self.raw
        if self.replace_indexes:
            self.say("Building indexes…")
            for index, table, columns in SQLITE_INDEXES:
                raw.execute(f"CREATE INDEX {index} ON {table} ({columns})")

    def _fts(self) -> None:
        raw = self.raw
        if self.fts == "triggers":
            return
        self.say("Building the search index…")
        for table in ("contact", "organization"):
            text_column = "search_text" if table == "contact" else "name_key"
            if table == "contact" and self.worker is not None:
                path = self.worker.finish()
                self.say("copying fts")
                raw.execute("ATTACH DATABASE ? AS bulk_fts", (path,))
                for shadow in ("data", "idx", "docsize", "config"):
                    raw.execute(f"DELETE FROM contact_fts_{shadow}")
                    raw.execute(f"INSERT INTO contact_fts_{shadow} SELECT * FROM bulk_fts.contact_fts_{shadow}")
            elif self.fts == "rebuild":
                raw.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('rebuild')")
            else:
                raw.execute(
                    f"INSERT INTO {table}_fts (rowid, {text_column}) "  # noqa: S608
                    f"SELECT id, {text_column} FROM {table} WHERE id > ?",
                    (self.start_ids[table],),
                )
            for statement in SQLITE_FTS_DDL[table][1:]:  # the triggers
                raw.execute(statement)

    def __exit__(self, exc_type, exc, tb) -> None:
        raw = self.raw
        try:
            if exc_type is not None:
                raw.execute("ROLLBACK")  # triggers and indexes come back with it
                return
            try:
                if X.get("fts_first"):
                    self._fts()
                    self._indexes()
                else:
                    self._indexes()
                    self._fts()
                self.say("Committing…")
                raw.execute("COMMIT")
            except BaseException:
                raw.execute("ROLLBACK")
                raise
        finally:
            if self.worker is not None:
                try:
                    raw.execute("DETACH DATABASE bulk_fts")
                except Exception as e:
                    self.say(f"detach: {e}")
                self.worker.dir.cleanup()
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA cache_size=-65536")
            if X.get("journal"):
                self.say("journal " + str(raw.execute("PRAGMA journal_mode=WAL").fetchone()))


class _PostgresLoader(_Loader):
    def ensure_tags(self) -> None:
        cursor = self.raw.cursor()
        cursor.executemany(
            "INSERT INTO tag (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
            [(name,) for name in names.TAGS],
        )
        cursor.close()
        self.raw.commit()

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def bulk(self, *, replace_indexes: bool, say: Progress) -> _PostgresBulk:
        return _PostgresBulk(self, replace_indexes, say)

    def analyze(self) -> None:
        self.raw.commit()
        self.raw.autocommit = True
        try:
            with self.raw.cursor() as cursor:
                for table in ("organization", "contact", "contact_tag", "organization_tag", "tag"):
                    cursor.execute(f"ANALYZE {table}")
        finally:
            self.raw.autocommit = False


class _PostgresBulk:
    """Indexes and constraints dropped, COPY, then rebuilt: one transaction, DDL included."""

    def __init__(self, loader: _PostgresLoader, replace_indexes: bool, say: Progress) -> None:
        self.raw = loader.raw
        self.replace_indexes = replace_indexes
        self.say = say
        self.restore: list[str] = []

    def __enter__(self) -> None:
        with self.raw.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            if not self.replace_indexes:
                return
            # Everything on contact except its primary key, as pg_dump would recreate it.
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'contact'::regclass AND contype IN ('u', 'f')"
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
                "FROM pg_index i WHERE i.indrelid = 'contact'::regclass "
                "AND NOT i.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            )
            indexes = cursor.fetchall()
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE contact DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {name}")
            self.restore = [definition for _name, definition in indexes] + [
                f'ALTER TABLE contact ADD CONSTRAINT "{name}" {definition}'
                for name, definition in constraints
            ]

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.raw.rollback()
            return
        try:
            with self.raw.cursor() as cursor:
                if self.restore:
                    self.say("Building indexes and constraints…")
                for statement in self.restore:
                    cursor.execute(statement)
                # Ids were given explicitly: move the sequences past them.
                for table in ("organization", "contact"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))"
                    )
            self.raw.commit()
        except BaseException:
            self.raw.rollback()
            raise
