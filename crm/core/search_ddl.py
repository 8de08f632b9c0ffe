"""The search indexes that models cannot express: made by the migrations, ignored by autogenerate.

SQLite gets external-content FTS5 tables with the trigram tokenizer, kept current by triggers;
PostgreSQL gets pg_trgm GIN indexes. See crm/core/search.py for the queries that use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crm.core.db import UTCDateTime

# DDL used by the migrations and by tests that build the schema.
SQLITE_FTS_DDL = {
    "contact": [
        "CREATE VIRTUAL TABLE contact_fts USING fts5(search_text, content='contact', "
        "content_rowid='id', tokenize='trigram')",
        "CREATE TRIGGER contact_fts_ai AFTER INSERT ON contact BEGIN "
        "INSERT INTO contact_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
        "CREATE TRIGGER contact_fts_ad AFTER DELETE ON contact BEGIN "
        "INSERT INTO contact_fts(contact_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); END",
        "CREATE TRIGGER contact_fts_au AFTER UPDATE OF search_text ON contact BEGIN "
        "INSERT INTO contact_fts(contact_fts, rowid, search_text) "
        "VALUES ('delete', old.id, old.search_text); "
        "INSERT INTO contact_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    ],
    "organization": [
        "CREATE VIRTUAL TABLE organization_fts USING fts5(name_key, content='organization', "
        "content_rowid='id', tokenize='trigram')",
        "CREATE TRIGGER organization_fts_ai AFTER INSERT ON organization BEGIN "
        "INSERT INTO organization_fts(rowid, name_key) VALUES (new.id, new.name_key); END",
        "CREATE TRIGGER organization_fts_ad AFTER DELETE ON organization BEGIN "
        "INSERT INTO organization_fts(organization_fts, rowid, name_key) "
        "VALUES ('delete', old.id, old.name_key); END",
        "CREATE TRIGGER organization_fts_au AFTER UPDATE OF name_key ON organization BEGIN "
        "INSERT INTO organization_fts(organization_fts, rowid, name_key) "
        "VALUES ('delete', old.id, old.name_key); "
        "INSERT INTO organization_fts(rowid, name_key) VALUES (new.id, new.name_key); END",
    ],
}

# How FTS5 merges the segments of its index, set once per table (FTS5 keeps it in the table).
# Each transaction that writes to the index adds a segment; a few at a time are merged bit by
# bit as later writes go on ('automerge'), but once 'crisismerge' segments pile up on one
# level they are merged all at once, in the transaction that added the last. At a million
# contacts that rewrote most of the index, 3-11 s holding SQLite's write lock, in the middle
# of an import written in parts (benchmarks/README.md). At 64 the bit-by-bit merging keeps up
# and no write pays for a whole level; searches read a few more segments (measured: the same
# times, under a millisecond for a word).
SQLITE_FTS_SETTINGS = {
    table: [f"INSERT INTO {table}_fts({table}_fts, rank) VALUES ('crisismerge', 64)"]
    for table in ("contact", "organization")
}

POSTGRES_TRGM_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_contact_search_trgm ON contact USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ix_organization_name_trgm ON organization USING gin (name_key gin_trgm_ops)",
]

# Objects the migrations create outside the models; the schema-drift check ignores them.
UNMODELLED_NAMES = (
    "contact_fts",
    "organization_fts",
    "ix_contact_search_trgm",
    "ix_organization_name_trgm",
)


def include_in_migrations(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic filter: leave the search indexes (made by hand in the migration) alone."""
    return not (name and any(name == n or name.startswith(n + "_") for n in UNMODELLED_NAMES))


def render_item(type_, obj, autogen_context):
    """Alembic: write our UTC datetime type as a plain timezone-aware DateTime in revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


@contextmanager
def search_index_in_bulk(session, table: str) -> Iterator[list[int]]:
    """Insert many rows into `table` and index them for search in one statement at the end.

    SQLite's per-row insert trigger costs about 40 times a single INSERT ... SELECT into the
    FTS5 table (measured in benchmarks/imports.py), so inside this block the trigger is dropped;
    the caller appends the ids it inserted to the yielded list, and they are indexed on the way
    out. DDL is transactional in SQLite and the importer holds the write lock, so no other
    writer can insert a row meanwhile, and a rollback restores the trigger. PostgreSQL's GIN
    index needs nothing of this.
    """
    import sqlalchemy as sa

    ids: list[int] = []
    if session.get_bind().dialect.name != "sqlite":
        yield ids
        return
    column = {"contact": "search_text", "organization": "name_key"}[table]
    trigger = SQLITE_FTS_DDL[table][1]
    session.execute(sa.text(f"DROP TRIGGER {table}_fts_ai"))
    try:
        yield ids
        insert = f"INSERT INTO {table}_fts(rowid, {column}) SELECT id, {column} FROM {table} "
        if ids and ids == list(range(ids[0], ids[0] + len(ids))):  # one run, as bulk inserts give
            session.execute(
                sa.text(insert + "WHERE id BETWEEN :low AND :high"),
                {"low": ids[0], "high": ids[-1]},
            )
            return
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            session.execute(sa.text(insert + f"WHERE id IN ({','.join(map(str, chunk))})"))
    finally:
        session.execute(sa.text(trigger))


def delete_in_bulk(session, table: str, ids: list[int]) -> None:
    """Delete rows of `table` by id, taking them out of the search index in one statement per
    chunk rather than by the per-row trigger (see `search_index_in_bulk`)."""
    import sqlalchemy as sa

    sqlite = session.get_bind().dialect.name == "sqlite" and table in SQLITE_FTS_DDL
    if sqlite:
        column = {"contact": "search_text", "organization": "name_key"}[table]
        session.execute(sa.text(f"DROP TRIGGER {table}_fts_ad"))
    try:
        for start in range(0, len(ids), 5000):
            listed = ",".join(str(int(i)) for i in ids[start : start + 5000])
            if sqlite:
                session.execute(
                    sa.text(
                        f"INSERT INTO {table}_fts({table}_fts, rowid, {column}) "
                        f"SELECT 'delete', id, {column} FROM {table} WHERE id IN ({listed})"
                    )
                )
            session.execute(sa.text(f"DELETE FROM {table} WHERE id IN ({listed})"))
    finally:
        if sqlite:
            session.execute(sa.text(SQLITE_FTS_DDL[table][2]))
