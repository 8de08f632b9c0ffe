"""Personal access tokens: how a script or another system acts as a user on `/api/v1`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import utcnow
from crm.extensions import Model


class ApiToken(Model):
    """A token acts as its user, with the user's role, read-only or read-write, until it
    expires or is revoked (the row is deleted). Only the SHA-256 of the token is kept: the
    token is 256 random bits, so a slow hash would add nothing but time on every request."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The token's first characters, shown in lists so a person can tell their tokens apart.
    shown_start: Mapped[str] = mapped_column(sa.String(16))
    read_only: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    last_used_address: Mapped[str] = mapped_column(sa.String(64), default="")

    user: Mapped[User] = relationship(User)

    @property
    def access_label(self) -> str:
        return "read-only" if self.read_only else "read and write"

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


class IdempotentRequest(Model):
    """A POST sent with an `Idempotency-Key`, and what it was answered: the same key again
    (a client retrying after a lost answer) gets that answer back and creates nothing more.
    Written in the transaction of what the request created, so both are kept or neither."""

    __tablename__ = "api_idempotent_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    # SHA-256 of the method, path, query and body: the same key for another request is refused.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int] = mapped_column(default=0)  # 0 while the first request is under way
    body: Mapped[str] = mapped_column(sa.Text, default="")
    headers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("token_id", "key", name="uq_api_idempotent_request_token_key"),
        sa.Index("ix_api_idempotent_request_created_at", "created_at"),
    )


class RateWindow(Model):
    """How many requests a token made in the current minute (one row a token, reused)."""

    __tablename__ = "api_rate_window"

    token_id: Mapped[int] = mapped_column(
        sa.ForeignKey("api_token.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime]
    requests: Mapped[int] = mapped_column(default=0)
