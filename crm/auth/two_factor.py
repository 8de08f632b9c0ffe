"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238) and recovery codes.

A person enrols by scanning a secret into their app and typing a first code; from then on a
sign-in takes the password and a code (or one of ten single-use recovery codes). A code is
accepted within one 30-second step either side of now, and never twice: the step of the last
code accepted is kept. Recovery codes are kept as hashes only and shown once, when made.

`has_second_factor` is what the rest of the app asks; other kinds of second factor join it
there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth import operations, passkeys, security_log
from crm.auth.models import SecurityEventKind, User
from crm.auth.passkey_models import Passkey
from crm.auth.two_factor_models import RecoveryCode, TwoFactor
from crm.core.access import Role
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.extensions import db

K = SecurityEventKind
ISSUER = "WEST Advocacy CRM"
RECOVERY_CODES = 10
VALID_WINDOW = 1  # steps either side of now: a phone's clock a little off still works
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read from paper and typed


# --- asking --------------------------------------------------------------------------------


def has_second_factor(user: User) -> bool:
    """Whether signing in as `user` takes a second factor: an authenticator app, or a passkey
    (which also signs in on its own, from the login page)."""
    return active_app(user) is not None or passkeys.has_passkey(user)


def active_app(user: User) -> TwoFactor | None:
    return db.session.scalar(
        sa.select(TwoFactor).where(
            TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_not(None)
        )
    )


def enrolment(user: User) -> TwoFactor | None:
    """The enrolment under way (a secret not yet confirmed by a code), if any."""
    return db.session.scalar(
        sa.select(TwoFactor).where(TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_(None))
    )


def users_with_second_factor(user_ids: list[int]) -> set[int]:
    """Which of `user_ids` have a second factor (for a list of accounts)."""
    if not user_ids:
        return set()
    with_app = sa.select(TwoFactor.user_id).where(
        TwoFactor.user_id.in_(user_ids), TwoFactor.confirmed_at.is_not(None)
    )
    with_passkey = sa.select(Passkey.user_id).where(Passkey.user_id.in_(user_ids))
    return set(db.session.scalars(sa.union(with_app, with_passkey)))


def recovery_codes_left(user: User) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def required_for(user: User, required_roles: tuple[str, ...] | list[str]) -> bool:
    """Whether `user`'s role must sign in with a second factor (`CRM_REQUIRE_2FA_ROLES`)."""
    return Role(user.role).value in required_roles


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def secret_for_reading(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def password_stamp(user: User) -> str:
    """Changes when the password does (and not when someone merely asks for a reset link)."""
    return hashlib.sha256(f"crm.password:{user.password_hash}".encode()).hexdigest()[:16]


def trust_stamp(user: User) -> str | None:
    """What a "trusted browser" is bound to: the password and the app's secret, so a password
    change, a turning off or a reset revokes every trusted browser. None without a second
    factor."""
    app = active_app(user)
    if app is None:
        return None
    return hashlib.sha256(f"{user.password_hash}:{app.secret}".encode()).hexdigest()[:32]


# --- enrolling ------------------------------------------------------------------------------


def begin_enrolment(user: User) -> TwoFactor:
    """A new secret for `user`'s app, not yet active (a first right code confirms it)."""
    if active_app(user) is not None:
        raise OperationError("Two-factor sign-in is already on.")
    row = enrolment(user)
    if row is None:
        row = TwoFactor(user_id=user.id, secret=pyotp.random_base32())
        db.session.add(row)
    else:  # started again: a fresh secret, the earlier QR code no longer counts
        row.secret = pyotp.random_base32()
        row.created_at = utcnow()
        row.last_used_step = None
    db.session.flush()
    return row


def confirm_enrolment(user: User, code: str) -> list[str]:
    """The first code from the app turns two-factor sign-in on. Returns the recovery codes,
    to be shown once."""
    row = enrolment(user)
    if row is None:
        raise OperationError("Start setting up two-factor sign-in first.")
    if not _accept_totp(row, code):
        raise OperationError(
            "That code is not right. Check the time on your phone and type the newest code.",
            field="code",
        )
    row.confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    security_log.record(K.TWO_FACTOR_ON, user=user)
    audit.record(user, AuditAction.UPDATE, "user", user.id, summary="Two-factor sign-in turned on")
    db.session.flush()
    return codes


# --- signing in -----------------------------------------------------------------------------


def check_code(user: User, code: str) -> str | None:
    """Whether `code` is a right second factor for `user`: "app" for an authenticator code,
    "recovery" for a recovery code (now used up), None if neither. Logs a recovery code's use;
    a wrong code is the caller's to record (`wrong_code`)."""
    app = active_app(user)
    if app is None:
        return None
    cleaned = _clean(code)
    if _six_digits(cleaned):
        return "app" if _accept_totp(app, cleaned) else None
    if _use_recovery_code(user, cleaned):
        left = recovery_codes_left(user)
        security_log.record(K.RECOVERY_CODE_USED, user=user, detail=f"{left} left")
        return "recovery"
    return None


def sign_in_with_code(
    user: User,
    code: str,
    address: str,
    *,
    window_seconds: int,
    max_per_account: int,
    max_per_address: int,
) -> str | None:
    """The second step of a sign-in: `check_code`, inside the sign-in throttle (LoginThrottled
    past it); a wrong code counts as a failed sign-in and is logged."""
    operations.check_throttle(
        user.email,
        address,
        window_seconds=window_seconds,
        max_per_account=max_per_account,
        max_per_address=max_per_address,
    )
    how = check_code(user, code)
    if how is None:
        wrong_code(user, address)
    return how


def wrong_code(user: User, address: str) -> None:
    operations.record_failed_attempt(user.email, address)
    security_log.record(K.TWO_FACTOR_WRONG_CODE, user=user)


def trusted_browser_added(user: User) -> None:
    security_log.record(K.TRUSTED_BROWSER_ADDED, user=user)


# --- changing -------------------------------------------------------------------------------


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), for a right code from the app."""
    app = active_app(user)
    if app is None:
        raise OperationError("Two-factor sign-in is not on.")
    if not _accept_totp(app, _clean(code)):
        raise OperationError("That code is not right: type the newest one.", field="code")
    codes = _new_recovery_codes(user)
    security_log.record(K.RECOVERY_CODES_REGENERATED, user=user)
    audit.record(user, AuditAction.UPDATE, "user", user.id, summary="New recovery codes made")
    db.session.flush()
    return codes


def turn_off(
    user: User, password: str, code: str, *, required_roles: tuple[str, ...] | list[str]
) -> None:
    """`user` turns two-factor sign-in off, with their password and a code (from the app, or
    a recovery code). Refused when their role requires a second factor and a passkey does not
    stand in for the app."""
    if required_for(user, required_roles) and not passkeys.has_passkey(user):
        raise OperationError(
            f"Two-factor sign-in is required for the role {Role(user.role).label}: it stays on."
        )
    if active_app(user) is None:
        raise OperationError("Two-factor sign-in is not on.")
    if not user.check_password(password or ""):
        raise OperationError("Your password is not right.", field="password")
    if check_code(user, code or "") is None:
        raise OperationError("That code is not right.", field="code")
    _remove(user)
    security_log.record(K.TWO_FACTOR_OFF, user=user)
    audit.record(user, AuditAction.UPDATE, "user", user.id, summary="Two-factor sign-in turned off")
    db.session.flush()


def reset(actor: User | None, user: User) -> None:
    """An admin (or, with no actor, `flask crm reset-two-factor` for a sole admin locked out)
    removes `user`'s second factor (a lost phone and no recovery codes): they sign in with the
    password and, if their role requires it, set up a new one."""
    if actor is not None and actor.id == user.id:
        raise OperationError("To change your own two-factor sign-in, use your account's page.")
    if active_app(user) is None and enrolment(user) is None:
        raise OperationError(f"{user.name} has no two-factor sign-in to reset.")
    _remove(user)
    by = f"by {actor.name}" if actor is not None else "from the command line"
    security_log.record(K.TWO_FACTOR_RESET, user=user, detail=by)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "user",
        user.id,
        summary=f"Two-factor sign-in of {user.email} reset",
    )
    db.session.flush()


# --- inside ---------------------------------------------------------------------------------


def _clean(code: str) -> str:
    """A code as typed, without spaces and dashes, lower case; an absurd length as nothing."""
    text = (code or "")[:64]
    return "".join(ch for ch in text.lower() if ch not in " -\t")


def _six_digits(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def _accept_totp(row: TwoFactor, code: str) -> bool:
    """Whether `code` is the app's code for a step within the window that is later than the
    last one used; if so, that step is taken, atomically (two requests with one code: one wins)."""
    code = _clean(code)
    if not _six_digits(code):
        return False
    totp = pyotp.TOTP(row.secret)
    now_step = totp.timecode(utcnow())
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if not hmac.compare_digest(totp.generate_otp(step), code):
            continue
        if row.last_used_step is not None and step <= row.last_used_step:
            return False  # replayed
        table = TwoFactor.__table__
        taken = db.session.execute(
            sa.update(table)
            .where(
                table.c.id == row.id,
                sa.or_(table.c.last_used_step.is_(None), table.c.last_used_step < step),
            )
            .values(last_used_step=step)
        )
        if not rows_touched(taken):
            return False
        db.session.refresh(row, ["last_used_step"])
        return True
    return False


def _hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    """Ten new codes for `user`, replacing any earlier ones; returns them as people read them
    (two groups of five)."""
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    table = RecoveryCode.__table__
    used = db.session.execute(
        sa.update(table)
        .where(
            table.c.user_id == user.id,
            table.c.code_hash == _hash(code),
            table.c.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(rows_touched(used))


def _remove(user: User) -> None:
    db.session.execute(sa.delete(TwoFactor).where(TwoFactor.user_id == user.id))
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
