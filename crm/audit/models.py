"""The audit trail: who changed which field of which record, and when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.db import enum_type, utcnow
from crm.extensions import Model

if TYPE_CHECKING:  # accounts stand on the trail (they audit logins), not the other way
    from crm.auth.models import User


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    ERASE = "erase"
    LOGIN = "login"
    PASSWORD = "password"
    INVITE = "invite"


class AuditEntry(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    # Kept as text so the trail still says who it was after the account is gone.
    actor_label: Mapped[str] = mapped_column(sa.String(254), default="system")
    action: Mapped[AuditAction] = mapped_column(enum_type(AuditAction, 20))
    object_type: Mapped[str] = mapped_column(sa.String(50))
    object_id: Mapped[int | None]
    summary: Mapped[str] = mapped_column(sa.String(300), default="")
    # {"field": [old, new], ...} with values as display strings
    changes: Mapped[dict | None] = mapped_column(sa.JSON)

    actor: Mapped[User | None] = relationship("User")

    __table_args__ = (sa.Index("ix_audit_entry_object", "object_type", "object_id", "at"),)
