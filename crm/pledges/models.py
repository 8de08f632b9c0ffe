"""Pledges, their history, progress reports (self-assessments) and the reminders sent."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import TrackedMixin, enum_type, utcnow
from crm.extensions import Model
from crm.organizations.models import Organization
from crm.standards.models import Principle, Standard


class PledgeStatus(StrEnum):
    """What is stored. Non-reporting and lapsed are not stored: they follow from the report
    dates every time they are read (see `crm.pledges.schedule`)."""

    DRAFT = "draft"
    SIGNED = "signed"  # awaiting a lead's confirmation
    ACTIVE = "active"
    ADOPTED = "adopted"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Standing(StrEnum):
    """A pledge's status as shown: the stored one, or what the report dates make of it."""

    DRAFT = "draft"
    SIGNED = "signed"
    ACTIVE = "active"
    NON_REPORTING = "non_reporting"
    LAPSED = "lapsed"
    ADOPTED = "adopted"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"non_reporting": "Non-reporting", "signed": "Signed, awaiting confirmation"}.get(
            self.value, self.value.capitalize()
        )


# Pledges that count: one of these per organization and standard version at most.
LIVE = (PledgeStatus.DRAFT, PledgeStatus.SIGNED, PledgeStatus.ACTIVE, PledgeStatus.ADOPTED)


class Pledge(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"))
    standard_id: Mapped[int] = mapped_column(sa.ForeignKey("standard.id"))
    signatory_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="SET NULL")
    )
    signed_on: Mapped[date | None]
    listed: Mapped[bool] = mapped_column(default=False)  # consent to the public directory
    status: Mapped[PledgeStatus] = mapped_column(enum_type(PledgeStatus, 20))
    source: Mapped[str] = mapped_column(sa.String(30), default="staff")  # or "public form"
    activated_on: Mapped[date | None]  # when a lead confirmed it: reporting starts that quarter
    adopted_on: Mapped[date | None]
    withdrawn_on: Mapped[date | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # A pledge made again after a withdrawal points to the one before.
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pledge.id"))
    # Kept to tell the history: the version it was made against before a move to a newer one.
    first_standard_id: Mapped[int | None] = mapped_column(sa.ForeignKey("standard.id"))

    organization: Mapped[Organization] = relationship()
    standard: Mapped[Standard] = relationship(foreign_keys=[standard_id])
    signatory: Mapped[Contact | None] = relationship()
    previous: Mapped[Pledge | None] = relationship(remote_side="Pledge.id")
    history: Mapped[list[PledgeChange]] = relationship(
        back_populates="pledge", order_by="PledgeChange.id.desc()", cascade="all, delete-orphan"
    )
    reports: Mapped[list[ProgressReport]] = relationship(
        back_populates="pledge",
        order_by="(ProgressReport.year.desc(), ProgressReport.quarter.desc(), "
        "ProgressReport.id.desc())",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        # At most one live pledge per organization and version, also under concurrency.
        sa.Index(
            "uq_pledge_live",
            "organization_id",
            "standard_id",
            unique=True,
            sqlite_where=sa.text("status != 'withdrawn'"),
            postgresql_where=sa.text("status != 'withdrawn'"),
        ),
        sa.Index("ix_pledge_status", "status"),
        sa.Index("ix_pledge_standard", "standard_id", "status"),
    )

    def __repr__(self) -> str:
        return f"<Pledge {self.organization_id} {self.status}>"


class PledgeChange(Model):
    """Every status change and version move, with who and when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledge.id", ondelete="CASCADE"))
    from_status: Mapped[PledgeStatus | None] = mapped_column(enum_type(PledgeStatus, 20))
    to_status: Mapped[PledgeStatus] = mapped_column(enum_type(PledgeStatus, 20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    pledge: Mapped[Pledge] = relationship(back_populates="history")
    by: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_pledge_change_pledge", "pledge_id", "at"),)


class Maturity(StrEnum):
    NOT_STARTED = "not_started"
    PLANNING = "planning"
    IMPLEMENTING = "implementing"
    IMPLEMENTED = "implemented"
    VERIFIED = "verified"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def score(self) -> int:
        return list(Maturity).index(self)


TOP_LEVEL = Maturity.VERIFIED


class ReportStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # read-only from here on
    ACCEPTED = "accepted"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ProgressReport(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledge.id", ondelete="CASCADE"))
    # The version assessed: after a pledge moves to a newer version, older reports still read
    # against the principles they answered.
    standard_id: Mapped[int] = mapped_column(sa.ForeignKey("standard.id"))
    year: Mapped[int]
    quarter: Mapped[int]  # 1–4
    status: Mapped[ReportStatus] = mapped_column(enum_type(ReportStatus, 20))
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    corrects_id: Mapped[int | None] = mapped_column(sa.ForeignKey("progress_report.id"))

    pledge: Mapped[Pledge] = relationship(back_populates="reports")
    standard: Mapped[Standard] = relationship()
    answers: Mapped[list[Assessment]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="Assessment.position"
    )
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])

    __table_args__ = (sa.Index("ix_progress_report_pledge", "pledge_id", "year", "quarter"),)

    @property
    def period(self) -> str:
        return f"Q{self.quarter} {self.year}"


class Assessment(Model):
    """One principle in one report: its maturity, evidence and a comment."""

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("progress_report.id", ondelete="CASCADE"))
    principle_id: Mapped[int] = mapped_column(sa.ForeignKey("principle.id"))
    position: Mapped[int] = mapped_column(default=0)
    level: Mapped[Maturity] = mapped_column(enum_type(Maturity, 20))
    evidence: Mapped[str | None] = mapped_column(sa.Text)  # links, one per line
    comment: Mapped[str | None] = mapped_column(sa.Text)

    report: Mapped[ProgressReport] = relationship(back_populates="answers")
    principle: Mapped[Principle] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("report_id", "principle_id", name="uq_assessment_principle"),
    )

    @property
    def evidence_links(self) -> list[str]:
        return [line.strip() for line in (self.evidence or "").splitlines() if line.strip()]


class ReminderKind(StrEnum):
    UPCOMING = "upcoming"
    OVERDUE = "overdue"


class PledgeReminder(Model):
    """A reminder sent; the unique key makes each one go out once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledge.id", ondelete="CASCADE"))
    year: Mapped[int]
    quarter: Mapped[int]
    kind: Mapped[ReminderKind] = mapped_column(enum_type(ReminderKind, 20))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_to: Mapped[str] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.UniqueConstraint("pledge_id", "year", "quarter", "kind", name="uq_pledge_reminder_once"),
    )
