"""Accounts: creating, inviting, authenticating (with throttling) and changing passwords."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.invitations import queue_invitation, queue_password_reset
from crm.auth.models import LoginAttempt, User, new_session_token
from crm.core.access import Role
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.validation import normalize_email
from crm.extensions import db


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None = None,
    contact_id: int | None = None,
    organization_id: int | None = None,
    min_password_length: int = 10,
) -> User:
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise OperationError(f"There is already an account for {email}.", field="email")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        contact_id=contact_id,
        organization_id=organization_id,
    )
    if password is not None:
        check_password_strength(password, min_password_length)
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "user", user.id, summary=f"Account {email} ({role})")
    return user


def update_user(
    actor: User,
    user: User,
    *,
    name: str,
    role: Role,
    active: bool,
    contact_id: int | None,
    organization_id: int | None,
) -> User:
    if user.id == actor.id and (role != user.role or not active):
        raise OperationError("You cannot change your own role or deactivate yourself.")
    with audit.updating(actor, user, "user"):
        was_active = user.active
        user.name = name.strip()
        user.role = role
        user.active = active
        user.contact_id = contact_id
        user.organization_id = organization_id
        if was_active and not active:
            user.session_token = new_session_token()  # sign out everywhere
    return user


COMMON_PASSWORD_WORDS = ("password", "123456", "qwerty", "letmein", "welcome", "admin", "west")


def check_password_strength(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise OperationError(
            f"Choose a password of at least {min_length} characters.", field="password"
        )
    lowered = password.lower()
    if (
        password.isdigit()
        or len(set(password)) < 5
        or any(word in lowered for word in COMMON_PASSWORD_WORDS)
    ):
        raise OperationError(
            "That password is too easy to guess; a few unrelated words make a strong one.",
            field="password",
        )


def change_password(
    user: User, current: str | None, new: str, *, min_length: int, actor: User | None = None
) -> None:
    if current is not None and not user.check_password(current):
        raise OperationError("Your current password is not right.", field="current_password")
    if current is not None and current == new:
        raise OperationError("The new password is the same as the current one.", field="password")
    check_password_strength(new, min_length)
    user.set_password(new)
    audit.record(actor or user, AuditAction.PASSWORD, "user", user.id, summary="Password changed")
    db.session.flush()


class LoginThrottled(OperationError):
    pass


def _recent_failures(column, value: str, since) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    ).scalar_one()


def authenticate(
    email: str,
    password: str,
    address: str,
    *,
    window_seconds: int,
    max_per_account: int,
    max_per_address: int,
) -> User | None:
    """The user if the credentials are right; None if not; LoginThrottled if too many failures.

    Every attempt is recorded. The attempt row must survive a failed login, so the caller commits
    whatever the outcome. Old attempts are deleted by the hourly housekeeping job
    (`forget_old_login_attempts`), not by a login.
    """
    email = (email or "").strip().lower()[:254]
    now = utcnow()
    since = now - timedelta(seconds=window_seconds)
    minutes = max(1, window_seconds // 60)
    if _recent_failures(LoginAttempt.email, email, since) >= max_per_account:
        raise LoginThrottled(
            f"Too many failed logins for this account. Wait {minutes} minutes and try again, "
            "or ask an administrator to send you a password reset link."
        )
    if _recent_failures(LoginAttempt.address, address, since) >= max_per_address:
        raise LoginThrottled(
            "Too many failed logins from your network address. "
            f"Wait {minutes} minutes and try again."
        )
    user = find_user_by_email(email)
    ok = user is not None and user.active and user.check_password(password)
    db.session.add(LoginAttempt(email=email, address=address[:64], succeeded=ok, at=now))
    if not ok or user is None:  # (no user is never ok)
        return None
    user.last_login_at = now
    audit.record(user, AuditAction.LOGIN, "user", user.id, summary="Logged in")
    return user


def invite(actor: User | None, user: User) -> None:
    """Invite `user` to choose a password: links from earlier invitations stop working, and the
    invitation email is queued in this transaction (the worker sends it once it commits)."""
    if user.has_password:
        raise OperationError(f"{user.email} has already set a password.")
    user.session_token = new_session_token()
    user.invited_at = utcnow()
    audit.record(
        actor, AuditAction.INVITE, "user", user.id, summary=f"Invitation sent to {user.email}"
    )
    queue_invitation(user, actor)


def send_password_reset(actor: User, user: User) -> None:
    """A link to choose a new password: earlier links die, the user is signed out everywhere,
    and the email is queued in this transaction."""
    if not user.active:
        raise OperationError(f"{user.email} is deactivated; activate the account first.")
    user.session_token = new_session_token()
    audit.record(actor, AuditAction.PASSWORD, "user", user.id, summary="Password reset link sent")
    queue_password_reset(user, actor)


def set_password_from_link(user: User, password: str, *, min_length: int) -> None:
    """An invitation or reset link was used: set the password and lift any login lockout."""
    if user.check_password(password):
        raise OperationError("Choose a password different from your old one.", field="password")
    change_password(user, None, password, min_length=min_length, actor=user)
    db.session.execute(
        sa.delete(LoginAttempt).where(
            LoginAttempt.email == user.email, LoginAttempt.succeeded.is_(False)
        )
    )


def forget_old_login_attempts(now, *, keep_days: int, window_seconds: int) -> int:
    """Delete login attempts older than `keep_days` (never one the throttle still counts): they
    name a person and a network address. Returns how many went."""
    oldest = now - max(timedelta(days=keep_days), timedelta(seconds=window_seconds))
    result = db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < oldest))
    return rows_touched(result)


STAFF_ROLES = (Role.ADMIN, Role.LEAD, Role.VOLUNTEER)


def staff_choices() -> list[tuple[str, str]]:
    """Active staff, as (id, name) for owner pickers."""
    users = db.session.execute(
        sa.select(User.id, User.name)
        .where(User.active, User.role.in_(STAFF_ROLES))
        .order_by(User.name)
    )
    return [(str(uid), name) for uid, name in users]
