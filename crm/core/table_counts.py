"""Whole-table row counts, counted by a job and stored for every process (`shared_store`).

A list counts its rows up to `CRM_COUNT_CAP` and says "more than 10,000" past that; an
unfiltered list of a big table can say how many exactly from here instead, without counting on
the request. The dashboard's figures job stores them (`store`), once a minute, so they may be
that old.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from crm.core import shared_store
from crm.extensions import db

KEY = "table-counts"
KEEP = timedelta(hours=1)  # a stopped worker's last count is not shown for ever


def store(counts: dict[str, int]) -> None:
    """{table name: rows}, replacing what was stored."""
    shared_store.put(KEY, {name: int(n) for name, n in counts.items()}, expires_in=KEEP)


def stored(table: str) -> int | None:
    """The stored row count of `table`, or None when none is stored."""
    entry = shared_store.get(KEY)
    if entry is None or not isinstance(entry.value, dict):
        return None
    value = entry.value.get(table)
    return value if isinstance(value, int) else None


def known_total(table: str) -> int | None:
    """What an unfiltered list of `table` can show as its total without counting: the stored
    count when it is past `CRM_COUNT_CAP` (under it, the list's own capped count is exact and
    current)."""
    found = stored(table)
    return found if found is not None and found > current_app.config["COUNT_CAP"] else None


def all_small(models: tuple[Any, ...]) -> bool:
    """Every one of these tables holds at most `CRM_COUNT_CAP` rows: small enough to count or
    build from in a request. Each capped count reads at most COUNT_CAP + 1 rows."""
    cap = current_app.config["COUNT_CAP"]
    for model in models:
        first = sa.select(sa.literal(1)).select_from(model).limit(cap + 1).subquery()
        if (db.session.scalar(sa.select(sa.func.count()).select_from(first)) or 0) > cap:
            return False
    return True
