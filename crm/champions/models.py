"""Champions: a contact in the recruitment pipeline, its stage history and endorsements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import TrackedMixin, enum_type, utcnow
from crm.extensions import Model, db
from crm.organizations.models import Organization
from crm.standards.models import Principle


class Stage(StrEnum):
    IDENTIFIED = "identified"
    APPROACHED = "approached"
    ENGAGED = "engaged"
    COMMITTED = "committed"
    ACTIVE = "active"
    LAPSED = "lapsed"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        return list(Stage).index(self)


# The recruitment funnel, in order; lapsed is where champions go when they stop.
FUNNEL = [Stage.IDENTIFIED, Stage.APPROACHED, Stage.ENGAGED, Stage.COMMITTED, Stage.ACTIVE]


class Region(StrEnum):
    AFRICA = "africa"
    ASIA_PACIFIC = "asia_pacific"
    EUROPE = "europe"
    LATIN_AMERICA = "latin_america"
    MIDDLE_EAST = "middle_east"
    NORTH_AMERICA = "north_america"
    SOUTH_ASIA = "south_asia"
    GLOBAL = "global"

    @property
    def label(self) -> str:
        return {
            "asia_pacific": "East Asia & Pacific",
            "latin_america": "Latin America & Caribbean",
            "middle_east": "Middle East & North Africa",
        }.get(self.value, self.value.replace("_", " ").title())


class Champion(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="CASCADE"), unique=True
    )
    stage: Mapped[Stage] = mapped_column(enum_type(Stage, 20))
    stage_since: Mapped[datetime] = mapped_column(default=utcnow)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    region: Mapped[Region | None] = mapped_column(enum_type(Region, 30))
    audience_reach: Mapped[int | None]  # followers, readers, members: their usual audience
    channels: Mapped[str | None] = mapped_column(sa.String(300))  # comma separated
    bio: Mapped[str | None] = mapped_column(sa.Text)
    next_step: Mapped[str | None] = mapped_column(sa.String(300))
    next_step_due: Mapped[date | None]

    contact: Mapped[Contact] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    moves: Mapped[list[StageChange]] = relationship(
        back_populates="champion",
        order_by="StageChange.id.desc()",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    endorsements: Mapped[list[Endorsement]] = relationship(
        back_populates="champion",
        order_by="Endorsement.made_on.desc(), Endorsement.id.desc()",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (
        sa.Index("ix_champion_stage", "stage", "stage_since"),
        sa.Index("ix_champion_owner", "owner_id", "stage"),
        sa.Index("ix_champion_next_step_due", "next_step_due"),
    )

    @property
    def channel_list(self) -> list[str]:
        return [c.strip() for c in (self.channels or "").split(",") if c.strip()]

    @property
    def name(self) -> str:
        return self.contact.full_name

    def __repr__(self) -> str:
        return f"<Champion {self.contact_id} {self.stage}>"


class StageChange(Model):
    """One move through the pipeline: the record conversion figures are computed from."""

    id: Mapped[int] = mapped_column(primary_key=True)
    champion_id: Mapped[int] = mapped_column(sa.ForeignKey("champion.id", ondelete="CASCADE"))
    from_stage: Mapped[Stage | None] = mapped_column(enum_type(Stage, 20))  # None: entered
    to_stage: Mapped[Stage] = mapped_column(enum_type(Stage, 20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    champion: Mapped[Champion] = relationship(back_populates="moves")
    by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.Index("ix_stage_change_champion", "champion_id", "at"),
        sa.Index("ix_stage_change_at", "at"),
    )


class EndorsementKind(StrEnum):
    STATEMENT = "statement"
    POST = "post"
    ARTICLE = "article"
    TALK = "talk"
    REFERRAL = "referral"
    MEDIA = "media"

    @property
    def label(self) -> str:
        return {
            "statement": "Public statement",
            "post": "Social post",
            "article": "Article",
            "talk": "Talk",
            "referral": "Referral of an organization",
            "media": "Media interview",
        }[self.value]


class Verification(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"pending": "Awaiting review", "verified": "Verified", "rejected": "Not accepted"}[
            self.value
        ]


endorsement_principle = sa.Table(
    "endorsement_principle",
    db.metadata,
    sa.Column(
        "endorsement_id", sa.ForeignKey("endorsement.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("principle_id", sa.ForeignKey("principle.id", ondelete="CASCADE"), primary_key=True),
)


class Endorsement(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    champion_id: Mapped[int] = mapped_column(sa.ForeignKey("champion.id", ondelete="CASCADE"))
    kind: Mapped[EndorsementKind] = mapped_column(enum_type(EndorsementKind, 20))
    made_on: Mapped[date]
    title: Mapped[str] = mapped_column(sa.String(300))
    link: Mapped[str | None] = mapped_column(sa.String(500))
    audience_reach: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # A referral names the organization the champion brought to the principles.
    referred_organization_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="SET NULL")
    )
    # What a champion typed when the organization is not (yet) in the CRM; a lead links it.
    referred_organization_name: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[Verification] = mapped_column(
        enum_type(Verification, 20), default=Verification.PENDING
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(500))

    champion: Mapped[Champion] = relationship(back_populates="endorsements")
    referred_organization: Mapped[Organization | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    principles: Mapped[list[Principle]] = relationship(
        secondary=endorsement_principle, order_by=Principle.position
    )

    __table_args__ = (
        sa.Index("ix_endorsement_champion", "champion_id", "made_on"),
        sa.Index("ix_endorsement_status", "status", "made_on"),
        sa.Index("ix_endorsement_referred_organization", "referred_organization_id"),
    )
