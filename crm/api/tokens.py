"""Personal access tokens: made, listed, revoked, and looked up for a request.

A token is shown once, when it is made; only its SHA-256 is stored. It acts as its user (the
same role table, the same object-level rules), read-only or read-write, until it expires or
is revoked; a deactivated user's tokens stop working with their sessions. "Last used" is
written at most once a minute, apart from the request (as a session's is).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from crm.api.models import ApiToken
from crm.audit.models import AuditAction
from crm.audit.operations import record as audit_record
from crm.auth import security_log
from crm.auth.models import SecurityEventKind, User
from crm.core.apart import update_apart
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.extensions import db

PREFIX = "west_"  # recognisable in a leaked file or a secret scanner's rules
LIFETIMES_DAYS = (30, 90, 365)
LONGEST_DAYS = 365
TOUCH_EVERY = timedelta(minutes=1)
NAME_LENGTH = 80
_table = ApiToken.__table__


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(
    actor: User | None, user: User, *, name: str, read_only: bool, days: int
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row and the token itself, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise OperationError("Give the token a name, to tell it apart later.", field="name")
    if len(name) > NAME_LENGTH:
        raise OperationError(f"A name of at most {NAME_LENGTH} characters.", field="name")
    if not 1 <= days <= LONGEST_DAYS:
        raise OperationError(
            f"A token lasts from 1 to {LONGEST_DAYS} days; make a new one when it ends.",
            field="days",
        )
    if not user.active:
        raise OperationError(f"{user.email} is deactivated: it cannot have a token.")
    raw = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user=user,
        name=name,
        key_hash=_hash(raw),
        shown_start=raw[: len(PREFIX) + 4],
        read_only=read_only,
        created_at=now,
        expires_at=now + timedelta(days=days),
        last_used_address="",
    )
    db.session.add(token)
    db.session.flush()
    detail = f"“{name}”, {token.access_label}, for {days} days"
    if actor is not None and actor.id != user.id:
        detail += f", by {actor.name}"
    security_log.record(SecurityEventKind.API_TOKEN_CREATED, user=user, detail=detail)
    audit_record(
        actor, AuditAction.CREATE, "api_token", token.id, summary=f"API token {name} created"
    )
    return token, raw


def revoke(actor: User, token: ApiToken) -> None:
    """The token stops working at once (its row goes; the security log keeps the record)."""
    detail = f"“{token.name}”"
    if actor.id != token.user_id:
        detail += f", by {actor.name}"
    security_log.record(SecurityEventKind.API_TOKEN_REVOKED, user=token.user, detail=detail)
    audit_record(
        actor, AuditAction.DELETE, "api_token", token.id, summary=f"API token {token.name} revoked"
    )
    db.session.delete(token)


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def every_token() -> list[ApiToken]:
    """Every user's tokens, for admins (a list of people, not of contacts: it stays small)."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .options(joinedload(ApiToken.user))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def token_of(user: User, token_id: int) -> ApiToken | None:
    """One of `user`'s tokens by id; None when it is someone else's or gone."""
    return db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )


def user_for(raw: str, address: str = "") -> tuple[User, ApiToken] | None:
    """The active user a request's bearer token acts as, and the token; None when the token is
    unknown, expired or revoked, or its user is deactivated."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    now = utcnow()
    token = db.session.scalar(
        sa.select(ApiToken)
        .options(joinedload(ApiToken.user))
        .where(ApiToken.key_hash == _hash(raw), ApiToken.expires_at > now)
    )
    if token is None or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        values = {"last_used_at": now, "last_used_address": address[:64]}
        if update_apart(_table, _table.c.id == token.id, values):
            for field, value in values.items():
                set_committed_value(token, field, value)
    return token.user, token


def forget_expired(now: datetime, *, after_days: int = 30) -> int:
    """Housekeeping: tokens a month past their end (until then the owner sees them expired)."""
    cutoff = now - timedelta(days=after_days)
    return rows_touched(db.session.execute(sa.delete(_table).where(_table.c.expires_at <= cutoff)))
