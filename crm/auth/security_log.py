"""The account-security log: sign-ins, failures, refusals, sign-outs, sessions ended, password
changes and links. Written by the operations in the transaction of what they record; read by
the person (their own, on "Account security") and by admins (everyone's)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.auth.models import SecurityEvent, SecurityEventKind, User
from crm.auth.sessions import where_from
from crm.core.db import rows_touched
from crm.extensions import db

SHOWN = 200  # the newest events a page lists


def record(
    kind: SecurityEventKind,
    *,
    user: User | None = None,
    email: str = "",
    detail: str = "",
    address: str | None = None,
) -> None:
    here, browser = where_from()
    db.session.add(
        SecurityEvent(
            user_id=user.id if user is not None else None,
            email=(user.email if user is not None else email)[:254],
            kind=kind,
            address=(address if address is not None else here)[:64],
            browser=browser,
            detail=detail[:300],
        )
    )


def events(*, user_id: int | None = None, email: str = "") -> list[SecurityEvent]:
    """The newest events: of one account (by id, or by the address typed at sign-in, which
    covers failures for an address that has no account), or of everyone."""
    stmt = sa.select(SecurityEvent).order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
    if user_id is not None:
        stmt = stmt.where(SecurityEvent.user_id == user_id)
    elif email:
        stmt = stmt.where(SecurityEvent.email == email.strip().lower())
    return list(db.session.scalars(stmt.limit(SHOWN)))


def forget_old(now: datetime, *, keep_days: int) -> int:
    """Housekeeping: events older than `keep_days`."""
    cutoff = now - timedelta(days=keep_days)
    return rows_touched(
        db.session.execute(sa.delete(SecurityEvent).where(SecurityEvent.at < cutoff))
    )
