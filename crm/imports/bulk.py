"""Inserting many rows and learning their ids, at the engine's own speed."""

from __future__ import annotations

import sqlalchemy as sa

from crm.extensions import db


def insert_many(table: sa.Table, values: list[dict]) -> list[int]:
    """Insert `values` into `table`; their new ids, in order.

    SQLAlchemy can return ids in parameter order from a bulk insert, but on SQLite it does so
    one statement per row (SQLite does not promise RETURNING's order): 5,000 round trips for
    5,000 rows. SQLite gives an INTEGER PRIMARY KEY without AUTOINCREMENT the largest id plus
    one, and this transaction holds the write lock, so a plain executemany gets the next ids
    in order; that is checked, not assumed. PostgreSQL returns them in order in batches.
    """
    if not values:
        return []
    if db.session.get_bind().dialect.name != "sqlite":
        statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.session.execute(statement, values).scalars())
    before = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    _sqlite_executemany(table, values)
    after, count = db.session.execute(
        sa.select(sa.func.max(table.c.id), sa.func.count()).where(table.c.id > before)
    ).one()
    if after != before + len(values) or count != len(values):
        raise RuntimeError(f"{table.name}: ids after a bulk insert are not the expected range")
    return list(range(before + 1, after + 1))


def insert_rows(table: sa.Table, values: list[dict]) -> None:
    """Insert `values` (dicts with the same keys) without wanting their ids back."""
    if not values:
        return
    if db.session.get_bind().dialect.name == "sqlite":
        _sqlite_executemany(table, values)
    else:
        db.session.execute(sa.insert(table), values)


def _sqlite_executemany(table: sa.Table, values: list[dict]) -> None:
    """The rows through the driver's executemany, in this transaction, each value converted
    by its column type exactly as SQLAlchemy would (a UTC datetime to SQLite's text form, an
    enum to its value), without SQLAlchemy's per-row bookkeeping, which costs more than
    SQLite's insert itself."""
    dialect = db.session.get_bind().dialect
    columns = list(values[0])
    typed = [
        (index, process, {})  # the memo: a run's rows share their times and statuses
        for index, name in enumerate(columns)
        if (process := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    rows = []
    for row in values:
        cells = [row[name] for name in columns]
        for index, process, memo in typed:
            value = cells[index]
            if value is None:
                continue
            try:
                cells[index] = memo[value]
            except KeyError:
                cells[index] = memo[value] = process(value)
            except TypeError:  # JSON (a dict): not hashable, rarely repeated
                cells[index] = process(value)
        rows.append(cells)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    cursor = db.session.connection().connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    finally:
        cursor.close()
