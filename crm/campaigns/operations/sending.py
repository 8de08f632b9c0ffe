"""Sending: who receives a campaign and who is left out (and why), queueing one outbox row
per recipient, and the worker's start of campaigns that are due and finish of those sent.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.campaigns import outbox_rows, queueing, segments
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Suppression,
    TopicOptOut,
)
from crm.campaigns.operations.lifecycle import ready, set_status
from crm.consultations.queries import not_answered_ids
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
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
    result = db.session.execute(
        sa.update(Campaign)
        .where(
            Campaign.id == campaign.id,
            Campaign.status.in_([CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]),
        )
        .values(version=Campaign.version)
        .execution_options(synchronize_session=False)
    )
    claimed = rows_touched(result)
    if not claimed:
        raise OperationError("This campaign is already being sent.")
    ready(campaign)
    rows: list[tuple] = []
    counts = dict.fromkeys(LEFT_OUT_REASONS, 0)
    people: list[dict] = []
    for (contact_id, first, last, *_rest), address, reason in _classify(campaign):
        if reason is None:
            rows.append((campaign.id, contact_id, address, secrets.token_hex(16)))
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
    outbox_rows.write(rows, now)
    campaign.queued_at = now
    campaign.left_out = {"counts": {k: v for k, v in counts.items() if v}, "people": people}
    set_status(
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
            set_status(None, campaign, CampaignStatus.CANCELLED, f"Not sent: {exc.message}")
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
        set_status(None, campaign, CampaignStatus.SENT, "Sent: nothing left in the outbox")
    return len(done)
