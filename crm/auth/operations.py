"""Accounts: creating, inviting, authenticating (with throttling) and changing passwords."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth import security_log, sessions
from crm.auth.invitations import (
    queue_forgotten_password,
    queue_invitation,
    queue_password_reset,
)
from crm.auth.models import LoginAttempt, SecurityEventKind, User, new_session_token
from crm.core import flood
from crm.core.access import Role
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.jobs import enqueue
from crm.core.validation import normalize_email
from crm.extensions import db

K = SecurityEventKind  # short, for the log's records below


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
        check_password_strength(password, min_password_length, email=email, name=name)
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
        was_active, had_role = user.active, user.role
        user.name = name.strip()
        user.role = role
        user.active = active
        user.contact_id = contact_id
        user.organization_id = organization_id
        if (was_active and not active) or role != had_role:
            sessions.end_all(user)  # signed out everywhere: they sign in again as they are now
            why = "deactivated" if not active else f"role changed to {role.label}"
            security_log.record(K.SESSIONS_ENDED, user=user, detail=f"{why} by {actor.name}")
    return user


ZXCVBN_MAX_LENGTH = 72  # the library refuses longer; the start of a long password is enough
STRONG_ENOUGH = 3  # zxcvbn's score: 3 is "safely unguessable" (about 10^8 guesses or more)


def check_password_strength(
    password: str, min_length: int, *, email: str = "", name: str = ""
) -> None:
    """Refuse a short password, one that is the person's own email or name, and one that is
    common or guessable: zxcvbn ships the passwords most seen in breaches, common words, names
    and keyboard patterns, and estimates how many guesses a password would take."""
    from zxcvbn import zxcvbn

    if len(password) < min_length:
        raise OperationError(
            f"Choose a password of at least {min_length} characters.", field="password"
        )
    if _is_about_the_person(password, email, name):
        raise OperationError(
            "Your password must not contain your email address or your name.", field="password"
        )
    inputs = [email, email.partition("@")[0], *name.split()]
    found = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[i for i in inputs if i])
    if found["score"] < STRONG_ENOUGH:
        raise OperationError(
            "That password is too easy to guess; a few unrelated words make a strong one.",
            field="password",
        )


def _is_about_the_person(password: str, email: str, name: str) -> bool:
    letters = "".join(ch for ch in password.lower() if ch.isalnum())
    local = "".join(ch for ch in email.partition("@")[0].lower() if ch.isalnum())
    parts = ["".join(ch for ch in p.lower() if ch.isalnum()) for p in name.split()]
    return any(len(part) >= 4 and part in letters for part in [local, *parts])


def change_password(
    user: User, current: str | None, new: str, *, min_length: int, actor: User | None = None
) -> None:
    if current is not None and not user.check_password(current):
        raise OperationError("Your current password is not right.", field="current_password")
    if current is not None and current == new:
        raise OperationError("The new password is the same as the current one.", field="password")
    check_password_strength(new, min_length, email=user.email, name=user.name)
    user.set_password(new)
    sessions.end_all(user)  # every browser signs in again with the new one
    by = f" by {actor.name}" if actor is not None and actor.id != user.id else ""
    security_log.record(K.PASSWORD_CHANGED, user=user, detail=f"Every session ended{by}")
    audit.record(actor or user, AuditAction.PASSWORD, "user", user.id, summary="Password changed")
    db.session.flush()


def sign_out(user: User) -> None:
    """Logging out: this browser's session ends on the server."""
    sessions.end_current(user)
    security_log.record(K.SIGNED_OUT, user=user)


def sign_out_elsewhere(user: User) -> int:
    """ "Sign out everywhere else": every session of `user` but this browser's ends."""
    ended = sessions.end_all(user, keep_current=True)
    if ended:
        security_log.record(K.SESSIONS_ENDED, user=user, detail=f"{ended} other session(s)")
    return ended


def sign_out_one(user: User, session_id: int) -> None:
    """`user` ends one of their other sessions, from their list."""
    current = user.signed_in_session
    if current is not None and current.id == session_id:
        raise OperationError("That is this browser: use Log out.")
    if not sessions.end_one(user, session_id):
        raise OperationError("That session has already ended.")
    security_log.record(K.SESSIONS_ENDED, user=user, detail="One other session")


def end_sessions(actor: User, user: User) -> int:
    """An admin signs `user` out everywhere (a lost laptop, say)."""
    if user.id == actor.id:
        raise OperationError("To sign yourself out elsewhere, use your account's sessions page.")
    ended = sessions.end_all(user)
    security_log.record(K.SESSIONS_ENDED, user=user, detail=f"{ended} session(s), by {actor.name}")
    summary = f"Ended {ended} session(s) of {user.email}"
    audit.record(actor, AuditAction.LOGIN, "user", user.id, summary=summary)
    return ended


FORGOT_PER_NETWORK_HOUR = 10  # asks from one network address an hour, whatever the addresses
FORGOT_JOB = "auth.forgotten_password"


def ask_for_password_link(email: str, address: str) -> None:
    """ "Forgot your password?": queue the work, and answer the same whether or not `email`
    has an account (the job finds out, so the request takes as long either way). Refused
    with a clear message past a few asks an hour from one network address."""
    flood.check_and_record("forgot-password", address, FORGOT_PER_NETWORK_HOUR)
    enqueue(FORGOT_JOB, {"email": (email or "").strip().lower()[:254], "address": address[:64]})


def send_forgotten_password_link(email: str, *, per_address_hour: int, address: str = "") -> bool:
    """The job behind "Forgot your password?": an active account with that address gets a link
    (earlier links stop working); an invited one without a password, its invitation again.
    At most `per_address_hour` emails an hour to one address. True if an email was queued."""
    user = find_user_by_email(email) if email else None
    if user is None or not user.active:
        return False
    key = "e:" + hashlib.sha256(user.email.encode()).hexdigest()[:40]
    try:
        flood.check_and_record("forgot-password-email", key, per_address_hour)
    except OperationError:
        return False  # asked too often: the person already has a link in their mail
    user.session_token = new_session_token()  # earlier links die; nobody is signed out
    if user.has_password:
        queue_forgotten_password(user)
    else:
        queue_invitation(user, None)
    security_log.record(K.PASSWORD_LINK_ASKED, user=user, address=address)
    return True


class LoginThrottled(OperationError):
    pass


def _recent_failures(since, *where) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(*where, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
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

    Failures are counted per account *from this network address*, and per address: someone
    guessing at an account slows only themselves, and its owner still signs in from their own
    address (an admin's reset link lifts the limit too). A check costs the same whether or not
    the address has an account (a password hash is checked either way), so timing tells
    nothing. Every attempt is recorded; the caller commits whatever the outcome. Old attempts
    are deleted by the hourly housekeeping job (`forget_old_login_attempts`).

    A right password is not yet a sign-in: the caller finishes it with `signed_in`, at once or
    after the second factor (`crm.auth.two_factor`).
    """
    email = (email or "").strip().lower()[:254]
    address = address[:64]
    now = utcnow()
    check_throttle(
        email,
        address,
        window_seconds=window_seconds,
        max_per_account=max_per_account,
        max_per_address=max_per_address,
    )
    user = find_user_by_email(email)
    if user is None or user.password_hash is None:
        _check_dummy(password)  # as long as a real check: an unknown address answers no sooner
        ok = False
    else:
        ok = user.check_password(password) and user.active
    db.session.add(LoginAttempt(email=email, address=address, succeeded=ok, at=now))
    if not ok or user is None:  # (no user is never ok)
        security_log.record(K.SIGN_IN_FAILED, user=user, email=email)
        return None
    return user


def check_throttle(
    email: str, address: str, *, window_seconds: int, max_per_account: int, max_per_address: int
) -> None:
    """LoginThrottled (and a refusal in the security log) when too many sign-ins failed lately
    for `email` from `address`, or from `address` at all; wrong second-factor codes count too."""
    since = utcnow() - timedelta(seconds=window_seconds)
    minutes = max(1, window_seconds // 60)
    if (
        _recent_failures(since, LoginAttempt.email == email, LoginAttempt.address == address)
        >= max_per_account
    ):
        _refused(email, "too many failures for this account from this address")
        raise LoginThrottled(
            f"Too many failed logins for this account from your network address. Wait {minutes} "
            "minutes and try again, or ask an administrator to send you a password reset link."
        )
    if _recent_failures(since, LoginAttempt.address == address) >= max_per_address:
        _refused(email, "too many failures from this address")
        raise LoginThrottled(
            "Too many failed logins from your network address. "
            f"Wait {minutes} minutes and try again."
        )


def record_failed_attempt(email: str, address: str) -> None:
    """A failed sign-in step other than the password (a wrong second-factor code): it counts
    towards the throttle like a wrong password."""
    db.session.add(LoginAttempt(email=email[:254], address=address[:64], succeeded=False))


def signed_in(user: User, *, detail: str = "") -> None:
    """A sign-in is complete (the password, and the second factor if any): logged, audited."""
    security_log.record(K.SIGNED_IN, user=user, detail=detail)
    user.last_login_at = utcnow()
    audit.record(user, AuditAction.LOGIN, "user", user.id, summary="Logged in")


def _refused(email: str, why: str) -> None:
    """A refused sign-in, logged against the account the address names (if any)."""
    security_log.record(K.SIGN_IN_REFUSED, user=find_user_by_email(email), email=email, detail=why)


_DUMMY_HASHES: dict[str, str] = {}


def _check_dummy(password: str) -> None:
    """Check `password` against a hash of nothing, made with the method real hashes use."""
    from werkzeug.security import check_password_hash, generate_password_hash

    from crm.auth.models import password_hash_method

    method = password_hash_method()
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    check_password_hash(_DUMMY_HASHES[method], password)


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
    sessions.end_all(user)
    security_log.record(
        K.PASSWORD_LINK_SENT, user=user, detail=f"by {actor.name}; every session ended"
    )
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
