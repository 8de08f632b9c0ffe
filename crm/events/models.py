"""Events and participation: capacity, waitlist and check-in."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.contacts.models import Contact
from crm.core.db import TrackedMixin, enum_type, utcnow
from crm.extensions import Model


class EventKind(StrEnum):
    CONFERENCE = "conference"
    WEBINAR = "webinar"
    WORKSHOP = "workshop"
    ROUNDTABLE = "roundtable"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Hosting(StrEnum):
    HOSTED = "hosted"
    ATTENDED = "attended"

    @property
    def label(self) -> str:
        return {"hosted": "Hosted by us", "attended": "We attend"}[self.value]


class Event(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 20))
    hosting: Mapped[Hosting] = mapped_column(enum_type(Hosting, 20))
    # Stored in UTC; shown and edited in the event's own time zone.
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    venue: Mapped[str | None] = mapped_column(sa.String(300))
    online_url: Mapped[str | None] = mapped_column(sa.String(500))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    capacity: Mapped[int | None]  # None: no limit
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_public: Mapped[bool] = mapped_column(default=False)
    registration_open: Mapped[bool] = mapped_column(default=True)

    participations: Mapped[list[Participation]] = relationship(
        back_populates="event", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (sa.Index("ix_event_starts_at", "starts_at", "id"),)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.zone)

    @property
    def is_past(self) -> bool:
        return self.ends_at < utcnow()

    @property
    def accepts_registrations(self) -> bool:
        return self.registration_open and not self.is_past

    def __repr__(self) -> str:
        return f"<Event {self.name}>"


class ParticipantRole(StrEnum):
    ATTENDEE = "attendee"
    SPEAKER = "speaker"
    PANELIST = "panelist"
    ORGANIZER = "organizer"
    SPONSOR = "sponsor"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ParticipationStatus(StrEnum):
    INVITED = "invited"
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return "No-show" if self is ParticipationStatus.NO_SHOW else self.value.capitalize()


# Statuses that hold one of the event's places.
SEATED = (ParticipationStatus.REGISTERED, ParticipationStatus.ATTENDED)


class Participation(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contact.id", ondelete="CASCADE"))
    role: Mapped[ParticipantRole] = mapped_column(enum_type(ParticipantRole, 20))
    status: Mapped[ParticipationStatus] = mapped_column(enum_type(ParticipationStatus, 20))
    # Where it came from: "staff", "public form", "walk-in".
    source: Mapped[str] = mapped_column(sa.String(30), default="staff")
    # Organization as the person typed it on the public form, when it matched none of ours.
    organization_text: Mapped[str | None] = mapped_column(sa.String(200))
    waitlisted_at: Mapped[datetime | None]  # the waitlist's order
    checked_in_at: Mapped[datetime | None]
    # What they were before a check-in, so undoing a mis-click puts them back exactly.
    status_before_check_in: Mapped[ParticipationStatus | None] = mapped_column(
        enum_type(ParticipationStatus, 20)
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[Event] = relationship(back_populates="participations")
    contact: Mapped[Contact] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("event_id", "contact_id", name="uq_participation_event_contact"),
        sa.Index("ix_participation_event_status", "event_id", "status", "waitlisted_at"),
        sa.Index("ix_participation_contact", "contact_id"),
    )
