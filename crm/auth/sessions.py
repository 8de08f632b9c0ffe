"""Signed-in sessions kept in the database, so that signing out means it.

Flask-Login keeps a user's id in the session cookie (and, with "keep me signed in", in the
remember cookie). Here that id is a random secret naming one row of `user_session`, of which
only the hash is stored. Ending the row (logging out, a password change, a role taken away, an
account deactivated, "sign out everywhere else", an admin ending them) refuses every copy of
either cookie from then on. A remembered sign-in lasts `CRM_REMEMBER_DAYS` from the password and
gets a new secret each time the remember cookie brings it back; any other sign-in ends after
`CRM_SESSION_IDLE_HOURS` without a request.

"Last used" is written at most every few minutes, in a connection of its own that gives up at
once when SQLite's write lock is taken: a page that only reads never waits for it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context, has_request_context, request, session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from config import BaseConfig
from crm.auth.models import User, UserSession
from crm.core.apart import update_apart
from crm.core.db import rows_touched, utcnow
from crm.core.http import client_address
from crm.extensions import db

TOUCH_EVERY = timedelta(minutes=5)  # how stale "last used" may be; also the idle clock's step
_table = UserSession.__table__


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def remember_lifetime() -> timedelta:
    return timedelta(days=_setting("REMEMBER_DAYS"))


def idle_lifetime() -> timedelta:
    return timedelta(hours=_setting("SESSION_IDLE_HOURS"))


def _setting(name: str) -> int:
    # Outside an app (a test signing a user in on its client), the setting's default.
    if has_app_context():
        return int(current_app.config[name])
    return int(getattr(BaseConfig, name).default)


def start(user: User, *, remember: bool = False) -> str:
    """A new signed-in session for `user` (added to the request's transaction): its secret,
    also kept on `user` for Flask-Login's `get_id`."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    address, browser = where_from()
    row = UserSession(
        user=user,
        key_hash=_hash(secret),
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (remember_lifetime() if remember else idle_lifetime()),
        address=address,
        browser=browser,
    )
    db.session.add(row)
    db.session.flush()
    user.session_secret, user.signed_in_session = secret, row
    return secret


def user_for(secret: str) -> User | None:
    """The active user signed in by `secret`, if that session is still open."""
    if not secret or len(secret) > 200:
        return None
    now = utcnow()
    row = db.session.scalar(
        sa.select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.key_hash == _hash(secret), UserSession.expires_at > now)
    )
    if row is None or not row.user.active:
        return None
    user = row.user
    user.session_secret, user.signed_in_session = secret, row
    if now - row.last_seen_at >= TOUCH_EVERY:
        _touch(row, now)
    return user


def rotate(user: User) -> str | None:
    """A new secret for the session `user` is signed in by (the remember cookie brought it
    back), so a copy of the old cookie no longer works. Written and committed at once, apart
    from the request (which may only read): the new cookie must never name an unsaved secret.
    Returns the new secret, or None if SQLite's write lock was taken (the old secret stays
    valid and is replaced the next time)."""
    row = user.signed_in_session
    if row is None:
        return None
    secret = secrets.token_urlsafe(32)
    if not update_apart(_table, _table.c.id == row.id, {"key_hash": _hash(secret)}):
        return None
    set_committed_value(row, "key_hash", _hash(secret))
    user.session_secret = secret
    return secret


def end_current(user: User) -> None:
    """Logging out: this browser's session ends."""
    if user.signed_in_session is not None:
        db.session.execute(sa.delete(_table).where(_table.c.id == user.signed_in_session.id))
    user.session_secret = user.signed_in_session = None


def end_all(user: User, *, keep_current: bool = False) -> int:
    """End `user`'s sessions (all, or all but the one this request is signed in by).
    Returns how many ended."""
    where = [_table.c.user_id == user.id]
    if keep_current and user.signed_in_session is not None:
        where.append(_table.c.id != user.signed_in_session.id)
    else:
        user.session_secret = user.signed_in_session = None
    return rows_touched(db.session.execute(sa.delete(_table).where(*where)))


def end_one(user: User, session_id: int) -> bool:
    """End one of `user`'s sessions by its id (from their list): False if it is not theirs."""
    done = db.session.execute(
        sa.delete(_table).where(_table.c.id == session_id, _table.c.user_id == user.id)
    )
    return bool(rows_touched(done))


def open_sessions(user: User) -> list[UserSession]:
    """`user`'s sessions still open, most recently used first."""
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.expires_at > utcnow())
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def forget_expired(now: datetime) -> int:
    """Housekeeping: sessions past their end. Returns how many went."""
    return rows_touched(db.session.execute(sa.delete(_table).where(_table.c.expires_at <= now)))


def remembered_from_cookie(user: User) -> None:
    """Flask-Login brought `user` back from the remember cookie: give the session a new secret
    and have the cookie rewritten with it, for what is left of its lifetime."""
    row = user.signed_in_session
    secret = rotate(user) if row is not None else None
    if row is None or secret is None:
        return
    session["_user_id"] = secret
    session["_remember"] = "set"
    left = row.expires_at - utcnow()
    session["_remember_seconds"] = max(int(left.total_seconds()), 0)


def _touch(row: UserSession, now: datetime) -> None:
    """Write "last used" (and, for a session not remembered, push back its idle end): best
    effort, never a wait for SQLite's write lock."""
    values: dict = {"last_seen_at": now}
    if not row.remember:
        values["expires_at"] = now + idle_lifetime()
    if update_apart(_table, _table.c.id == row.id, values):
        for name, value in values.items():
            set_committed_value(row, name, value)


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def where_from() -> tuple[str, str]:
    """The network address and the browser ("Firefox on Windows") of the request in hand, or
    two empty texts outside a request (the worker, a command)."""
    if not has_request_context():
        return "", ""
    return client_address()[:64], describe_browser(request.user_agent.string)


def describe_browser(user_agent: str) -> str:
    """ "Firefox on Windows" from a User-Agent header, for people to recognise their sessions."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "")
    if not browser and "Safari/" in agent:
        browser = "Safari"
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (agent[:60] if agent else "Unknown browser")
