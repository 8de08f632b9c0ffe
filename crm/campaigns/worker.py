"""Draining the outbox: the steps of the campaign-sending jobs (`crm.campaigns.jobs`).

Each sending job claims up to a batch of due messages of its campaign and commits the claim
(status "sending", tagged with the job), sends them, then records each result and commits
again. A job cut short (its worker killed) takes its own claims back when it runs again, so at
most the batch in flight is sent twice; claims older than `CLAIM_LEASE` that no job took back
(the job was cancelled or failed) return to the queue from the periodic tick.

PostgreSQL: several workers run sending jobs at once, each claiming rows with
FOR UPDATE SKIP LOCKED. SQLite runs one worker at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.campaigns import delivery
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Suppression,
    TopicOptOut,
)
from crm.campaigns.operations import sending as send_ops
from crm.consultations.models import Response
from crm.contacts.models import ConsentStatus, Contact
from crm.core import bulk
from crm.core.db import rows_touched, utcnow
from crm.extensions import db
from crm.organizations.models import Organization

_ID = OutboxMessage.__table__.c.id  # a batch's ids go as one parameter (`bulk.among`)
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this belongs to a dead worker
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def withdraw_cancelled() -> int:
    """Messages of a campaign cancelled while they were in flight or waiting to retry."""
    cancelled = sa.select(Campaign.id).where(Campaign.status == CampaignStatus.CANCELLED)
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.campaign_id.in_(cancelled),
        )
        .values(status=MessageStatus.CANCELLED, error="The campaign was cancelled.")
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


def withdraw_no_longer_wanted(ids: list[int]) -> int:
    """Just before sending: people who since withdrew consent, were erased, were suppressed or
    declined the campaign's topic are not mailed (they were fine when the campaign was queued)."""
    suppressed = (
        sa.select(Suppression.id)
        .where(sa.func.lower(Suppression.email) == sa.func.lower(OutboxMessage.email))
        .exists()
    )
    opted_out = (
        sa.select(TopicOptOut.contact_id)
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(
            TopicOptOut.contact_id == OutboxMessage.contact_id,
            TopicOptOut.topic == Campaign.purpose,
        )
        .exists()
    )
    consenting = (
        sa.select(Contact.id)
        .where(
            Contact.id == OutboxMessage.contact_id,
            Contact.consent_status == ConsentStatus.GRANTED,
            Contact.erased_at.is_(None),
        )
        .exists()
    )
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(bulk.among(_ID, ids), sa.or_(~consenting, suppressed, opted_out))
        .values(
            status=MessageStatus.CANCELLED,
            claimed_at=None,
            error="Not sent: since queued, the person withdrew consent, declined this topic, "
            "was erased or their address was suppressed.",
        )
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


def withdraw_answered(ids: list[int]) -> int:
    """Just before sending a consultation reminder (no segment): people who have answered
    since it was queued are not reminded."""
    answered = (
        sa.select(Response.id)
        .join(Campaign, Campaign.consultation_id == Response.consultation_id)
        .where(
            Campaign.id == OutboxMessage.campaign_id,
            Campaign.segment_id.is_(None),
            Response.contact_id == OutboxMessage.contact_id,
            Response.submitted_at.is_not(None),
        )
        .exists()
    )
    reminding = sa.select(Campaign.id).where(
        Campaign.status == CampaignStatus.SENDING,
        Campaign.segment_id.is_(None),
        Campaign.consultation_id.is_not(None),
    )
    if db.session.scalar(reminding.limit(1)) is None:
        return 0  # no reminder is being sent: a row lookup, not an update of the whole batch
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            bulk.among(_ID, ids),
            OutboxMessage.status == MessageStatus.QUEUED,
            answered,
        )
        .values(
            status=MessageStatus.CANCELLED,
            claimed_at=None,
            error="Not sent: the person answered the consultation after the reminder was queued.",
        )
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


def reclaim(now: datetime, *, everything: bool = False, job_id: int | None = None) -> int:
    """Claims of dead workers go back to the queue: those older than the claim lease, those
    of one sending job (`job_id`, running again after its worker died), or all of them."""
    stmt = sa.update(OutboxMessage).where(OutboxMessage.status == MessageStatus.SENDING)
    if job_id is not None:
        stmt = stmt.where(OutboxMessage.claimed_job_id == job_id)
    elif not everything:
        stmt = stmt.where(OutboxMessage.claimed_at < now - CLAIM_LEASE)
    result = db.session.execute(
        stmt.values(
            status=MessageStatus.QUEUED, claimed_at=None, claimed_job_id=None
        ).execution_options(synchronize_session=False)
    )
    return rows_touched(result)


def claim(
    limit: int, now: datetime, *, campaign_id: int | None = None, job_id: int | None = None
) -> list[delivery.Pending]:
    """Up to `limit` due messages (of one campaign, when given), marked as being sent by
    `job_id`; the claim is committed before anything is sent."""
    sending = sa.select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
    ids_stmt = (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.campaign_id.in_(sending),  # never a cancelled campaign's
        )
        .order_by(OutboxMessage.status, OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if campaign_id is not None:
        ids_stmt = ids_stmt.where(OutboxMessage.campaign_id == campaign_id)
    if _postgres():
        ids_stmt = ids_stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(ids_stmt))
    if ids and withdraw_no_longer_wanted(ids) + withdraw_answered(ids):
        ids = list(
            db.session.scalars(
                sa.select(OutboxMessage.id).where(
                    bulk.among(_ID, ids), OutboxMessage.status == MessageStatus.QUEUED
                )
            )
        )
    if not ids:
        db.session.commit()
        return []
    db.session.execute(
        sa.update(OutboxMessage)
        .where(bulk.among(_ID, ids))
        .values(
            status=MessageStatus.SENDING,
            claimed_at=now,
            claimed_job_id=job_id,
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # Plain rows, not ORM objects: a batch is a thousand of them, and nothing here edits them.
    rows = db.session.execute(
        sa.select(
            OutboxMessage.id,
            OutboxMessage.campaign_id,
            OutboxMessage.email,
            OutboxMessage.message_key,
            OutboxMessage.attempts,
            OutboxMessage.contact_id,
            Contact.first_name,
            Contact.last_name,
            Organization.name,
            Contact.country,
        )
        .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
        .outerjoin(Organization, Organization.id == Contact.organization_id)
        .where(bulk.among(_ID, ids))
        .order_by(OutboxMessage.id)
    )
    return [
        delivery.Pending(
            id=i,
            campaign_id=campaign_id,
            email=email,
            message_key=key,
            attempts=attempts,
            first_name=first or "",
            last_name=last or "",
            organization=org or "",
            country=country,
            contact_id=contact_id,
        )
        for i, campaign_id, email, key, attempts, contact_id, first, last, org, country in rows
    ]


def _record_failure(messages: list[delivery.Pending], error: delivery.DeliveryError, now) -> str:
    """Back to the queue for later, or failed for good; returns which ("retry" or "failed")."""
    retry = delivery.is_retryable(error)
    if error.status in delivery.ACCOUNT_ERRORS:
        # Not the messages' fault: they wait (attempts not counted) until the key is fixed.
        db.session.execute(
            sa.update(OutboxMessage)
            .where(bulk.among(_ID, [m.id for m in messages]))
            .values(
                status=MessageStatus.QUEUED,
                claimed_at=None,
                claimed_job_id=None,
                attempts=OutboxMessage.attempts - 1,
                error=error.reason[:500],
                next_attempt_at=now + timedelta(minutes=10),
            )
            .execution_options(synchronize_session=False)
        )
        return "retry"
    again = [m for m in messages if retry and m.attempts < MAX_ATTEMPTS]
    given_up = [m for m in messages if m not in again]
    if again:
        db.session.execute(
            sa.update(OutboxMessage),
            [
                {
                    "id": m.id,
                    "status": MessageStatus.QUEUED,
                    "claimed_at": None,
                    "claimed_job_id": None,
                    "error": error.reason[:500],
                    "next_attempt_at": error.retry_at or now + backoff(m.attempts),
                }
                for m in again
            ],
        )
    if given_up:
        reason = (
            f"Gave up after {given_up[0].attempts} attempts: {error.reason}"
            if retry
            else error.reason
        )
        db.session.execute(
            sa.update(OutboxMessage)
            .where(bulk.among(_ID, [m.id for m in given_up]))
            .values(
                status=MessageStatus.FAILED,
                claimed_at=None,
                claimed_job_id=None,
                error=reason[:500],
            )
            .execution_options(synchronize_session=False)
        )
    return "retry" if again and not given_up else "failed"


def prepare(
    messages: list[delivery.Pending], now: datetime
) -> tuple[list[tuple[delivery.Batch, list[delivery.Pending]]], int]:
    """The requests for claimed messages, campaign by campaign: [(batch, what it carries)],
    and how many could not be rendered (failed with the reason, committed)."""
    failed = 0
    requests: list[tuple[delivery.Batch, list[delivery.Pending]]] = []
    by_campaign: dict[int, list[delivery.Pending]] = defaultdict(list)
    for m in messages:
        by_campaign[m.campaign_id].append(m)
    for campaign_id, group in by_campaign.items():
        campaign = db.session.get(Campaign, campaign_id)
        unrenderable: list = []
        try:
            # Messages go with their campaign (ON DELETE CASCADE): it is there.
            assert campaign is not None, f"campaign #{campaign_id} is gone"
            requests += delivery.batches_for(campaign, group, unrenderable)
        except Exception as exc:  # a template that no longer renders: fail, never loop
            _record_failure(
                group, delivery.DeliveryError(f"Could not render the message: {exc}", status=0), now
            )
            failed += len(group)
            continue
        for message, reason in unrenderable:
            _record_failure([message], delivery.DeliveryError(reason, status=0), now)
            failed += 1
    db.session.commit()
    return requests, failed


def record(
    carried: list[delivery.Pending],
    result: delivery.Accepted | delivery.DeliveryError,
    now: datetime,
) -> str:
    """What became of one request's messages, committed at once (what was accepted stays
    recorded even if a later request dies): "sent", "retry" or "failed"."""
    if isinstance(result, delivery.DeliveryError):
        outcome = _record_failure(carried, result, now)
    else:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(bulk.among(_ID, [m.id for m in carried]))
            .values(
                status=MessageStatus.SENT,
                sent_at=utcnow(),
                provider_id=result.provider_id[:100] or None,
                claimed_at=None,
                claimed_job_id=None,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        outcome = "sent"
    db.session.commit()
    return outcome


def post(provider, batch: delivery.Batch) -> delivery.Accepted | delivery.DeliveryError:
    """One request to the provider; its refusal as a value (this may run in another thread)."""
    try:
        return provider.send_batch(batch)
    except delivery.DeliveryError as exc:
        return exc


def deliver(
    provider,
    messages: list[delivery.Pending],
    now: datetime,
    heartbeat: Callable[[list[int]], bool] | None = None,
) -> dict[str, int]:
    """Send claimed messages, one request after another, and record what happened to each.

    `heartbeat` runs after each request with the ids still in hand; False (the lease was lost
    to another worker) stops the round at once, so nothing is sent twice."""
    outcome = {"sent": 0, "retry": 0, "failed": 0}
    requests, outcome["failed"] = prepare(messages, now)
    in_hand = {m.id for _batch, carried in requests for m in carried}
    for batch, carried in requests:
        outcome[record(carried, post(provider, batch), now)] += len(carried)
        in_hand -= {m.id for m in carried}
        if heartbeat is not None and in_hand and not heartbeat(sorted(in_hand)):
            return outcome
    return outcome


def keep_claim(ids: list[int]) -> bool:
    """Between requests: the claim stays fresh, so the periodic tick does not take it back."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(bulk.among(_ID, ids), OutboxMessage.status == MessageStatus.SENDING)
        .values(claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return True


def sweep(now: datetime) -> None:
    """Before sending: start the campaigns due, take back claims their workers left, withdraw
    what was cancelled (the minute's tick does the same between jobs)."""
    send_ops.start_due_campaigns(now)
    reclaim(now)
    withdraw_cancelled()
    db.session.commit()


def send_one_batch(
    provider,
    *,
    batch_size: int = 1000,
    now: datetime,
    campaign_id: int | None = None,
    job_id: int | None = None,
) -> dict[str, int]:
    """Claim a batch (of one campaign, when given), send it and commit: a worker killed
    afterwards resends nothing of it."""
    messages = claim(batch_size, now, campaign_id=campaign_id, job_id=job_id)
    outcome = (
        deliver(provider, messages, now, heartbeat=keep_claim)
        if messages
        else {"sent": 0, "retry": 0, "failed": 0}
    )
    db.session.commit()
    outcome["claimed"] = len(messages)
    return outcome


def drain_once(
    provider,
    *,
    batch_size: int = 1000,
    now: datetime | None = None,
    campaign_id: int | None = None,
    job_id: int | None = None,
) -> dict[str, int]:
    """One round: start due campaigns, claim a batch (of one campaign, when given), send it,
    finish the campaigns with nothing left to send."""
    now = now or utcnow()
    sweep(now)
    outcome = send_one_batch(
        provider, batch_size=batch_size, now=now, campaign_id=campaign_id, job_id=job_id
    )
    send_ops.finish_campaigns(now)
    db.session.commit()
    return outcome
