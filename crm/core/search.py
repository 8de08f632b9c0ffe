"""Indexed substring search over contacts and organizations, on SQLite and PostgreSQL.

A plain `LIKE '%text%'` reads every row: fine for a thousand contacts, far too slow for a million.
Each engine gets a trigram index (created by the migrations): an FTS5 table with the trigram
tokenizer on SQLite, a pg_trgm GIN index on PostgreSQL. Both find any substring of three or more
characters; shorter queries fall back to a prefix match on the sort key, which a B-tree serves.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.text import fold
from crm.extensions import db

# record type -> (table, searched column, prefix column, FTS table on SQLite)
_TARGETS = {
    "contact": ("contact", "search_text", "sort_name", "contact_fts"),
    "organization": ("organization", "name_key", "name_key", "organization_fts"),
}

MIN_TRIGRAM = 3


def normalize_query(text: str) -> str:
    return fold(text)[:200]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parts(record_type: str, text: str) -> tuple[sa.Table, str, str, str, list[str]]:
    table_name, column, prefix_column, fts_table = _TARGETS[record_type]
    table = db.metadata.tables[table_name]  # the mapped table, so conditions join no new FROM
    words = text.split()
    return table, column, prefix_column, fts_table, words


def substring_condition(record_type: str, text: str) -> sa.ColumnElement[bool] | None:
    """A condition on the record's own row: its searched column contains every word of `text`.

    Cheap per row, so it suits walking the list in sort order when most rows match; with only
    short words it is a prefix match on the sort key instead. None for an empty query.
    """
    text = normalize_query(text)
    if not text:
        return None
    table, column, prefix_column, _fts, words = _parts(record_type, text)
    return _contains_words(table, column, prefix_column, text, words)


def _contains_words(
    table: sa.Table, column: str, prefix_column: str, text: str, words: list[str]
) -> sa.ColumnElement[bool]:
    """`substring_condition` for a normalized, non-empty `text` and its words."""
    if all(len(w) < MIN_TRIGRAM for w in words):
        return sa.and_(table.c[prefix_column] >= text, table.c[prefix_column] < text + "\uffff")
    return sa.and_(*(table.c[column].like(f"%{_escape_like(w)}%", escape="\\") for w in words))


def substring_ids(record_type: str, text: str) -> sa.Select | None:
    """A SELECT of the ids whose searched column contains every word of `text`, by index.

    Suits few matches. None when `text` is empty. Case and accents are ignored (the columns
    hold folded text).
    """
    text = normalize_query(text)
    if not text:
        return None
    table, column, prefix_column, fts_table, words = _parts(record_type, text)
    condition = _contains_words(table, column, prefix_column, text, words)
    long_words = [w for w in words if len(w) >= MIN_TRIGRAM]
    if not long_words or db.engine.dialect.name != "sqlite":
        # PostgreSQL's planner uses the trigram GIN index for the LIKEs by itself.
        return sa.select(table.c.id).where(condition)
    fts = sa.table(fts_table, sa.column("rowid"))
    # FTS5 phrases, one per word, all required: each is an exact substring match.
    query = " ".join('"' + w.replace('"', '""') + '"' for w in long_words)
    ids = sa.select(fts.c.rowid).where(sa.text(f"{fts_table} MATCH :q")).params(q=query)
    if len(long_words) == len(words):
        return ids
    return sa.select(table.c.id).where(table.c.id.in_(ids), condition)
