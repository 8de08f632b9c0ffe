"""Campaigns: saved segments of contacts, campaign emails, the outbox the worker drains, and
addresses we must never mail (suppressions)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.db import TrackedMixin, enum_type, utcnow
from crm.extensions import Model


class Segment(TrackedMixin, Model):
    """A saved filter over contacts; `criteria` is what `crm.campaigns.segments` reads."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    criteria: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    def __repr__(self) -> str:
        return f"<Segment {self.name}>"


class Purpose(StrEnum):
    AWARENESS = "awareness"
    CHAMPION_RECRUITMENT = "champion_recruitment"
    PLEDGE_DRIVE = "pledge_drive"
    EVENT_INVITATION = "event_invitation"
    NEWSLETTER = "newsletter"
    CONSULTATION = "consultation"  # invitations and reminders to answer a consultation

    @property
    def label(self) -> str:
        if self is Purpose.CONSULTATION:
            return "Consultation reminder"
        return self.value.replace("_", " ").capitalize()


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Campaign(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    purpose: Mapped[Purpose] = mapped_column(enum_type(Purpose, 30))
    segment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("segment.id", ondelete="SET NULL"))
    # The event its {{ event_url }} links to, when it invites to one.
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event.id", ondelete="SET NULL"))
    # The consultation its {{ consultation_url }} links to (each person's own link). Without a
    # segment, it goes to those the consultation invited who have not answered when it is sent.
    consultation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation.id", ondelete="SET NULL")
    )
    sender_name: Mapped[str] = mapped_column(sa.String(100))
    sender_email: Mapped[str] = mapped_column(sa.String(254))
    reply_to: Mapped[str | None] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)  # plain text with {{ merge fields }}
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus, 20), default=CampaignStatus.DRAFT
    )
    scheduled_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Who the segment held but the send left out, and why: {"counts": {...}, "people": [...]}.
    left_out: Mapped[dict | None] = mapped_column(sa.JSON)

    segment: Mapped[Segment | None] = relationship()
    event = relationship("Event")
    consultation = relationship("Consultation")

    @property
    def audience(self) -> str:
        """Who it goes to, in words."""
        if self.segment is not None:
            return self.segment.name
        if self.consultation is not None:
            return f"those invited to {self.consultation.title} who have not answered"
        return ""

    __table_args__ = (sa.Index("ix_campaign_status", "status", "scheduled_at"),)

    @property
    def editable(self) -> bool:
        return self.status is CampaignStatus.DRAFT

    @property
    def sender(self) -> str:
        from email.utils import formataddr

        return formataddr((self.sender_name, self.sender_email))


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker; back to queued if the worker dies
    SENT = "sent"  # accepted by the provider
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class OutboxMessage(Model):
    """One campaign email to one person; written when the campaign is queued."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contact.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(sa.String(254))
    # Ours, sent in custom_args so webhook events find their way back.
    message_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    status: Mapped[MessageStatus] = mapped_column(
        enum_type(MessageStatus, 20), default=MessageStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    # The sending job that claimed it: a run of that job cut short (its worker died) takes its
    # own claims back when it runs again. No foreign key: finished jobs are deleted in time.
    claimed_job_id: Mapped[int | None]
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(sa.String(100))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    unsubscribed_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    contact = relationship("Contact")

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "email", name="uq_outbox_message_campaign_email"),
        sa.Index("ix_outbox_message_due", "status", "next_attempt_at", "id"),
        # A campaign's messages by status (its counts), and its due ones in the order they are
        # claimed: a claim reads its batch off this index whatever the planner's statistics
        # say of a campaign queued a moment ago.
        sa.Index(
            "ix_outbox_message_campaign_due", "campaign_id", "status", "next_attempt_at", "id"
        ),
    )


class CampaignCounts(Model):
    """A campaign's messages by status as last counted (`crm.campaigns.counting`): lists of
    campaigns read these instead of counting the outbox, which holds a row per message ever
    sent. Kept by the queueing, the sending jobs, cancelling, and the minute's tick."""

    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    queued: Mapped[int] = mapped_column(default=0)
    sending: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    counted_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuppressionReason(StrEnum):
    BOUNCE = "bounce"
    SPAM_REPORT = "spam_report"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        return {"spam_report": "Spam report"}.get(self.value, self.value.capitalize())


class Suppression(Model):
    """An address never to mail again, whoever holds it (bounces, spam reports, by hand)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    reason: Mapped[SuppressionReason] = mapped_column(enum_type(SuppressionReason, 20))
    source: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EventKind(StrEnum):
    """SendGrid's event types (Event Webhook), as they name them."""

    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    OPEN = "open"
    CLICK = "click"
    BOUNCE = "bounce"
    DROPPED = "dropped"
    SPAM_REPORT = "spamreport"
    UNSUBSCRIBE = "unsubscribe"
    GROUP_UNSUBSCRIBE = "group_unsubscribe"
    GROUP_RESUBSCRIBE = "group_resubscribe"

    @property
    def label(self) -> str:
        return {"spamreport": "Spam report", "open": "Opened", "click": "Clicked"}.get(
            self.value, self.value.replace("_", " ").capitalize()
        )


class DeliveryEvent(Model):
    """One event SendGrid reported about one of our messages; `sg_event_id` makes it once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox_message.id", ondelete="SET NULL")
    )
    campaign_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("campaign.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(sa.String(254))
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind, 30))
    at: Mapped[datetime]  # when it happened, by SendGrid's clock
    url: Mapped[str | None] = mapped_column(sa.String(1000))  # the link clicked
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_delivery_event_campaign", "campaign_id", "kind", "at"),)


class TopicOptOut(Model):
    """A person who still wants some of our email, but not this kind (their preference page)."""

    contact_id: Mapped[int] = mapped_column(
        sa.ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[Purpose] = mapped_column(enum_type(Purpose, 30), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
