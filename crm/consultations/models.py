"""Consultations on a standard version: draft recommendations, responses and their answers."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import TrackedMixin, enum_type, utcnow
from crm.extensions import Model
from crm.organizations.models import OrganizationKind
from crm.standards.models import Principle, Standard


class Access(StrEnum):
    PUBLIC = "public"  # anyone answers through the public page
    INVITATION = "invitation"  # the contacts of a segment, each through a personal link

    @property
    def label(self) -> str:
        return {"public": "Public", "invitation": "By invitation"}[self.value]


class Phase(StrEnum):
    """Not stored: follows from the dates."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"upcoming": "Not yet open"}.get(self.value, self.value.capitalize())


class Mark(StrEnum):
    STRENGTH = "strength"
    WEAKNESS = "weakness"
    OPPORTUNITY = "opportunity"
    RECOMMENDATION = "recommendation"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Consultation(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(sa.ForeignKey("standard.id"))
    title: Mapped[str] = mapped_column(sa.String(200))  # "2.0 draft"
    description: Mapped[str | None] = mapped_column(sa.Text)
    opens_on: Mapped[date]
    closes_on: Mapped[date]  # the last day answers are taken
    access: Mapped[Access] = mapped_column(enum_type(Access, 20))
    segment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("segment.id", ondelete="SET NULL"))
    # The version published from its accepted draft, once it is.
    published_standard_id: Mapped[int | None] = mapped_column(sa.ForeignKey("standard.id"))

    standard: Mapped[Standard] = relationship(foreign_keys=[standard_id])
    published_standard: Mapped[Standard | None] = relationship(foreign_keys=[published_standard_id])
    segment = relationship("Segment")
    recommendations: Mapped[list[Recommendation]] = relationship(
        back_populates="consultation",
        order_by="Recommendation.position",
        cascade="all, delete-orphan",
    )

    def phase(self, today: date | None = None) -> Phase:
        today = today or date.today()
        if today < self.opens_on:
            return Phase.UPCOMING
        if today > self.closes_on:
            return Phase.CLOSED
        return Phase.OPEN

    @property
    def is_open(self) -> bool:
        return self.phase() is Phase.OPEN


class Recommendation(TrackedMixin, Model):
    """A draft text: a new wording for a principle of the version, or a new principle."""

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id", ondelete="CASCADE")
    )
    principle_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("principle.id", ondelete="SET NULL")
    )
    # For a new principle proposed for the next version.
    new_code: Mapped[str | None] = mapped_column(sa.String(10))
    new_title: Mapped[str | None] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[bool] = mapped_column(default=False)

    consultation: Mapped[Consultation] = relationship(back_populates="recommendations")
    principle: Mapped[Principle | None] = relationship()

    @property
    def label(self) -> str:
        if self.principle is not None:
            return f"Recommendation on {self.principle.code}"
        if not self.new_code:
            return "Draft text whose principle was removed"
        return f"New principle {self.new_code} · {self.new_title}"


class Response(Model):
    """One person's answers to one consultation; saved drafts have no submitted_at."""

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("consultation.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contact.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(sa.String(20))  # "public" or "invitation"
    # As the respondent gave them (the contact record is never overwritten from here).
    name: Mapped[str] = mapped_column(sa.String(200))
    organization: Mapped[str | None] = mapped_column(sa.String(200))
    organization_kind: Mapped[OrganizationKind | None] = mapped_column(
        enum_type(OrganizationKind, 40)
    )
    country: Mapped[str | None] = mapped_column(sa.String(2))
    named: Mapped[bool] = mapped_column(default=False)  # consent to be named in summaries
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    submissions: Mapped[int] = mapped_column(default=0)
    # "Respondent 3": given at the first submission, in the order they come, and kept, so a
    # label never moves when an older draft is submitted later.
    number: Mapped[int | None]
    # What someone typed on the public page with this person's address (anyone can type
    # anyone's address): kept aside as a draft until the person checks it through their emailed
    # link and saves or submits it; never applied to the answers before that.
    # {"at": ISO time, "respondent": {name, organization, ...}, "answers": [{principle_id, ...}]}
    pending: Mapped[dict | None] = mapped_column(sa.JSON)

    consultation: Mapped[Consultation] = relationship()
    contact: Mapped[Contact | None] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "contact_id", name="uq_response_person"),
        sa.UniqueConstraint("consultation_id", "number", name="uq_response_number"),
    )


class Answer(Model):
    """What one respondent said about one principle or recommendation."""

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("response.id", ondelete="CASCADE"))
    principle_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("principle.id", ondelete="CASCADE")
    )
    recommendation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("recommendation.id", ondelete="CASCADE")
    )
    mark: Mapped[Mark | None] = mapped_column(enum_type(Mark, 20))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    themes: Mapped[str | None] = mapped_column(sa.String(500))  # lower-case, comma separated
    addressed_at: Mapped[datetime | None]
    addressed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    addressed_note: Mapped[str | None] = mapped_column(sa.String(1000))

    response: Mapped[Response] = relationship(back_populates="answers")
    principle: Mapped[Principle | None] = relationship()
    recommendation: Mapped[Recommendation | None] = relationship()
    addressed_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.Index("ix_answer_response", "response_id"),
        sa.Index("ix_answer_principle", "principle_id"),
        sa.Index("ix_answer_recommendation", "recommendation_id"),
        # One answer per principle (or recommendation) per response, also from two tabs at once.
        sa.UniqueConstraint("response_id", "principle_id", name="uq_answer_principle"),
        sa.UniqueConstraint("response_id", "recommendation_id", name="uq_answer_recommendation"),
    )

    @property
    def theme_list(self) -> list[str]:
        return [t for t in (self.themes or "").split(",") if t]
