"""Passkeys (WebAuthn): adding one, signing in with one, renaming and removing them. The
browser's answers are checked by py_webauthn (decision 8).

Whose passkeys these are (the relying party) is the host of `CRM_BASE_URL`, and the origin the
browser must report is that address: never the request's Host header, which a visitor chooses.
Browsers refuse an IP address as a relying party, so a base URL on a loopback address
(`make run`'s http://127.0.0.1:5000) gives `localhost`: passkeys work at http://localhost:5000.

Each ceremony's challenge is made here and kept by the caller (the views keep it in the
session, `ChallengeState`); the checks take it back as an argument. So `verify_assertion`,
which checks a passkey's answer for a given user and returns that user, serves the passwordless
sign-in and a second-factor step alike, whatever page asked.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from flask import current_app
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth import security_log
from crm.auth.models import LoginAttempt, SecurityEventKind, User
from crm.auth.operations import LoginThrottled
from crm.auth.passkey_models import NAME_LENGTH, Passkey
from crm.core import shared_store
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.http import link_base
from crm.extensions import db

K = SecurityEventKind
CHALLENGE_LIFETIME = timedelta(minutes=5)
CREDENTIAL_ID_LENGTH = 1400  # base64url of WebAuthn's 1023-byte maximum, and some
MAX_PER_USER = 20  # enough for every device a person has; a bound on each sign-in's lookup
_CEREMONY_ERRORS = (WebAuthnException, InvalidSignature, ValueError, TypeError, KeyError)
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class PasskeyRefused(OperationError):
    """A passkey's answer that does not hold; `user` is the account it named, when known
    (for the security log)."""

    def __init__(self, message: str, user: User | None = None):
        super().__init__(message)
        self.user = user


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a host name: "crm.example.org", "localhost"
    name: str  # what the person's device shows
    origin: str  # the address the browser must say the ceremony happened at


def relying_party() -> RelyingParty | None:
    """The relying party, from the configured base URL; None when passkeys cannot work there
    (a base URL on an IP address other than loopback)."""
    base = urlsplit(link_base())
    host = base.hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if not address.is_loopback:
            return None
        host = "localhost"
    port = f":{base.port}" if base.port else ""
    return RelyingParty(
        id=host,
        name=str(current_app.config["PASSKEY_RP_NAME"]),
        origin=f"{base.scheme}://{host}{port}",
    )


# --------------------------------------------------------------------------- challenges


@dataclass(frozen=True)
class ChallengeState:
    """A ceremony under way, as the caller keeps it (the views: in the signed session cookie)
    until the browser answers. Used once, within `CHALLENGE_LIFETIME`."""

    purpose: str  # "add" or "sign-in"
    challenge: str  # base64url
    expires: float  # time.time()
    user_id: int | None = None
    user_handle: str = ""  # "add": the handle the new passkey is made for

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "challenge": self.challenge,
            "expires": self.expires,
            "user_id": self.user_id,
            "user_handle": self.user_handle,
        }

    @classmethod
    def started(
        cls, purpose: str, challenge: bytes, user_id: int | None = None, user_handle: str = ""
    ) -> ChallengeState:
        expires = time.time() + CHALLENGE_LIFETIME.total_seconds()
        return cls(purpose, bytes_to_base64url(challenge), expires, user_id, user_handle)


def challenge_from(kept: Any, purpose: str, user: User | None = None) -> ChallengeState:
    """The ceremony the caller kept, checked: for this purpose (and user), and not expired."""
    try:
        state = ChallengeState(
            purpose=str(kept["purpose"]),
            challenge=str(kept["challenge"]),
            expires=float(kept["expires"]),
            user_id=kept.get("user_id"),
            user_handle=str(kept.get("user_handle") or ""),
        )
    except (TypeError, KeyError, ValueError, AttributeError):
        raise PasskeyRefused("Start again: this page did not ask for a passkey.") from None
    if state.purpose != purpose or (user is not None and state.user_id != user.id):
        raise PasskeyRefused("Start again: this page did not ask for a passkey.")
    if state.expires < time.time():
        raise PasskeyRefused("That took too long. Try again.")
    return state


def _spend(challenge: str) -> None:
    """A challenge answered once is refused ever after, even from a copy of the session cookie
    that still holds it."""
    key = "passkey-challenge:" + hashlib.sha256(challenge.encode()).hexdigest()
    if shared_store.get(key) is not None:
        raise PasskeyRefused("That answer was already used. Try again.")
    shared_store.put(key, True, expires_in=CHALLENGE_LIFETIME + timedelta(minutes=1))


# --------------------------------------------------------------------------- reading


def passkeys_of(user: User) -> list[Passkey]:
    return list(
        db.session.scalars(
            sa.select(Passkey)
            .where(Passkey.user_id == user.id)
            .order_by(Passkey.created_at, Passkey.id)
            .limit(MAX_PER_USER)
        )
    )


def count_for(user: User) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
    ).scalar_one()


def has_passkey(user: User) -> bool:
    """For the two-factor step: a passkey can be this user's second factor."""
    return (
        db.session.scalar(sa.select(Passkey.id).where(Passkey.user_id == user.id).limit(1))
        is not None
    )


def find_own(user: User, passkey_id: int) -> Passkey | None:
    """`user`'s passkey by its id, or None (someone else's is as good as missing)."""
    return db.session.scalar(
        sa.select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(p.credential_id),
            transports=[AuthenticatorTransport(t) for t in p.transports.split(",") if t],
        )
        for p in passkeys
    ]


# --------------------------------------------------------------------------- adding


def registration_options(
    user: User, rp: RelyingParty, password: str | None
) -> tuple[str, ChallengeState]:
    """What the browser needs to make a passkey for `user` (JSON), and the ceremony to keep.
    The passkey must be discoverable (it signs in without an email typed) and verify the
    person (a PIN, a fingerprint), so that it is both factors at once. The password is asked
    first: a passkey outlives a password change, so a borrowed or stolen signed-in browser
    must not be enough to add one."""
    if not password or not user.check_password(password):
        raise OperationError("Your password is not right.", field="password")
    existing = passkeys_of(user)
    if len(existing) >= MAX_PER_USER:
        raise OperationError(f"You have {MAX_PER_USER} passkeys: remove one to add another.")
    handle = existing[0].user_handle if existing else bytes_to_base64url(secrets.token_bytes(32))
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=base64url_to_bytes(handle),
        user_name=user.email,
        user_display_name=user.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    state = ChallengeState.started("add", options.challenge, user.id, handle)
    return options_to_json(options), state


def clean_name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise OperationError("Give the passkey a name, such as the device it is on.", field="name")
    if len(text) > NAME_LENGTH:
        raise OperationError(f"A name of {NAME_LENGTH} characters at most.", field="name")
    return text


def add_passkey(
    user: User, credential: Any, *, state: ChallengeState, name: Any, rp: RelyingParty
) -> Passkey:
    """Check the browser's answer to `registration_options` and keep the new passkey."""
    label = clean_name(name)
    if not isinstance(credential, dict):
        raise PasskeyRefused("The browser's answer was not a passkey.", user)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(state.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except _CEREMONY_ERRORS as exc:
        raise PasskeyRefused(f"The passkey could not be checked: {_reason(exc)}", user) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if len(credential_id) > CREDENTIAL_ID_LENGTH:
        raise PasskeyRefused("The passkey's id is longer than a passkey's can be.", user)
    if db.session.scalar(sa.select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise PasskeyRefused("This passkey is already registered.", user)
    _spend(state.challenge)
    transports = (credential.get("response") or {}).get("transports") or []
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=state.user_handle,
        transports=",".join(t for t in transports if isinstance(t, str) and t in _TRANSPORTS),
        name=label,
    )
    db.session.add(passkey)
    db.session.flush()
    security_log.record(K.PASSKEY_ADDED, user=user, detail=label)
    audit.record(user, AuditAction.UPDATE, "user", user.id, summary=f"Passkey added: {label}")
    return passkey


# --------------------------------------------------------------------------- signing in


def authentication_options(
    rp: RelyingParty, user: User | None = None
) -> tuple[str, ChallengeState]:
    """What the browser needs to sign in with a passkey (JSON), and the ceremony to keep.
    Without a user, any of this site's passkeys on the device may answer (the browser offers
    them: no email typed); with one, only that user's (a second factor)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=_descriptors(passkeys_of(user)) if user is not None else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    state = ChallengeState.started("sign-in", options.challenge, user.id if user else None)
    return options_to_json(options), state


def verify_assertion(
    credential: Any, *, state: ChallengeState, rp: RelyingParty, user: User | None = None
) -> User:
    """The active user whose passkey signed the challenge in `state` with the person verified
    (a PIN, a fingerprint); with `user`, it must be theirs. Raises PasskeyRefused. Records
    nothing in the security log: the caller says what the sign-in was for."""
    return verify_passkey(credential, state=state, rp=rp, user=user).user


def verify_passkey(
    credential: Any, *, state: ChallengeState, rp: RelyingParty, user: User | None = None
) -> Passkey:
    """`verify_assertion`, giving the passkey that answered (its use is noted on it)."""
    if not isinstance(credential, dict):
        raise PasskeyRefused("The browser's answer was not a passkey.")
    passkey = _passkey_answering(credential)
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyRefused("This passkey is not registered here.", user)
    owner = passkey.user
    if not owner.active:
        raise PasskeyRefused("This passkey does not sign in to an active account.", owner)
    if not _same_handle((credential.get("response") or {}).get("userHandle"), passkey):
        raise PasskeyRefused("This passkey answered for another account.", owner)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(state.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except _CEREMONY_ERRORS as exc:
        raise PasskeyRefused(f"The passkey could not be checked: {_reason(exc)}", owner) from None
    _spend(state.challenge)
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return passkey


def _same_handle(handle: Any, passkey: Passkey) -> bool:
    """The user handle an answer carries (none, for a passkey used as a second factor) is the
    one the passkey was made for."""
    if not handle:
        return True
    try:
        return base64url_to_bytes(str(handle)) == base64url_to_bytes(passkey.user_handle)
    except ValueError:
        return False


def _passkey_answering(credential: dict) -> Passkey | None:
    raw = credential.get("rawId") or credential.get("id")
    if not isinstance(raw, str) or not raw or len(raw) > CREDENTIAL_ID_LENGTH:
        return None
    try:
        credential_id = bytes_to_base64url(base64url_to_bytes(raw))  # one spelling of it
    except ValueError:
        return None
    return db.session.scalar(sa.select(Passkey).where(Passkey.credential_id == credential_id))


def sign_in(
    credential: Any,
    *,
    state: ChallengeState,
    rp: RelyingParty,
    address: str,
    window_seconds: int,
    max_per_address: int,
) -> User:
    """Signing in with a passkey instead of a password (it is both factors: the device and the
    person's PIN or fingerprint). Failures count towards the per-address limit of password
    sign-ins, and are recorded; the caller commits whatever the outcome."""
    address = address[:64]
    now = utcnow()
    failures = db.session.execute(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.address == address,
            LoginAttempt.at >= now - timedelta(seconds=window_seconds),
            LoginAttempt.succeeded.is_(False),
        )
    ).scalar_one()
    if failures >= max_per_address:
        security_log.record(
            K.SIGN_IN_REFUSED, detail="passkey: too many failures from this address"
        )
        minutes = max(1, window_seconds // 60)
        raise LoginThrottled(
            "Too many failed logins from your network address. "
            f"Wait {minutes} minutes and try again."
        )
    try:
        passkey = verify_passkey(credential, state=state, rp=rp)
    except PasskeyRefused as refused:
        email = refused.user.email if refused.user is not None else ""
        db.session.add(LoginAttempt(email=email, address=address, succeeded=False, at=now))
        security_log.record(
            K.PASSKEY_SIGN_IN_FAILED, user=refused.user, email=email, detail=refused.message
        )
        raise
    user = passkey.user
    db.session.add(LoginAttempt(email=user.email, address=address, succeeded=True, at=now))
    security_log.record(K.SIGNED_IN_WITH_PASSKEY, user=user, detail=passkey.name)
    user.last_login_at = now
    audit.record(user, AuditAction.LOGIN, "user", user.id, summary="Logged in with a passkey")
    return user


def _reason(exc: Exception) -> str:
    """py_webauthn's reason, for the person and the security log (it names no secret)."""
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


# --------------------------------------------------------------------------- managing


def rename_passkey(user: User, passkey: Passkey, name: Any) -> None:
    if passkey.user_id != user.id:
        raise OperationError("That passkey is not yours.")
    label = clean_name(name)
    old, passkey.name = passkey.name, label
    audit.record(
        user, AuditAction.UPDATE, "user", user.id, summary=f"Passkey renamed: {old} → {label}"
    )


def remove_passkey(user: User, passkey: Passkey, password: str | None) -> None:
    """`user` removes one of their passkeys, confirming with their password (a borrowed,
    signed-in browser is not enough to take away how its owner signs in)."""
    if passkey.user_id != user.id:
        raise OperationError("That passkey is not yours.")
    if not password or not user.check_password(password):
        raise OperationError("Your password is not right.", field="password")
    db.session.delete(passkey)
    db.session.flush()
    security_log.record(K.PASSKEY_REMOVED, user=user, detail=passkey.name)
    audit.record(
        user, AuditAction.UPDATE, "user", user.id, summary=f"Passkey removed: {passkey.name}"
    )


def remove_all(actor: User, user: User) -> int:
    """An admin removes every passkey of `user` (a lost phone, say). Returns how many went."""
    removed = rows_touched(db.session.execute(sa.delete(Passkey).where(Passkey.user_id == user.id)))
    if removed:
        detail = f"{removed} passkey(s), by {actor.name}"
        security_log.record(K.PASSKEY_REMOVED, user=user, detail=detail)
        audit.record(
            actor,
            AuditAction.UPDATE,
            "user",
            user.id,
            summary=f"Removed {removed} passkey(s) of {user.email}",
        )
    return removed
