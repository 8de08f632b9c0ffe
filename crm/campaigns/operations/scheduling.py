"""Scheduling a campaign, taking it back to draft, and cancelling it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from crm.campaigns import counting, queueing
from crm.campaigns.models import Campaign, CampaignStatus, MessageStatus, OutboxMessage
from crm.campaigns.operations.lifecycle import ready, set_status
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.jobs import enqueue
from crm.core.jobs.queue import cancel_queued
from crm.extensions import db


def schedule_campaign(actor, campaign: Campaign, when: datetime | None, *, now=None) -> None:
    now = now or utcnow()
    if campaign.status is not CampaignStatus.DRAFT:
        raise OperationError("Only a draft can be scheduled.")
    ready(campaign)
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
    set_status(
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
    set_status(actor, campaign, CampaignStatus.DRAFT, "Back to draft")


def cancel_campaign(actor, campaign: Campaign) -> int:
    """Stop it: nothing more is sent. Returns how many queued messages were withdrawn."""
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
        raise OperationError(f"A {campaign.status.label.lower()} campaign cannot be cancelled.")
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.status == MessageStatus.QUEUED,
        )
        .values(status=MessageStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    withdrawn = rows_touched(result)
    counting.move(campaign.id, MessageStatus.QUEUED, MessageStatus.CANCELLED, withdrawn)
    campaign.cancelled_at = utcnow()
    set_status(
        actor,
        campaign,
        CampaignStatus.CANCELLED,
        f"Cancelled; {withdrawn} queued message{'s' if withdrawn != 1 else ''} not sent",
    )
    return withdrawn
