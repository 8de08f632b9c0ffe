"""Advisory locks: transactions that must take turns on a key."""

from __future__ import annotations

import sqlalchemy as sa

from crm.extensions import db


def serialize_on(key: str) -> None:
    """Transactions naming the same key take turns until commit: a check-then-insert (a cap,
    "one per person") stays true under concurrent requests. PostgreSQL gets an advisory lock;
    SQLite write requests are serialized anyway (BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
