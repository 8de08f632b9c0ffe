"""Segments and campaigns: saving them, scheduling, queueing a send into the outbox,
cancelling, and unsubscribing. Each function flushes and writes the audit trail; the caller
commits once."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.campaigns import queueing, rendering, segments
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Purpose,
    Segment,
    Suppression,
    TopicOptOut,
)
from crm.consultations.models import Access, Consultation, Phase
from crm.consultations.queries import not_answered_ids
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.jobs import enqueue
from crm.core.jobs.queue import cancel_queued
from crm.core.validation import clean_text, normalize_email
from crm.events.models import Event
from crm.extensions import db

# Enough to tell who was left out without storing a second copy of a huge segment.
LEFT_OUT_LISTED = 500
_PLAUSIBLE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

LEFT_OUT_REASONS = {
    "no_email": "No email address",
    "not_asked": "Never agreed to email",
    "withdrawn": "Unsubscribed or withdrew consent",
    "topic": "Chose not to receive this kind of email",
    "suppressed": "Suppressed (bounced, spam report or blocked by hand)",
    "invalid": "Address is not valid",
    "duplicate": "Same address as someone already included",
}


# --- segments --------------------------------------------------------------------------------


@dataclass
class SegmentFields:
    name: str
    description: str | None = None
    criteria: segments.Criteria | dict = field(default_factory=segments.Criteria)


def _apply_segment(segment: Segment, fields: SegmentFields) -> None:
    segment.name = clean_text(fields.name, "name", "Name", 200, required=True)
    segment.description = clean_text(fields.description, "description", "Description", 500)
    segment.criteria = segments.clean_criteria(fields.criteria).as_dict()


def create_segment(actor, fields: SegmentFields) -> Segment:
    segment = Segment()
    _apply_segment(segment, fields)
    audit.add_recorded(actor, segment, "segment", summary=f"Created {segment.name}")
    return segment


def update_segment(
    actor, segment: Segment, fields: SegmentFields, *, expected_version: int | None = None
) -> None:
    with audit.updating(actor, segment, "segment", expected_version=expected_version):
        _apply_segment(segment, fields)


def delete_segment(actor, segment: Segment) -> None:
    used = db.session.scalar(
        sa.select(sa.func.count()).select_from(Campaign).where(Campaign.segment_id == segment.id)
    )
    if used:
        raise OperationError(
            f"{used} campaign{'s use' if used != 1 else ' uses'} this segment, so it is kept."
        )
    audit.delete_recorded(actor, segment, "segment", summary=f"Deleted {segment.name}")


# --- campaigns -------------------------------------------------------------------------------


@dataclass
class CampaignFields:
    name: str
    purpose: Purpose | str
    segment_id: int | None
    sender_name: str
    sender_email: str
    subject: str
    body: str
    reply_to: str | None = None
    event_id: int | None = None
    # A consultation reminder: {{ consultation_url }} is each person's own link, and with no
    # segment it goes to those invited who have not answered.
    consultation_id: int | None = None


def _email(value: str | None, field_name: str, label: str, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise OperationError(f"{label} is required.", field=field_name)
        return None
    try:
        return normalize_email(value)
    except OperationError as exc:
        raise OperationError(f"{label}: {exc.message}", field=field_name) from None


def _apply_campaign(campaign: Campaign, fields: CampaignFields) -> None:
    if not campaign.editable:
        raise OperationError(
            f"This campaign is {campaign.status.label.lower()}, so it can no longer be changed."
        )
    campaign.name = clean_text(fields.name, "name", "Name", 200, required=True)
    try:
        campaign.purpose = Purpose(fields.purpose)
    except ValueError:
        raise OperationError("Choose the campaign's purpose.", field="purpose") from None
    if fields.segment_id in (None, ""):
        campaign.segment_id = None
    else:
        segment = db.session.get(Segment, _int(fields.segment_id, "segment_id"))
        if segment is None:
            raise OperationError("That segment does not exist.", field="segment_id")
        campaign.segment_id = segment.id
    if fields.event_id in (None, ""):
        campaign.event_id = None
    else:
        event = db.session.get(Event, _int(fields.event_id, "event_id"))
        if event is None:
            raise OperationError("That event does not exist.", field="event_id")
        campaign.event_id = event.id
    _apply_consultation(campaign, fields.consultation_id)
    campaign.sender_name = clean_text(
        fields.sender_name, "sender_name", "Sender name", 100, required=True
    )
    campaign.sender_email = _email(
        fields.sender_email, "sender_email", "Sender address", required=True
    )
    campaign.reply_to = _email(fields.reply_to, "reply_to", "Reply-to address", required=False)
    subject = clean_text(fields.subject, "subject", "Subject", 300, required=True)
    if "\n" in subject or "\r" in subject:
        raise OperationError("The subject must be one line.", field="subject")
    body = (fields.body or "").replace("\r\n", "\n")
    if not body.strip():
        raise OperationError("Write the message.", field="body")
    if len(body) > 100_000:
        raise OperationError("The message is too long (100,000 characters at most).", field="body")
    rendering.check(subject, "subject", "Subject")
    rendering.check(body, "body", "Message")
    if "event_url" in body + subject and campaign.event_id is None:
        raise OperationError("The message links to the event: choose the event.", field="event_id")
    _check_consultation_url(campaign, body + subject)
    campaign.subject = subject
    campaign.body = body


def _apply_consultation(campaign: Campaign, consultation_id) -> None:
    if consultation_id in (None, ""):
        campaign.consultation_id = None
        return
    consultation = db.session.get(Consultation, _int(consultation_id, "consultation_id"))
    if consultation is None:
        raise OperationError("That consultation does not exist.", field="consultation_id")
    if consultation.access is Access.INVITATION and campaign.segment_id is not None:
        raise OperationError(
            "A consultation by invitation is answered only by those it invited: leave the "
            "segment empty, and the campaign goes to those of them who have not answered.",
            field="segment_id",
        )
    campaign.consultation_id = consultation.id


def _check_consultation_url(campaign: Campaign, text: str) -> None:
    if "consultation_url" in text and campaign.consultation_id is None:
        raise OperationError(
            "The message links to a consultation (consultation_url): choose the consultation.",
            field="consultation_id",
        )


def _int(value, field_name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OperationError("Pick one from the list.", field=field_name) from None


def create_campaign(actor, fields: CampaignFields) -> Campaign:
    campaign = Campaign(status=CampaignStatus.DRAFT)
    _apply_campaign(campaign, fields)
    audit.add_recorded(actor, campaign, "campaign", summary=f"Created {campaign.name}")
    return campaign


def update_campaign(
    actor, campaign: Campaign, fields: CampaignFields, *, expected_version: int | None = None
) -> None:
    with audit.updating(actor, campaign, "campaign", expected_version=expected_version):
        _apply_campaign(campaign, fields)


def delete_campaign(actor, campaign: Campaign) -> None:
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED) or (
        campaign.queued_at is not None
    ):
        raise OperationError("Only a draft that was never sent can be deleted.")
    audit.delete_recorded(actor, campaign, "campaign", summary=f"Deleted {campaign.name}")


def _set_status(actor, campaign: Campaign, status: CampaignStatus, summary: str) -> None:
    old = campaign.status
    campaign.status = status
    campaign.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "campaign",
        campaign.id,
        summary=summary,
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()


def _ready(campaign: Campaign) -> None:
    """Refuses a campaign with nobody to go to, or one whose consultation is gone or over."""
    _check_consultation_url(campaign, campaign.body + campaign.subject)
    consultation = campaign.consultation
    if consultation is not None:
        if consultation.phase() is Phase.CLOSED:
            raise OperationError(
                f"{consultation.title} closed on {consultation.closes_on:%-d %B %Y}: its links "
                "no longer take answers, so it is not sent."
            )
        if campaign.segment is None and consultation.access is not Access.INVITATION:
            raise OperationError(
                "A public consultation has no list of invited people: choose a segment.",
                field="segment_id",
            )
    if campaign.segment is None and consultation is None:
        raise OperationError("Choose who receives it (a segment) first.", field="segment_id")


def schedule_campaign(actor, campaign: Campaign, when: datetime | None, *, now=None) -> None:
    now = now or utcnow()
    if campaign.status is not CampaignStatus.DRAFT:
        raise OperationError("Only a draft can be scheduled.")
    _ready(campaign)
    if when is None:
        raise OperationError("Give the date and time to send it.", field="scheduled_at")
    if when <= now:
        raise OperationError(
            "That time has passed; choose a later one or send it now.", field="scheduled_at"
        )
    consultation = campaign.consultation
    if consultation is not None and when.date() > consultation.closes_on:
        raise OperationError(
            f"{consultation.title} closes on {consultation.closes_on:%-d %B %Y}: choose a time "
            "before then, while its links still take answers.",
            field="scheduled_at",
        )
    campaign.scheduled_at = when
    _set_status(
        actor, campaign, CampaignStatus.SCHEDULED, f"Scheduled for {when:%Y-%m-%d %H:%M} UTC"
    )
    enqueue(
        queueing.START,
        {"campaign_id": campaign.id},
        run_at=when,
        unique_key=queueing.start_key(campaign.id, when),
        actor=actor,
    )


def unschedule_campaign(actor, campaign: Campaign) -> None:
    if campaign.status is not CampaignStatus.SCHEDULED:
        raise OperationError("Only a scheduled campaign can go back to draft.")
    if campaign.scheduled_at is not None:
        cancel_queued(queueing.START, queueing.start_key(campaign.id, campaign.scheduled_at))
    campaign.scheduled_at = None
    _set_status(actor, campaign, CampaignStatus.DRAFT, "Back to draft")


def cancel_campaign(actor, campaign: Campaign) -> int:
    """Stop it: nothing more is sent. Returns how many queued messages were withdrawn."""
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
        raise OperationError(f"A {campaign.status.label.lower()} campaign cannot be cancelled.")
    withdrawn = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.status == MessageStatus.QUEUED,
        )
        .values(status=MessageStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount
    campaign.cancelled_at = utcnow()
    _set_status(
        actor,
        campaign,
        CampaignStatus.CANCELLED,
        f"Cancelled; {withdrawn} queued message{'s' if withdrawn != 1 else ''} not sent",
    )
    return withdrawn


@dataclass
class QueueResult:
    queued: int
    left_out: dict[str, int]


def recipients(campaign: Campaign):
    """(contact id, first, last, email, consent, suppressed?, opted out of the topic?) for
    everyone in the segment (or, for a consultation reminder without one, everyone invited who
    has not answered), consent or not: who is left out for lack of it is part of the answer."""
    if campaign.segment is not None:
        criteria = segments.Criteria.from_dict(campaign.segment.criteria)
        criteria.consent_only = False
        who = segments.conditions(criteria)
    elif campaign.consultation is not None:
        # Counted now, not when the draft was made: whoever answered since is not reminded.
        who = [Contact.erased_at.is_(None), Contact.id.in_(not_answered_ids(campaign.consultation))]
    else:
        who = [sa.false()]
    stmt = (
        sa.select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.email,
            Contact.consent_status,
            Suppression.id.is_not(None),
            sa.exists()
            .where(TopicOptOut.contact_id == Contact.id, TopicOptOut.topic == campaign.purpose)
            .correlate(Contact),
        )
        .outerjoin(Suppression, sa.func.lower(Suppression.email) == sa.func.lower(Contact.email))
        .where(*who)
        .order_by(Contact.id)
    )
    return db.session.execute(stmt)


def _classify(campaign: Campaign):
    """(row, reason or None) for each person in the segment; None means they get it."""
    seen: set[str] = set()
    for row in recipients(campaign):
        _id, _first, _last, email, consent, suppressed, opted_out = row
        address = (email or "").strip().lower()
        if not address:
            reason = "no_email"
        elif consent == ConsentStatus.WITHDRAWN:
            reason = "withdrawn"
        elif consent != ConsentStatus.GRANTED:
            reason = "not_asked"
        elif opted_out:
            reason = "topic"
        elif suppressed:
            reason = "suppressed"
        elif len(address) > 254 or not _PLAUSIBLE.match(address):
            reason = "invalid"
        elif address in seen:
            reason = "duplicate"
        else:
            seen.add(address)
            reason = None
        yield row, address, reason


def queue_campaign(actor, campaign: Campaign, *, now: datetime | None = None) -> QueueResult:
    """Send now: one outbox row per recipient, all in this transaction."""
    now = now or utcnow()
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise OperationError(f"A {campaign.status.label.lower()} campaign cannot be sent.")
    # Take the row first: of two requests (two workers, or a worker and "Send now") only one
    # queues it; the other waits for it, then finds it no longer a draft or scheduled.
    claimed = db.session.execute(
        sa.update(Campaign)
        .where(
            Campaign.id == campaign.id,
            Campaign.status.in_([CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]),
        )
        .values(version=Campaign.version)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise OperationError("This campaign is already being sent.")
    _ready(campaign)
    rows: list[dict] = []
    counts = dict.fromkeys(LEFT_OUT_REASONS, 0)
    people: list[dict] = []
    for (contact_id, first, last, *_rest), address, reason in _classify(campaign):
        if reason is None:
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "contact_id": contact_id,
                    "email": address,
                    "message_key": secrets.token_hex(16),
                    "status": MessageStatus.QUEUED,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
            continue
        counts[reason] += 1
        if len(people) < LEFT_OUT_LISTED:
            people.append({"id": contact_id, "name": f"{first} {last}".strip(), "reason": reason})
    if not rows:
        raise OperationError(
            (
                "Nobody in this segment can be emailed"
                if campaign.segment is not None
                else "Nobody invited who has not answered can be emailed"
            )
            + " (see who is left out and why), so nothing was sent."
        )
    for start in range(0, len(rows), 10_000):
        # Core, not the ORM's bulk insert: a hundred thousand rows in a few executemany calls.
        db.session.execute(OutboxMessage.__table__.insert(), rows[start : start + 10_000])
    campaign.queued_at = now
    campaign.left_out = {"counts": {k: v for k, v in counts.items() if v}, "people": people}
    _set_status(
        actor,
        campaign,
        CampaignStatus.SENDING,
        f"Queued for {len(rows)} recipient{'s' if len(rows) != 1 else ''}; "
        f"{sum(counts.values())} left out",
    )
    queueing.queue_sending(campaign.id, len(rows))
    return QueueResult(queued=len(rows), left_out=campaign.left_out["counts"])


def left_out_preview(campaign: Campaign) -> dict[str, int]:
    """Before sending: how many would be left out, by reason (same rules as the send)."""
    counts = dict.fromkeys(["included", *LEFT_OUT_REASONS], 0)
    for _row, _address, reason in _classify(campaign):
        counts[reason or "included"] += 1
    return {k: v for k, v in counts.items() if v or k == "included"}


def start_due_campaigns(now: datetime | None = None) -> list[Campaign]:
    """Queue every scheduled campaign whose time has come (the worker calls this)."""
    now = now or utcnow()
    due = list(
        db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.scheduled_at <= now)
            .order_by(Campaign.scheduled_at)
        )
    )
    started = []
    for campaign in due:
        try:
            with db.session.begin_nested():
                queue_campaign(None, campaign, now=now)
            started.append(campaign)
        except IntegrityError:  # queued by someone else a moment ago
            continue
        except OperationError as exc:
            db.session.refresh(campaign)
            if campaign.status is not CampaignStatus.SCHEDULED:
                continue  # someone else started it
            campaign.cancelled_at = now
            _set_status(None, campaign, CampaignStatus.CANCELLED, f"Not sent: {exc.message}")
    return started


def finish_campaigns(now: datetime | None = None) -> int:
    """Sending campaigns with nothing left queued or in flight are sent."""
    now = now or utcnow()
    pending = (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.campaign_id == Campaign.id,
            OutboxMessage.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
        )
        .exists()
    )
    stmt = sa.select(Campaign).where(Campaign.status == CampaignStatus.SENDING, ~pending)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two workers finishing the same campaign at once: one of them does it.
        stmt = stmt.with_for_update(skip_locked=True)
    done = list(db.session.scalars(stmt))
    for campaign in done:
        campaign.finished_at = now
        _set_status(None, campaign, CampaignStatus.SENT, "Sent: nothing left in the outbox")
    return len(done)


# --- unsubscribe -----------------------------------------------------------------------------


def unsubscribe(message: OutboxMessage, source: str) -> bool:
    """The person clicked the link: consent withdrawn with time and source. True if it changed."""
    now = utcnow()
    if message.unsubscribed_at is None:
        message.unsubscribed_at = now
    return withdraw_address(message.email, source, contact_id=message.contact_id)


def withdraw_address(email: str, source: str, *, contact_id: int | None = None) -> bool:
    """The address unsubscribed: every record holding it (and the one a message went to)."""
    now = utcnow()
    holders = list(
        db.session.scalars(
            sa.select(Contact).where(
                sa.or_(
                    Contact.id == (contact_id or 0),
                    sa.func.lower(Contact.email) == email.strip().lower(),
                ),
                Contact.erased_at.is_(None),
                Contact.consent_status != ConsentStatus.WITHDRAWN,
            )
        )
    )
    for contact in holders:
        old = contact.consent_status.value
        contact.consent_status = ConsentStatus.WITHDRAWN
        contact.consent_source = source[:100]
        contact.consent_at = now
        contact.touch(None)
        audit.record(
            None,
            AuditAction.UPDATE,
            "contact",
            contact.id,
            summary=f"Unsubscribed: {source}"[:300],
            changes={"consent_status": [old, ConsentStatus.WITHDRAWN.value]},
        )
    db.session.flush()
    return bool(holders)


def choose_topics(message: OutboxMessage, wanted: list[str]) -> list[Purpose]:
    """The person's preference page: the kinds of email they still want. Returns the ones
    they no longer want."""
    try:
        keep = {Purpose(w) for w in wanted}
    except ValueError:
        raise OperationError("That is not one of our kinds of email.", field="topics") from None
    contact = message.contact
    if contact is None or contact.erased_at is not None:
        raise OperationError("We no longer hold your details, so there is nothing to change.")
    before = set(
        db.session.scalars(sa.select(TopicOptOut.topic).where(TopicOptOut.contact_id == contact.id))
    )
    after = set(Purpose) - keep
    for topic in before - after:
        db.session.execute(
            sa.delete(TopicOptOut).where(
                TopicOptOut.contact_id == contact.id, TopicOptOut.topic == topic
            )
        )
    for topic in sorted(after - before):
        db.session.add(TopicOptOut(contact_id=contact.id, topic=topic))
    if before != after:
        audit.record(
            None,
            AuditAction.UPDATE,
            "contact",
            contact.id,
            summary="Email topics chosen on the preference page",
            changes={
                "topics not wanted": [
                    ", ".join(sorted(t.label for t in before)) or "none",
                    ", ".join(sorted(t.label for t in after)) or "none",
                ]
            },
        )
    db.session.flush()
    return sorted(after, key=list(Purpose).index)
