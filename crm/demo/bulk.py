"""`flask crm demo --contacts N --organizations M`: realistic scale data, loaded in bulk.

The ORM needs tens of minutes for a million contacts. Here whole columns are drawn with numpy,
rows are plain tuples, and they reach the database through the driver's fastest path: one big
executemany transaction on SQLite, COPY on PostgreSQL. Secondary indexes (and on SQLite the
search triggers) are dropped for the load and rebuilt once at the end, inside the same
transaction, so a failure part-way leaves the database exactly as it was. The measurements
behind each choice are in benchmarks/README.md.

Data is appended: ids continue after the largest existing ones, organization names (by
name_key) and contact emails stay unique against the rows already there.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from crm.auth.operations import STAFF_ROLES
from crm.contacts.models import search_text_for, sort_name_for
from crm.core.countries import country_name
from crm.core.search_ddl import SQLITE_FTS_DDL
from crm.demo import names
from crm.demo.bulk_loading import NONE, Progress, Stopwatch, fetch_rows, load_connection
from crm.demo.sample import ascii_slug
from crm.extensions import db
from crm.organizations.models import OrganizationKind
from crm.organizations.operations import name_key

CHUNK = 50_000  # contact rows per executemany / COPY
HISTORY_DAYS = 6 * 365  # records were created over this many days before now
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
CONSENT_STATUSES = ("unknown", "granted", "withdrawn")  # 30% / 60% / 10%

# The contact indexes SQLite rebuilds after a load (as in the model and the migration).
SQLITE_CONTACT_INDEXES = (
    ("ix_contact_sort_name", "sort_name, id"),
    ("ix_contact_created_at", "created_at, id"),
    ("ix_contact_organization", "organization_id, sort_name, id"),
    ("ix_contact_country", "country, sort_name, id"),
    ("ix_contact_owner", "owner_id, sort_name, id"),
)
SQLITE_LOAD_CACHE_KIB = 2 * 1024 * 1024  # page cache during the load: the index sorts fit
# FTS5 merges its segments 4 at a time by default; 16 at a time rewrites the postings fewer
# times (measured: ~25% faster build, same query speed). Set for the load, then put back.
FTS_LOAD_AUTOMERGE = 16
FTS_DEFAULT_AUTOMERGE = 4


def generate(
    *,
    contacts: int,
    organizations: int,
    seed: int = 2017,
    progress: Progress | None = None,
) -> str:
    """Append `organizations` organizations and `contacts` contacts, commit, return a summary."""
    watch = Stopwatch(progress)
    say = watch.say
    dialect = db.engine.dialect.name
    with load_connection() as (connection, raw):
        loader = _SQLiteLoader(raw, say) if dialect == "sqlite" else _PostgresLoader(raw, say)
        existing = loader.existing()
        rng = np.random.default_rng(seed)
        clock = _Clock(rng, dialect)
        say(f"Generating {organizations:,} organizations…")
        plan = _plan_organizations(rng, clock, organizations, existing)
        orgs = plan.orgs or (loader.existing_organizations() if contacts else [])
        if contacts and not orgs:
            raise ValueError("Contacts need organizations: pass --organizations.")
        tag_links = len(plan.organization_tags)
        # Rebuilding an index costs the whole table; worth it when the load at least
        # doubles the table, otherwise the indexes are maintained row by row.
        with loader.load(rebuild_indexes=contacts >= existing.contact_count):
            loader.insert("organization", ORGANIZATION_COLUMNS, plan.organizations)
            loader.insert("organization_tag", ("organization_id", "tag_id"), plan.organization_tags)
            done = 0
            for rows, tags in _contact_chunks(rng, clock, contacts, orgs, existing):
                loader.insert("contact", CONTACT_COLUMNS, rows)
                loader.insert("contact_tag", ("contact_id", "tag_id"), tags)
                done += len(rows)
                tag_links += len(tags)
                if done % (4 * CHUNK) == 0 or done == contacts:
                    say(f"Contacts: {done:,} of {contacts:,}")
        say("Updating planner statistics…")
        loader.analyze()
        if dialect == "sqlite":
            # FTS5 caches its index structure per connection, and this one saw the index
            # before the load: retire it rather than return it to the pool.
            connection.invalidate()
    return (
        f"Bulk demo data ({dialect}): {len(plan.organizations):,} organizations, "
        f"{contacts:,} contacts, {tag_links:,} tag links in {watch.elapsed:.1f} s."
    )


def contact_rows(count: int, *, dialect: str, seed: int = 2017) -> Iterator[list[tuple]]:
    """The rows generate() would write for `count` contacts into an empty database, in chunks,
    touching no database: benchmarks time the engine's bare insert speed with them."""
    rng = np.random.default_rng(seed)
    clock = _Clock(rng, dialect)
    existing = _Existing(0, 0, 0, [], [], set(), set())
    orgs = _plan_organizations(rng, clock, max(1, count // 10), existing).orgs
    for rows, _tags in _contact_chunks(rng, clock, count, orgs, existing):
        yield rows


# --- What is there already ---------------------------------------------------------------------


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
    organizations: list[tuple] = field(default_factory=list)
    orgs: list[_Org] = field(default_factory=list)
    organization_tags: list[tuple[int, int]] = field(default_factory=list)


# --- Row generation ---------------------------------------------------------------------------


class _Clock:
    """Timestamps as the strings each engine stores, drawn from a sorted pool.

    Formatting a million timestamps takes seconds; formatting a pool once and picking from it
    costs nothing per row. A moment is an index into the pool, so "later" is a larger index.
    """

    def __init__(self, rng: np.random.Generator, dialect: str, size: int = TIMESTAMP_POOL) -> None:
        self.rng = rng
        self.size = size
        now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us")
        micros = (np.sort(rng.random(size)) * HISTORY_DAYS * 86_400e6).astype(np.int64)
        moments = now - np.timedelta64(HISTORY_DAYS, "D") + micros.astype("timedelta64[us]")
        # SQLAlchemy writes naive UTC with microseconds on SQLite; PostgreSQL is told the zone,
        # as the session's time zone may not be UTC.
        suffix = "" if dialect == "sqlite" else "+00"
        self.pool = np.array(
            [m.replace("T", " ") + suffix for m in np.datetime_as_string(moments).tolist()],
            dtype=object,
        )

    def moments(self, n: int) -> np.ndarray:
        """`n` moments, uniformly spread over the history."""
        return self.rng.integers(0, self.size, n)

    def later(self, moments: np.ndarray) -> np.ndarray:
        """For each of `moments`, one between it and now."""
        return moments + (self.rng.random(len(moments)) * (self.size - moments)).astype(np.int64)

    def format(self, moments: np.ndarray, where: np.ndarray | None = None) -> list[str | None]:
        text = self.pool[moments]
        if where is not None:
            text = np.where(where, text, NONE)
        return text.tolist()


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    """Endless uniform draws in [0, 1), fetched from numpy in blocks."""
    while True:
        yield from rng.random(1 << 16).tolist()


def _pick(options: Sequence[Any], u: float) -> Any:
    """The option a uniform draw in [0, 1) falls on."""
    return options[int(u * len(options))]


def _plan_organizations(
    rng: np.random.Generator, clock: _Clock, count: int, existing: _Existing
) -> _Plan:
    kinds = [k.value for k in KIND_WEIGHTS]
    weights = np.array(list(KIND_WEIGHTS.values()), dtype=float)
    regions = list(names.COUNTRIES)
    staff: Sequence[int | None] = existing.staff_ids or [None]  # no staff yet: nobody created them
    repeats: dict[str, int] = {}
    keys: dict[str, str] = {}
    slugs: dict[str, str] = {}
    plan = _Plan()
    first_id = existing.max_organization_id + 1
    kind_picks = rng.choice(len(kinds), size=count, p=weights / weights.sum()).tolist()
    created = clock.moments(count)
    created_at, updated_at = clock.format(created), clock.format(clock.later(created))
    uniform = _uniforms(rng)
    for i, org_id in enumerate(range(first_id, first_id + count)):
        kind = kinds[kind_picks[i]]
        region = _pick(regions, next(uniform))
        country = _pick(names.COUNTRIES[region], next(uniform))
        base = _org_name(kind, region, country, uniform)
        name, key, number = _unique(base, existing.org_keys, repeats, keys)
        stem = base.split(" (")[0]
        if stem not in slugs:
            slugs[stem] = ascii_slug(stem).replace(".", "")
        domain = f"{slugs[stem]}{number or ''}.example"
        creator = _pick(staff, next(uniform))
        sector = _pick(names.SECTORS, next(uniform)) if kind in ("brand", "supplier") else None
        plan.organizations.append(
            (
                org_id,
                name,
                key,
                kind,
                sector,
                country,
                f"https://www.{domain}",
                created_at[i],
                updated_at[i],
                1,
                creator,
                creator,
            )  # fmt: skip
        )
        plan.orgs.append(_Org(org_id, country, region, domain))
        if existing.tag_ids and next(uniform) < 0.2:
            plan.organization_tags.append((org_id, _pick(existing.tag_ids, next(uniform))))
    _spot_check(plan.organizations, lambda row: (row[2], name_key(row[1])), "organization name_key")
    return plan


def _spot_check(rows: Sequence[tuple], pair: Callable[[tuple], tuple[str, str]], what: str) -> None:
    """Compare derived values built the fast way with the model's own function on a sample."""
    for row in rows[:: max(1, len(rows) // 100)]:
        built, expected = pair(row)
        if built != expected:
            raise RuntimeError(f"Bulk {what} {built!r} differs from the model's {expected!r}")


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


def _unique(
    name: str, used: set[str], repeats: dict[str, int], keys: dict[str, str]
) -> tuple[str, str, int]:
    """`name`, or `name 2`, `name 3`…: the first whose name_key is free; its key; the number.

    name_key() folds accents, a few microseconds a call; the base names repeat, so each is
    folded once and a number appended to its key (folding leaves " 2" as it is).
    """
    if name not in keys:
        keys[name] = name_key(name)
    key = keys[name]
    candidate, number = name, 0
    while key in used:
        number = repeats[name] = repeats.get(name, 1) + 1
        candidate, key = f"{name} {number}", f"{keys[name]} {number}"
    used.add(key)
    return candidate, key, number


class _People:
    """Flat name, country and language tables, with each region's slice of them."""

    def __init__(self) -> None:
        regions = list(names.COUNTRIES)
        self.region_index = {region: i for i, region in enumerate(regions)}
        flat: dict[str, list[str]] = {"first": [], "last": [], "country": [], "languages": []}
        spans: dict[str, list[tuple[int, int]]] = {kind: [] for kind in flat}
        for region in regions:
            codes = names.LANGUAGES[region]
            for kind, items in (
                ("first", names.FIRST_NAMES[region]),
                ("last", names.LAST_NAMES[region]),
                ("country", names.COUNTRIES[region]),
                ("languages", [f"{a},{b}" for a in codes for b in codes if a != b]),
            ):
                spans[kind].append((len(flat[kind]), len(items)))
                flat[kind].extend(items)
        self.spans = {kind: np.array(rows) for kind, rows in spans.items()}
        self.table = {kind: np.array(items, dtype=object) for kind, items in flat.items()}
        # Per (first, last) pair, indexed first * len(last) + last: the sort key, the search
        # text before the email, and the email's local part.
        firsts, lasts = flat["first"], flat["last"]
        self.sort_name = np.array([sort_name_for(f, la) for f in firsts for la in lasts], object)
        self.name_text = np.array(
            [search_text_for(f, la, None) for f in firsts for la in lasts], dtype=object
        )
        self.local = np.array(
            [
                f"{ascii_slug(f)}.{ascii_slug(la)}".replace("..", ".")
                for f in firsts
                for la in lasts
            ],
            dtype=object,
        )

    def draw(self, kind: str, region: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Indexes into the flat `kind` table, each within its row's region."""
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

    Random choices are drawn a column at a time with numpy; Python only keeps emails unique and
    zips the columns into rows. Rows go in drawn order, unrelated to names or emails, as in a
    real table. (Written in email order, SQLite's unique email index would take ~4 s less
    per million, but people of the same name would sit side by side on disk and searches would
    look faster than they are.)
    """
    people = _People()
    org_ids = np.array([o.id for o in orgs])
    org_region = np.array([people.region_index.get(o.region, 0) for o in orgs])
    org_country = np.array([o.country for o in orgs], dtype=object)
    org_domain = np.array(["@" + o.domain for o in orgs], dtype=object)
    staff = np.array([*existing.staff_ids, None], dtype=object)  # some contacts have no owner
    titles = np.array(TITLES, dtype=object)
    statuses = np.array(CONSENT_STATUSES, dtype=object)
    sources = np.array(CONSENT_SOURCES, dtype=object)
    tag_ids = np.array(existing.tag_ids, dtype=np.int64)
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
    n_last = len(people.table["last"])
    first_id = existing.max_contact_id + 1

    for start in range(first_id, first_id + count, CHUNK):
        n = min(CHUNK, first_id + count - start)
        ids = np.arange(start, start + n)
        # A few big organizations and a long tail of small ones.
        org = (len(orgs) * rng.random(n) * rng.random(n)).astype(np.int64)
        # Most people come from their organization's region, a quarter from anywhere.
        region = np.where(
            rng.random(n) < 0.75, org_region[org], rng.integers(0, len(people.spans["first"]), n)
        )
        first = people.draw("first", region, rng.random(n))
        last = people.draw("last", region, rng.random(n))
        pair = first * n_last + last
        first_names = people.table["first"][first].tolist()
        last_names = people.table["last"][last].tolist()
        emails = _unique_emails(
            people.local[pair].tolist(),
            org_domain[org].tolist(),
            (rng.random(n) < 0.94).tolist(),
            existing.emails,
        )
        country = np.where(
            rng.random(n) < 0.8,
            org_country[org],
            people.table["country"][people.draw("country", region, rng.random(n))],
        )
        created = clock.moments(n)
        consent = np.searchsorted([0.3, 0.9], rng.random(n), side="right")
        asked = consent > 0
        owner = staff[(rng.random(n) * len(staff)).astype(np.int64)].tolist()
        rows = list(
            zip(
                ids.tolist(),
                first_names,
                last_names,
                emails,
                phones[rng.integers(0, PHONE_POOL, n)].tolist(),
                titles[(rng.random(n) * len(titles)).astype(np.int64)].tolist(),
                org_ids[org].tolist(),
                country.tolist(),
                people.table["languages"][people.draw("languages", region, rng.random(n))].tolist(),
                statuses[consent].tolist(),
                np.where(
                    asked, sources[(rng.random(n) * len(sources)).astype(np.int64)], NONE
                ).tolist(),
                clock.format(clock.later(created), where=asked),
                owner,
                people.sort_name[pair].tolist(),
                _search_texts(people.name_text[pair].tolist(), emails),
                clock.format(created),
                clock.format(clock.later(created)),
                itertools.repeat(1),  # version
                owner,  # created_by_id
                owner,  # updated_by_id
                strict=False,  # repeat() is endless
            )
        )
        _spot_check(
            rows,
            lambda row: (row[14], search_text_for(row[1], row[2], row[3])),
            "contact search_text",
        )
        tags: list[tuple[int, int]] = []
        if len(tag_ids):
            # 15% of contacts are tagged; a third of those twice.
            tagged = ids[rng.random(n) < 0.15]
            first_tag = tag_ids[rng.integers(0, len(tag_ids), len(tagged))]
            second_tag = tag_ids[rng.integers(0, len(tag_ids), len(tagged))]
            again = (rng.random(len(tagged)) < 0.3) & (second_tag != first_tag)
            tags = list(zip(tagged.tolist(), first_tag.tolist(), strict=True))
            tags += zip(tagged[again].tolist(), second_tag[again].tolist(), strict=True)
        yield rows, tags


def _search_texts(name_texts: list[str], emails: list[str | None]) -> list[str]:
    """search_text_for(first, last, email) from its folded name part: generated addresses are
    lower-case ASCII already, which folding leaves as they are (checked on samples)."""
    return [
        (f"{text} {email}"[:460] if email else text)
        for text, email in zip(name_texts, emails, strict=True)
    ]


def _unique_emails(
    locals_: list[str], domains: list[str], has_email: list[bool], used: set[str]
) -> list[str | None]:
    """first.last@domain, numbered (first.last2@…) when taken; None for people without one."""
    emails: list[str | None] = []
    repeats: dict[str, int] = {}
    for has, local, domain in zip(has_email, locals_, domains, strict=True):
        if not has:
            emails.append(None)
            continue
        email = local + domain
        while email in used:
            number = repeats[local + domain] = repeats.get(local + domain, 1) + 1
            email = f"{local}{number}{domain}"
        used.add(email)
        emails.append(email)
    return emails


# --- Loading ----------------------------------------------------------------------------------


class _Loader:
    """The engine-specific half: reading what exists, and writing rows fast."""

    placeholder = "?"

    def __init__(self, raw: Any, say: Progress) -> None:
        self.raw = raw
        self.say = say

    def rows(self, sql: str) -> list[tuple]:
        return fetch_rows(self.raw, sql)

    def existing(self) -> _Existing:
        self.ensure_tags()
        roles = ", ".join(f"'{role.value}'" for role in STAFF_ROLES)
        [(max_org, max_contact, contact_count)] = self.rows(
            "SELECT (SELECT coalesce(max(id), 0) FROM organization), "
            "(SELECT coalesce(max(id), 0) FROM contact), (SELECT count(*) FROM contact)"
        )
        return _Existing(
            max_organization_id=max_org,
            max_contact_id=max_contact,
            contact_count=contact_count,
            staff_ids=[
                r[0]
                for r in self.rows(
                    f'SELECT id FROM "user" WHERE active AND role IN ({roles}) ORDER BY id'
                )
            ],
            tag_ids=[r[0] for r in self.rows("SELECT id FROM tag ORDER BY id")],
            org_keys={r[0] for r in self.rows("SELECT name_key FROM organization")},
            emails={r[0] for r in self.rows("SELECT email FROM contact WHERE email IS NOT NULL")},
        )

    def existing_organizations(self) -> list[_Org]:
        """Contacts asked for without new organizations join the existing ones."""
        region_of = {code: region for region, codes in names.COUNTRIES.items() for code in codes}
        return [
            _Org(
                org_id,
                country or "GB",
                region_of.get(country or "", "europe"),
                (website or "").split("www.")[-1].strip("/") or "example.org",
            )
            for org_id, country, website in self.rows(
                "SELECT id, country, website FROM organization ORDER BY id"
            )
        ]

    def ensure_tags(self) -> None:
        cursor = self.raw.cursor()
        cursor.executemany(
            f"INSERT INTO tag (name) VALUES ({self.placeholder}) ON CONFLICT (name) DO NOTHING",
            [(name,) for name in names.TAGS],
        )
        cursor.close()
        self.raw.commit()

    def load(self, *, rebuild_indexes: bool) -> Any:
        raise NotImplementedError

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def analyze(self) -> None:
        raise NotImplementedError


class _SQLiteLoader(_Loader):
    """executemany in one transaction, without the search triggers and contact indexes.

    Measured for a million contacts: the FTS5 triggers cost ~100 s row by row against ~15 s
    for indexing the new rows in one statement; keeping the five contact indexes live
    costs ~30 s more than building them afterwards.
    """

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            self.raw.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                rows,
            )

    def load(self, *, rebuild_indexes: bool) -> _SQLiteLoad:
        return _SQLiteLoad(self, rebuild_indexes)

    def analyze(self) -> None:
        # Full statistics, not sampled (analysis_limit): with sampled ones the planner walked
        # the whole name index for an email-prefix search (400 ms instead of 1 ms at 1M rows).
        self.raw.execute("ANALYZE")


class _SQLiteLoad:
    """The load's transaction; triggers and indexes are back before it commits.

    SQLite DDL is transactional, so a failure anywhere rolls back the rows, the dropped
    triggers and the dropped indexes alike.
    """

    def __init__(self, loader: _SQLiteLoader, rebuild_indexes: bool) -> None:
        self.raw = loader.raw
        self.say = loader.say
        self.rebuild_indexes = rebuild_indexes
        self.journal: str | None = None

    def __enter__(self) -> None:
        raw = self.raw
        # A rollback journal only saves the few pre-existing pages a load touches; WAL would
        # write every new page twice (log, then checkpoint). Switching needs the database to
        # ourselves; when another process has it open we stay in WAL, just slower.
        self.journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
        with contextlib.suppress(sqlite3.OperationalError):
            raw.execute("PRAGMA journal_mode=TRUNCATE")
        # Both pragmas are ignored inside a transaction: set here, restored in __exit__.
        raw.execute("PRAGMA foreign_keys=OFF")  # every reference is generated valid
        raw.execute(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
        raw.execute("BEGIN IMMEDIATE")
        try:
            self.first_ids = {
                table: raw.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]
                for table in ("contact", "organization")
            }
            for table in ("contact", "organization"):
                for trigger in ("ai", "ad", "au"):
                    raw.execute(f"DROP TRIGGER {table}_fts_{trigger}")
            if self.rebuild_indexes:
                for index, _columns in SQLITE_CONTACT_INDEXES:
                    raw.execute(f"DROP INDEX {index}")
        except BaseException:
            self._end("ROLLBACK")
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._end("ROLLBACK")
            return
        try:
            self._finish()
        except BaseException:
            self._end("ROLLBACK")
            raise
        self.say("Committing…")
        self._end("COMMIT")

    def _finish(self) -> None:
        raw = self.raw
        if self.rebuild_indexes:
            self.say("Building the contact indexes…")
            for index, columns in SQLITE_CONTACT_INDEXES:
                raw.execute(f"CREATE INDEX {index} ON contact ({columns})")
        self.say("Building the search indexes…")
        for table, column in (("contact", "search_text"), ("organization", "name_key")):
            fts = f"{table}_fts"
            raw.execute(
                f"INSERT INTO {fts}({fts}, rank) VALUES ('automerge', {FTS_LOAD_AUTOMERGE})"
            )
            # Only the new rows: older ones are indexed already (a 'rebuild' would redo them).
            raw.execute(
                f"INSERT INTO {fts}(rowid, {column}) SELECT id, {column} FROM {table} "
                "WHERE id >= ?",
                (self.first_ids[table],),
            )
            raw.execute(
                f"INSERT INTO {fts}({fts}, rank) VALUES ('automerge', {FTS_DEFAULT_AUTOMERGE})"
            )
            for statement in SQLITE_FTS_DDL[table][1:]:  # [0] is the table, the rest triggers
                raw.execute(statement)

    def _end(self, statement: str) -> None:
        try:
            self.raw.execute(statement)
        finally:
            self.raw.execute("PRAGMA foreign_keys=ON")
            self.raw.execute("PRAGMA cache_size=-65536")  # as crm._configure_sqlite sets it
            if self.journal:
                self.raw.execute(f"PRAGMA journal_mode={self.journal}")


class _PostgresLoader(_Loader):
    """COPY in one transaction, with the contact and organization indexes and constraints
    (the trigram GIN indexes included) dropped before and recreated after."""

    placeholder = "%s"

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        with (
            self.raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def load(self, *, rebuild_indexes: bool) -> _PostgresLoad:
        return _PostgresLoad(self, rebuild_indexes)

    def analyze(self) -> None:
        # VACUUM too, not just ANALYZE: it sets the visibility map, without which no scan can
        # be index-only, and the hint bits, which the first readers would otherwise write.
        # Autovacuum would get there eventually (when it is on: it is off on some servers).
        self.raw.commit()
        self.raw.autocommit = True  # VACUUM refuses to run inside a transaction
        try:
            with self.raw.cursor() as cursor:
                cursor.execute(
                    "VACUUM (ANALYZE) organization, organization_tag, contact, contact_tag, tag"
                )
        finally:
            self.raw.autocommit = False


class _PostgresLoad:
    """The load's transaction. PostgreSQL DDL is transactional: a failure restores it all."""

    def __init__(self, loader: _PostgresLoader, rebuild_indexes: bool) -> None:
        self.raw = loader.raw
        self.say = loader.say
        self.rebuild_indexes = rebuild_indexes
        self.restore: list[str] = []

    def __enter__(self) -> None:
        try:
            with self.raw.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")  # in-memory sorts
                if self.rebuild_indexes:
                    for table in ("contact", "organization"):
                        self.restore += self._drop_secondary(cursor, table)
        except BaseException:
            self.raw.rollback()
            raise

    def _drop_secondary(self, cursor: Any, table: str) -> list[str]:
        """Drop `table`'s unique and foreign-key constraints and its other indexes (all but the
        primary key); return the statements that recreate them."""
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
            (table,),
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = %s::regclass AND NOT indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            (table,),
        )
        indexes = cursor.fetchall()
        for name, _definition in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        return [definition for _name, definition in indexes] + [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
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
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                        f"FROM {table} HAVING max(id) IS NOT NULL"
                    )
            self.say("Committing…")
            self.raw.commit()
        except BaseException:
            self.raw.rollback()
            raise
