"""The engagement log: every meeting, call and listening session, with its follow-up."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import TrackedMixin, enum_type
from crm.extensions import Model, db
from crm.organizations.models import Organization


class EngagementKind(StrEnum):
    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    LISTENING_SESSION = "listening_session"
    WORKSHOP = "workshop"
    SURVEY = "survey"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


engagement_contact = sa.Table(
    "engagement_contact",
    db.metadata,
    sa.Column(
        "engagement_id", sa.ForeignKey("engagement.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("contact_id", sa.ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_engagement_contact_contact", "contact_id", "engagement_id"),
)


class Engagement(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EngagementKind] = mapped_column(enum_type(EngagementKind, 30))
    occurred_on: Mapped[date]
    summary: Mapped[str] = mapped_column(sa.String(300))
    heard: Mapped[str | None] = mapped_column(sa.Text)  # what we heard
    organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="SET NULL")
    )
    follow_up_on: Mapped[date | None]
    follow_up_owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    follow_up_note: Mapped[str | None] = mapped_column(sa.String(300))
    follow_up_done_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()
    contacts: Mapped[list[Contact]] = relationship(
        secondary=engagement_contact, order_by=Contact.sort_name
    )
    follow_up_owner: Mapped[User | None] = relationship(foreign_keys=[follow_up_owner_id])

    __table_args__ = (
        sa.Index("ix_engagement_organization", "organization_id", "occurred_on"),
        sa.Index(
            "ix_engagement_follow_up", "follow_up_owner_id", "follow_up_done_at", "follow_up_on"
        ),
        sa.Index("ix_engagement_occurred_on", "occurred_on", "id"),
    )

    @property
    def follow_up_open(self) -> bool:
        return self.follow_up_on is not None and self.follow_up_done_at is None
