"""The second factor of a sign-in: an authenticator app's secret and the recovery codes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.core.db import utcnow
from crm.extensions import Model


class TwoFactor(Model):
    """A user's authenticator app (TOTP). Active once `confirmed_at` is set, which a first
    right code does; until then it is an enrolment under way, replaced by the next one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(sa.String(64))  # base32, as the app is given it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    # The 30-second time step of the last code accepted: that code (or an older one) is refused
    # from then on, so a code seen over a shoulder cannot be used again.
    last_used_step: Mapped[int | None] = mapped_column(sa.BigInteger)


class RecoveryCode(Model):
    """A single-use code for a sign-in without the authenticator app. Only its hash is kept:
    the codes are shown once, when made."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_recovery_code_user_hash", "user_id", "code_hash"),)
