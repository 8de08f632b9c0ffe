"""Keyset pagination: every page costs the same, the first or the ten-thousandth.

OFFSET pagination reads and throws away every earlier row, which is what makes deep pages slow on
a million contacts. Here a page is "the next N rows after this sort key", found by an index seek.
The cursor is the sort key of the boundary row, encoded in the URL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from crm.extensions import db


@dataclass(frozen=True)
class SortOption:
    label: str
    columns: tuple  # mapped columns, the last one unique (the id)
    descending: bool = False


@dataclass
class Page:
    items: list
    next_cursor: str | None
    prev_cursor: str | None
    total: int | None  # None: not counted (too costly to count exactly)
    total_is_capped: bool
    is_first: bool

    @property
    def total_label(self) -> str:
        if self.total is None:
            return "many"
        return f"more than {self.total - 1:,}" if self.total_is_capped else f"{self.total:,}"


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, date) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, columns: tuple) -> list[Any] | None:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(columns):
            return None
        values = []
        for value, column in zip(raw, columns, strict=True):
            if value is not None and isinstance(column.type, sa.DateTime | sa.types.TypeDecorator):
                value = datetime.fromisoformat(value)
            elif value is not None and isinstance(column.type, sa.Date):
                value = date.fromisoformat(value)
            elif isinstance(column.type, sa.Integer) and (
                not isinstance(value, int) or isinstance(value, bool)
            ):
                return None  # the database would refuse to compare it
            elif isinstance(column.type, sa.String) and not isinstance(value, str | None):
                return None
            values.append(value)
        return values
    except (ValueError, TypeError, json.JSONDecodeError):
        return None  # a mangled cursor just shows the first page


def _row_key(row: Any, columns: tuple) -> list[Any]:
    return [getattr(row, column.key) for column in columns]


def ids_of_page(
    ids: Sequence[int],
    sort: SortOption,
    *,
    after: str | None = None,
    before: str | None = None,
    page_size: int = 50,
) -> list[int]:
    """Among ids known to be every row of a list sorted by id alone, those `paginate` can show
    for this cursor: handing it just these makes the page a few primary-key look-ups."""
    forward = before is None
    cursor = after if forward else before
    values = _decode(cursor, sort.columns) if cursor else None
    descending = sort.descending if forward else not sort.descending
    ordered = sorted(ids, reverse=descending)
    if values is not None:
        (bound,) = values
        ordered = [i for i in ordered if (i < bound if descending else i > bound)]
    return ordered[: page_size + 1]


def paginate(
    stmt: sa.Select,
    sort: SortOption,
    *,
    after: str | None = None,
    before: str | None = None,
    page_size: int = 50,
    count_cap: int = 10_000,
    known_total: int | None = None,
    count: bool = True,
    rows: sa.Select | None = None,
) -> Page:
    """One page of `stmt` in `sort` order after (or before) a cursor.

    The total is counted up to `count_cap`, unless the caller already knows it (`known_total`)
    or knows counting would cost more than the page (`count=False`).

    With `rows` (a SELECT of the records, without conditions), `stmt` selects the id alone: it
    finds the page's ids, then `rows` loads just those. When an index holds the sort key and
    everything the conditions test, finding the page reads that index alone (PostgreSQL's
    index-only scan), not a table row for every entry it passes.
    """
    columns = sort.columns
    forward = before is None
    cursor = after if forward else before
    values = _decode(cursor, columns) if cursor else None

    # Reading backwards (the previous page) flips the order and the comparison.
    descending = sort.descending if forward else not sort.descending
    after_cursor = []
    if values is not None:
        key = sa.tuple_(*columns)
        bound = sa.tuple_(
            *(sa.literal(v, type_=c.type) for v, c in zip(values, columns, strict=True))
        )
        after_cursor.append(key < bound if descending else key > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    page_stmt = stmt.where(*after_cursor)
    if rows is not None:
        page_ids = page_stmt.order_by(*order).limit(page_size + 1)
        page_stmt = rows.where(columns[-1].in_(page_ids))
    found = list(db.session.scalars(page_stmt.order_by(*order).limit(page_size + 1)))

    has_more = len(found) > page_size
    items = found[:page_size]
    if not forward:
        items.reverse()

    if forward:
        next_cursor = _encode(_row_key(items[-1], columns)) if has_more and items else None
        prev_cursor = _encode(_row_key(items[0], columns)) if values is not None and items else None
    else:
        next_cursor = _encode(_row_key(items[-1], columns)) if items else None
        prev_cursor = _encode(_row_key(items[0], columns)) if has_more and items else None

    if known_total is not None:
        total: int | None = known_total
    elif count:
        total = db.session.scalar(
            sa.select(sa.func.count()).select_from(
                stmt.with_only_columns(columns[-1]).order_by(None).limit(count_cap + 1).subquery()
            )
        )
    else:
        total = None
    return Page(
        items=items,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        total=total,
        total_is_capped=known_total is None and total is not None and total > count_cap,
        is_first=prev_cursor is None,
    )
