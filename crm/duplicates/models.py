"""Pairs a lead said are not duplicates, and the merges made, so neither shows again."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import enum_type, utcnow
from crm.extensions import Model


class DuplicateKind(StrEnum):
    CONTACT = "contact"
    ORGANIZATION = "organization"

    @property
    def label(self) -> str:
        return {"contact": "Contacts", "organization": "Organizations"}[self.value]


class DuplicateDismissal(Model):
    """ "Not duplicates": the pair (low_id < high_id) no longer shows on the duplicates page.

    No foreign keys to contact/organization (one table serves both kinds); a merge or a delete
    removes the rows that name the record that is gone.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    low_id: Mapped[int]
    high_id: Mapped[int]
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)
    dismissed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )

    dismissed_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("kind", "low_id", "high_id"),)


class DuplicateMerge(Model):
    """One merge: `merged_id` is gone, its records now belong to `survivor_id`.

    Kept so a second submit of the same merge (or a stale pair) says where the record went
    instead of a bare "not found". The audit trail has the field-by-field detail.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    survivor_id: Mapped[int]
    merged_id: Mapped[int]
    # The merged record's name, since the record itself is gone.
    merged_label: Mapped[str] = mapped_column(sa.String(300), default="")
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    merged_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("kind", "merged_id"),)
