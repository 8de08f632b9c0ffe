"""User accounts, roles and login attempts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from crm.core.access import Role
from crm.core.db import enum_type, utcnow
from crm.extensions import Model

if TYPE_CHECKING:
    from crm.contacts.models import Contact
    from crm.organizations.models import Organization


def password_hash_method() -> str:
    """werkzeug's default (scrypt) unless the configuration names another: only the test
    configuration does, as scrypt's ~0.2 s a call would be most of the suite's time. Stored
    hashes name their method, so every one of them still checks."""
    from flask import current_app, has_app_context

    return current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role, 20))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Changes with the password (and each invitation or reset link): earlier links stop working.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), default=new_session_token, unique=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="SET NULL", use_alter=True)
    )
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    invited_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    contact: Mapped[Contact | None] = relationship(foreign_keys=[contact_id])
    organization: Mapped[Organization | None] = relationship(foreign_keys=[organization_id])

    # The sign-in this object was loaded for (crm.auth.sessions), not columns.
    if TYPE_CHECKING:
        session_secret: str | None
        signed_in_session: UserSession | None
    session_secret = None
    signed_in_session = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the secret of the session this object was
        signed in or loaded by (`crm.auth.sessions.start`, `user_for`)."""
        if self.session_secret is None:
            raise RuntimeError("Not signed in: start a session (crm.auth.sessions.start) first.")
        return self.session_secret

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())
        self.password_changed_at = utcnow()
        self.session_token = new_session_token()

    def check_password(self, password: str) -> bool:
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LoginAttempt(Model):
    """Failed and successful logins, kept to throttle guessing per account and per address.
    They name an address and a network address, so they are pruned after
    `LOGIN_ATTEMPT_KEEP_DAYS` by the hourly housekeeping job
    (`crm.auth.operations.forget_old_login_attempts`)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str] = mapped_column(sa.String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_login_attempt_email_at", "email", "at"),
        sa.Index("ix_login_attempt_address_at", "address", "at"),
        sa.Index("ix_login_attempt_at", "at"),
    )


class UserSession(Model):
    """One signed-in browser. The cookie holds a secret; only its hash is stored, so ending the
    row (logout, a password change, a role taken away) refuses every copy of the cookie."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    browser: Mapped[str] = mapped_column(sa.String(120), default="")

    user: Mapped[User] = relationship()

    __table_args__ = (sa.Index("ix_user_session_expires_at", "expires_at"),)


class SecurityEventKind(StrEnum):
    SIGNED_IN = "signed_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_IN_REFUSED = "sign_in_refused"  # too many failures: throttled
    SIGNED_OUT = "signed_out"
    SESSIONS_ENDED = "sessions_ended"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_LINK_SENT = "password_link_sent"  # by an admin
    PASSWORD_LINK_ASKED = "password_link_asked"  # "Forgot your password?"
    TWO_FACTOR_ON = "two_factor_on"
    TWO_FACTOR_OFF = "two_factor_off"
    TWO_FACTOR_RESET = "two_factor_reset"  # by an admin
    TWO_FACTOR_WRONG_CODE = "two_factor_wrong_code"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_new"
    TRUSTED_BROWSER_ADDED = "trusted_browser_added"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    SIGNED_IN_WITH_PASSKEY = "signed_in_with_passkey"
    PASSKEY_SIGN_IN_FAILED = "passkey_sign_in_failed"
    API_TOKEN_CREATED = "api_token_created"
    API_TOKEN_REVOKED = "api_token_revoked"

    @property
    def label(self) -> str:
        return SECURITY_EVENT_LABELS[self]


SECURITY_EVENT_LABELS = {
    SecurityEventKind.SIGNED_IN: "Signed in",
    SecurityEventKind.SIGN_IN_FAILED: "Wrong password",
    SecurityEventKind.SIGN_IN_REFUSED: "Sign-in refused (too many failures)",
    SecurityEventKind.SIGNED_OUT: "Signed out",
    SecurityEventKind.SESSIONS_ENDED: "Sessions ended",
    SecurityEventKind.PASSWORD_CHANGED: "Password changed",
    SecurityEventKind.PASSWORD_LINK_SENT: "Password link sent by an admin",
    SecurityEventKind.PASSWORD_LINK_ASKED: "Password link asked for",
    SecurityEventKind.TWO_FACTOR_ON: "Two-factor sign-in turned on",
    SecurityEventKind.TWO_FACTOR_OFF: "Two-factor sign-in turned off",
    SecurityEventKind.TWO_FACTOR_RESET: "Two-factor sign-in reset by an admin",
    SecurityEventKind.TWO_FACTOR_WRONG_CODE: "Wrong two-factor code",
    SecurityEventKind.RECOVERY_CODE_USED: "Recovery code used",
    SecurityEventKind.RECOVERY_CODES_REGENERATED: "New recovery codes made",
    SecurityEventKind.TRUSTED_BROWSER_ADDED: "Browser trusted for two-factor sign-in",
    SecurityEventKind.PASSKEY_ADDED: "Passkey added",
    SecurityEventKind.PASSKEY_REMOVED: "Passkey removed",
    SecurityEventKind.SIGNED_IN_WITH_PASSKEY: "Signed in with a passkey",
    SecurityEventKind.PASSKEY_SIGN_IN_FAILED: "Passkey sign-in failed",
    SecurityEventKind.API_TOKEN_CREATED: "API token created",
    SecurityEventKind.API_TOKEN_REVOKED: "API token revoked",
}


class SecurityEvent(Model):
    """The account-security log: what happened to an account, from where. Admins read all of
    it, each person their own. Kept `CRM_SECURITY_LOG_KEEP_DAYS`, then housekeeping deletes it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    kind: Mapped[SecurityEventKind] = mapped_column(enum_type(SecurityEventKind, 30))
    address: Mapped[str] = mapped_column(sa.String(64), default="")
    browser: Mapped[str] = mapped_column(sa.String(120), default="")
    detail: Mapped[str] = mapped_column(sa.String(300), default="")

    __table_args__ = (
        sa.Index("ix_security_event_user_at", "user_id", "at"),
        sa.Index("ix_security_event_at", "at"),
    )
