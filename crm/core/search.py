"""Indexed substring search over contacts and organizations, on SQLite and PostgreSQL.

A plain `LIKE '%text%'` reads every row: fine for a thousand contacts, far too slow for a million.
Each engine gets a trigram index (created by the migrations): an FTS5 table with the trigram
tokenizer on SQLite, a pg_trgm GIN index on PostgreSQL. Both find any substring of three or more
characters; shorter queries fall back to a prefix match on the sort key, which a B-tree serves.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.extensions import db

# record type -> (table, searched column, prefix column, FTS table on SQLite)
_TARGETS = {
    "contact": ("contact", "search_text", "sort_name", "contact_fts"),
    "organization": ("organization", "name_key", "name_key", "organization_fts"),
}

MIN_TRIGRAM = 3


def normalize_query(text: str) -> str:
    return " ".join((text or "").lower().split())[:200]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def substring_ids(record_type: str, text: str) -> sa.Select | None:
    """A SELECT of the ids whose searched column contains `text`; None when `text` is empty."""
    text = normalize_query(text)
    if not text:
        return None
    table_name, column, prefix_column, fts_table = _TARGETS[record_type]
    table = sa.table(table_name, sa.column("id"), sa.column(column), sa.column(prefix_column))

    if len(text) < MIN_TRIGRAM:
        # Too short for trigrams: names starting with it (range scan on the sort index).
        return sa.select(table.c.id).where(
            table.c[prefix_column] >= text, table.c[prefix_column] < text + "\uffff"
        )

    if db.engine.dialect.name == "sqlite":
        fts = sa.table(fts_table, sa.column("rowid"))
        phrase = '"' + text.replace('"', '""') + '"'  # an FTS5 phrase: the exact substring
        return (
            sa.select(fts.c.rowid)
            .where(sa.text(f"{fts_table} MATCH :phrase"))
            .params(phrase=phrase)
        )
    pattern = f"%{_escape_like(text)}%"
    return sa.select(table.c.id).where(table.c[column].like(pattern, escape="\\"))
