"""Writing a campaign's outbox, a row per recipient, at the engine's own speed and in the
caller's transaction: PostgreSQL's COPY (psycopg's `cursor.copy`), SQLite's executemany.

A hundred thousand rows as SQLAlchemy inserts cost more in building statements and parameters
than the database spends storing them; COPY streams them to the server in one command."""

from __future__ import annotations

from datetime import UTC, datetime

from crm.campaigns.models import MessageStatus, OutboxMessage
from crm.core import bulk

# What each row gives; the rest is the same for every row of a campaign.
GIVEN = ("campaign_id", "contact_id", "email", "message_key")
COLUMNS = (*GIVEN, "status", "attempts", "next_attempt_at")


def write(rows: list[tuple[int, int | None, str, str]], now: datetime) -> None:
    """Insert (campaign id, contact id, address, message key) rows as queued messages due
    `now`, in the session's transaction."""
    if not rows:
        return
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    tail = (MessageStatus.QUEUED.value, 0, now)
    # One COPY (PostgreSQL) or executemany (SQLite) in the session's transaction: the rows
    # commit or roll back with the campaign's status.
    bulk.insert_rows(OutboxMessage.__table__, [(*row, *tail) for row in rows], COLUMNS)
