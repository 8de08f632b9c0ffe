"""Values every process shares: in the database by default, in Redis when `CRM_REDIS_URL` is set.

Figures that cost (the dashboard's counts, the quarterly report) are built by jobs and kept here,
so any web process on any machine reads the same thing and none keeps its own copy in memory:

    shared_store.put("dashboard:figures", {"contacts": 12}, expires_in=timedelta(hours=1))
    entry = shared_store.get("dashboard:figures")  # Entry(value, stored_at) or None

Values are JSON (never pickle: a value someone could write must not run code when read). The
database backend writes through the caller's session, so a value stored by a job commits with
it; Redis writes at once (a cache entry outliving a rolled-back transaction is harmless: it is
rebuilt).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from crm.core.db import UTCDateTime, utcnow
from crm.extensions import Model, db

KEY_LENGTH = 200


class StoredValue(Model):
    """One shared value (the database backend)."""

    __tablename__ = "stored_value"

    key: Mapped[str] = mapped_column(sa.String(KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)  # JSON
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Entry:
    value: Any
    stored_at: datetime  # when it was stored (UTC): what a page shows as "counted at"

    @property
    def age(self) -> timedelta:
        return utcnow() - self.stored_at


class Backend(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def put(self, key: str, value: Any, expires_in: timedelta | None) -> None: ...

    def delete(self, key: str) -> None: ...


def _encode(value: Any, stored_at: datetime) -> str:
    return json.dumps({"value": value, "stored_at": stored_at.isoformat()}, allow_nan=False)


def _decode(text: str | bytes) -> Entry | None:
    try:
        found = json.loads(text)
        return Entry(found["value"], datetime.fromisoformat(found["stored_at"]))
    except (ValueError, KeyError, TypeError):
        return None  # written by another version, or damaged: as if absent, rebuilt


def _checked(key: str) -> str:
    if not key or len(key) > KEY_LENGTH:
        raise ValueError(f"A stored value's key is 1 to {KEY_LENGTH} characters: {key!r}.")
    return key


class DatabaseBackend:
    """The `stored_value` table, through the current session (its transaction)."""

    def get(self, key: str) -> Entry | None:
        row = db.session.execute(
            sa.select(StoredValue.value, StoredValue.expires_at).where(
                StoredValue.key == _checked(key)
            )
        ).first()
        if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
            return None
        return _decode(row.value)

    def put(self, key: str, value: Any, expires_in: timedelta | None) -> None:
        now = utcnow()
        values = {
            "key": _checked(key),
            "value": _encode(value, now),
            "stored_at": now,
            "expires_at": now + expires_in if expires_in is not None else None,
        }
        table = StoredValue.__table__
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        stmt = insert(table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={name: stmt.excluded[name] for name in ("value", "stored_at", "expires_at")},
        )
        db.session.execute(stmt)

    def delete(self, key: str) -> None:
        db.session.execute(sa.delete(StoredValue).where(StoredValue.key == _checked(key)))

    def forget_expired(self, now: datetime) -> int:
        """Delete what has expired (the hourly housekeeping); returns how many."""
        result = db.session.execute(
            sa.delete(StoredValue).where(StoredValue.expires_at <= now),
            execution_options={"synchronize_session": False},
        )
        return getattr(result, "rowcount", 0) or 0


class RedisBackend:
    """Redis: keys under a prefix (several CRMs, or test runs, may share one server); Redis
    forgets expired keys itself."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only when configured: the embedded default needs no Redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix

    def get(self, key: str) -> Entry | None:
        text = self.client.get(self.prefix + _checked(key))
        return None if text is None else _decode(text)

    def put(self, key: str, value: Any, expires_in: timedelta | None) -> None:
        text = _encode(value, utcnow())
        seconds = max(1, int(expires_in.total_seconds())) if expires_in is not None else None
        self.client.set(self.prefix + _checked(key), text, ex=seconds)

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + _checked(key))


def backend() -> Backend:
    """The app's backend: Redis when CRM_REDIS_URL is set, else the database. One Redis client
    (a connection pool) per app."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return DatabaseBackend()
    found = current_app.extensions.get("shared_store")
    if found is None:
        found = RedisBackend(url, current_app.config.get("REDIS_PREFIX") or "crm:")
        current_app.extensions["shared_store"] = found
    return found


def get(key: str) -> Entry | None:
    """The value stored under `key` and when, or None (never stored, or expired)."""
    return backend().get(key)


def put(key: str, value: Any, *, expires_in: timedelta | None = None) -> None:
    """Store `value` (anything JSON can hold, without NaN) under `key`, replacing what was
    there; forgotten after `expires_in` when given."""
    backend().put(key, value, expires_in)


def delete(key: str) -> None:
    backend().delete(key)


def stamp(moment: datetime) -> str:
    """A stored time as ISO text in UTC (for values that carry their own times)."""
    return moment.astimezone(UTC).isoformat()
