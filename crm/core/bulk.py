"""Writing and finding many rows at the engine's own speed: inserts that learn their ids,
updates grouped by the columns they change, and `IN` lists sent as one parameter.

Imports write hundreds of thousands of rows with these, and the audit trail its entries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from crm.extensions import db


def insert_many(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None = None
) -> list[int]:
    """Insert `values` into `table`; their new ids, in order. `values` are dicts, or tuples
    in the order of `columns` (for the largest inserts: no dict per row).

    SQLAlchemy can return ids in parameter order from a bulk insert, but on SQLite it does so
    one statement per row (SQLite does not promise RETURNING's order): 5,000 round trips for
    5,000 rows. SQLite gives an INTEGER PRIMARY KEY without AUTOINCREMENT the largest id plus
    one, and this transaction holds the write lock, so a plain executemany gets the next ids
    in order; that is checked, not assumed. On PostgreSQL the ids are taken from the table's
    sequence first, then the rows go in by COPY (several times an INSERT's speed).
    """
    if not values:
        return []
    if db.session.get_bind().dialect.name != "sqlite":
        return _postgres_copy_with_ids(table, values, columns)
    # An aggregate without GROUP BY always gives one row.
    before = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))
    ).scalar_one()
    _sqlite_executemany(table, values, columns)
    after, count = db.session.execute(
        sa.select(sa.func.max(table.c.id), sa.func.count()).where(table.c.id > before)
    ).one()
    if after != before + len(values) or count != len(values):
        raise RuntimeError(f"{table.name}: ids after a bulk insert are not the expected range")
    return list(range(before + 1, after + 1))


def among(column: sa.Column, values: list) -> sa.ColumnElement[bool]:
    """`column IN values` with the values as one parameter however many there are: one JSON
    array (SQLite's json_each) or one array (PostgreSQL's ANY). An IN list costs SQLAlchemy a
    bound parameter each to render, a third of the matching time of a 100,000-row import."""
    if db.session.get_bind().dialect.name == "sqlite":
        listed = sa.func.json_each(json.dumps(values)).table_valued("value")
        return column.in_(sa.select(listed.c.value))
    array = ARRAY(column.type)
    return column == sa.any_(sa.cast(sa.literal(values, array), array))


def each_id(ids: list[int]) -> sa.TableValuedAlias:
    """`ids` as rows of one column, `value`, sent as one parameter (SQLite's json_each, a
    PostgreSQL array's unnest): for an INSERT … SELECT that writes a row per id."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.func.json_each(json.dumps(list(ids))).table_valued("value")
    array = ARRAY(sa.Integer)
    return (
        sa.func.unnest(sa.cast(sa.literal(list(ids), array), array))
        .table_valued("value")
        .render_derived()
    )


def lookup(
    key: sa.Column, value: sa.Column, keys: list, also: sa.ColumnElement[bool] | None = None
) -> dict:
    """{key: value} for the rows whose `key` is among `keys` (and that meet `also`)."""
    if not keys:
        return {}
    query = sa.select(key, value).where(among(key, keys))
    if also is not None:
        query = query.where(also)
    return dict(db.session.execute(query).all())


def insert_rows(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None = None
) -> None:
    """Insert `values` (dicts with the same keys, or tuples in the order of `columns`) without
    wanting their ids back: one executemany (SQLite), one COPY (PostgreSQL)."""
    if not values:
        return
    if db.session.get_bind().dialect.name == "sqlite":
        _sqlite_executemany(table, values, columns)
        return
    _postgres_copy(table, values, columns)


def update_rows(table: sa.Table, changes: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """Write each (id, {column: value}) to the row of that id: one executemany per set of
    columns changed, not a statement per row, and the row's `version` moved on where the table
    keeps one. It goes through the session's connection, past its objects: the caller expires
    those it has loaded."""
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record_id, values in changes:
        # The parameters are prefixed: a bind parameter may not share a column's name here.
        batches.setdefault(tuple(sorted(values)), []).append(
            {"_id": record_id, **{f"p_{column}": value for column, value in values.items()}}
        )
    for columns, params in batches.items():
        assignments: dict[str, Any] = {column: sa.bindparam(f"p_{column}") for column in columns}
        if "version" in table.c:
            assignments["version"] = table.c.version + 1
        db.session.connection().execute(
            sa.update(table).where(table.c.id == sa.bindparam("_id")).values(assignments), params
        )


def _postgres_copy_with_ids(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None
) -> list[int]:
    """The rows' ids drawn from the table's sequence in one statement, then the rows, with
    them, in one COPY: the ids in the rows' order."""
    ids = list(
        db.session.execute(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(values)},
        ).scalars()
    )
    names, ordered = _in_column_order(values, columns)
    _postgres_copy(table, [(i, *row) for i, row in zip(ids, ordered, strict=True)], ("id", *names))
    return ids


def _postgres_copy(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None = None
) -> None:
    """The rows through psycopg's COPY, in this transaction, each value converted by its
    column type as SQLAlchemy would (an enum to its value, a dict to JSON)."""
    columns, rows = _converted(table, values, columns)
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    connection = db.session.connection()
    driver_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except driver_error as error:
        # As SQLAlchemy raises a driver's error (a lock wait cut short, a unique key): callers
        # catch sqlalchemy.exc's, whichever way the rows went in.
        raise sa.exc.DBAPIError.instance(
            statement, None, error, driver_error, dialect=connection.dialect
        ) from error
    finally:
        cursor.close()


def _sqlite_executemany(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None = None
) -> None:
    """The rows through the driver's executemany, in this transaction, each value converted
    by its column type exactly as SQLAlchemy would (a UTC datetime to SQLite's text form, an
    enum to its value), without SQLAlchemy's per-row bookkeeping, which costs more than
    SQLite's insert itself."""
    columns, rows = _converted(table, values, columns)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    cursor = db.session.connection().connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    finally:
        cursor.close()


def _converted(
    table: sa.Table, values: list[dict] | list[tuple], columns: tuple[str, ...] | None
) -> tuple[tuple[str, ...], list[list[Any]]]:
    """The columns, and each row's cells converted by their column's type for the driver."""
    dialect = db.session.get_bind().dialect
    columns, ordered = _in_column_order(values, columns)
    typed: list[tuple[int, Any, dict[Any, Any]]] = [
        (index, process, {})  # the memo: a run's rows share their times and statuses
        for index, name in enumerate(columns)
        if (process := table.c[name].type._cached_bind_processor(dialect)) is not None
    ]
    rows = []
    for row in ordered:
        cells = list(row)
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
    return columns, rows


def _as_dicts(values: list[dict] | list[tuple], columns: tuple[str, ...] | None) -> list[dict]:
    """The rows as dicts: tuples named by `columns`, dicts as they are."""
    if columns is None:
        assert _are_dicts(values), "rows given without their columns are dicts"
        return values
    assert _are_tuples(values), "rows given with their columns are tuples"
    return [dict(zip(columns, row, strict=True)) for row in values]


def _in_column_order(
    values: list[dict] | list[tuple], columns: tuple[str, ...] | None
) -> tuple[tuple[str, ...], Sequence[Sequence[Any]]]:
    """The columns and each row's cells in their order: dicts in the order of the first one's
    keys, tuples as they are."""
    if columns is None:
        assert _are_dicts(values), "rows given without their columns are dicts"
        columns = tuple(values[0])
        return columns, [[row[name] for name in columns] for row in values]
    assert _are_tuples(values), "rows given with their columns are tuples"
    return columns, values


# The rows of one call share a shape, so the first says what they all are.
def _are_dicts(values: list[dict] | list[tuple]) -> TypeGuard[list[dict]]:
    return not values or isinstance(values[0], dict)


def _are_tuples(values: list[dict] | list[tuple]) -> TypeGuard[list[tuple]]:
    return not values or isinstance(values[0], tuple)
