"""Case studies: what was tried, for whom, with what outcome, and the lessons."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import TrackedMixin, enum_type
from crm.extensions import Model, db
from crm.organizations.models import Organization
from crm.standards.models import Principle


class Technology(StrEnum):
    HELPLINE = "helpline"
    SMS_SURVEY = "sms_survey"
    APP = "app"
    GRIEVANCE_PLATFORM = "grievance_platform"
    DIGITAL_WAGES = "digital_wages"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"sms_survey": "SMS survey", "app": "App"}.get(
            self.value, self.value.replace("_", " ").capitalize()
        )


class Outcome(StrEnum):
    WORKED = "worked"
    MIXED = "mixed"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"worked": "Worked", "mixed": "Mixed", "failed": "Did not work"}[self.value]


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"  # a member's contribution, waiting for a lead
    PUBLISHED = "published"  # in the library (and public when shareable)
    RETURNED = "returned"  # sent back to the contributor with a note

    @property
    def label(self) -> str:
        return {"submitted": "Awaiting review"}.get(self.value, self.value.capitalize())


case_study_principle = sa.Table(
    "case_study_principle",
    db.metadata,
    sa.Column(
        "case_study_id", sa.ForeignKey("case_study.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("principle_id", sa.ForeignKey("principle.id", ondelete="CASCADE"), primary_key=True),
)

case_study_organization = sa.Table(
    "case_study_organization",
    db.metadata,
    sa.Column(
        "case_study_id", sa.ForeignKey("case_study.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "organization_id", sa.ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    ),
)


class CaseStudy(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    technology: Mapped[Technology] = mapped_column(enum_type(Technology, 30))
    countries: Mapped[str | None] = mapped_column(sa.String(200))  # ISO codes, comma separated
    sectors: Mapped[str | None] = mapped_column(sa.String(200))
    # Organizations a contributor named that are not in the CRM, one per line as typed: a
    # lead links them during review (contributors cannot browse the CRM's organizations).
    unlinked_organizations: Mapped[str | None] = mapped_column(sa.Text)
    workers_reached: Mapped[int | None]
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, 20))
    what_happened: Mapped[str] = mapped_column(sa.Text)
    lessons: Mapped[str] = mapped_column(sa.Text)
    source_link: Mapped[str | None] = mapped_column(sa.String(500))
    happened_on: Mapped[date | None]
    shareable: Mapped[bool] = mapped_column(default=False)  # may appear on the public page
    status: Mapped[ReviewStatus] = mapped_column(enum_type(ReviewStatus, 20))
    review_note: Mapped[str | None] = mapped_column(sa.String(500))
    reviewed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None]
    # When a lead first put it in the library: the quarter it counts in, for good (a later
    # edit that sends it back to review does not take it out of past reports).
    first_published_at: Mapped[datetime | None]

    principles: Mapped[list[Principle]] = relationship(
        secondary=case_study_principle, order_by=Principle.position
    )
    organizations: Mapped[list[Organization]] = relationship(
        secondary=case_study_organization, order_by=Organization.name_key
    )
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    __table_args__ = (
        sa.Index("ix_case_study_status", "status", "shareable"),
        sa.Index("ix_case_study_outcome", "outcome", "technology"),
    )

    @property
    def country_list(self) -> list[str]:
        return [c for c in (self.countries or "").split(",") if c]

    @property
    def unlinked_organization_list(self) -> list[str]:
        return [n for n in (self.unlinked_organizations or "").splitlines() if n]

    @property
    def organization_names(self) -> list[str]:
        """Every organization it names: those in the CRM, then those only typed."""
        return [o.name for o in self.organizations] + self.unlinked_organization_list

    @property
    def is_public(self) -> bool:
        return self.status is ReviewStatus.PUBLISHED and self.shareable
