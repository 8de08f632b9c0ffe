"""Passkeys (WebAuthn credentials): a key pair kept by a person's device or password manager,
with which they sign in without a password, or prove a second factor."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import utcnow
from crm.extensions import Model

NAME_LENGTH = 80


class Passkey(Model):
    """One registered credential. Only its public key is here: the private key never leaves
    the authenticator."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # The credential's id as the browser sends it back (base64url): how a sign-in finds it.
    credential_id: Mapped[str] = mapped_column(sa.String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)  # COSE, as registered
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # The account's WebAuthn user handle (base64url, random): the same for all of a person's
    # passkeys, so an authenticator keeps one credential per account, and it names no one.
    user_handle: Mapped[str] = mapped_column(sa.String(100))
    transports: Mapped[str] = mapped_column(sa.String(200), default="")  # "internal,hybrid"
    name: Mapped[str] = mapped_column(sa.String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
