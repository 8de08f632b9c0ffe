"""Small bookkeeping writes made apart from the request: a session's or a token's "last used",
an API token's count of requests this minute. Each runs in a connection and transaction of its
own, committed at once, and gives up at once when SQLite's write lock is taken (an import
writing, say): a request that only reads never waits for the lock because of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app

from crm.extensions import db

T = TypeVar("T")


def run_apart(work: Callable[[sa.Connection], T]) -> T | None:
    """`work(connection)`, committed at once; None when SQLite's write lock was taken."""
    try:
        with db.engine.connect() as conn:
            # Set on the driver's connection itself: a statement through SQLAlchemy would first
            # begin the transaction (BEGIN IMMEDIATE), which would wait out the old timeout.
            raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
            if raw is not None:
                raw.execute("PRAGMA busy_timeout=0")
            try:
                done = work(conn)
                conn.commit()
            finally:
                if raw is not None:
                    timeout = int(current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
                    raw.execute(f"PRAGMA busy_timeout={timeout}")
    except (sa.exc.OperationalError, sa.exc.IntegrityError):
        # The lock was taken, or the row it counts for went meanwhile (a token revoked).
        return None
    return done


def update_apart(table: sa.Table, where: sa.ColumnElement[bool], values: dict) -> bool:
    """Update rows of `table` apart from the request: True if a row was written."""
    written = run_apart(
        lambda conn: conn.execute(sa.update(table).where(where).values(**values)).rowcount
    )
    return bool(written)
