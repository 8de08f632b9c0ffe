"""`flask crm worker`: drains the outbox.

Each round claims up to a batch of due messages and commits the claim (status "sending"), sends
them, then records each result and commits again. A worker killed mid-round leaves its claim as
"sending"; the claim is taken back after the lease, so at most the batch in flight is sent twice.

PostgreSQL: several workers share the outbox, each claiming rows with FOR UPDATE SKIP LOCKED.
SQLite cannot lock rows, so one worker at a time holds a lease row; others wait for it.
"""

from __future__ import annotations

import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.campaigns import delivery, operations
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Suppression,
    TopicOptOut,
    WorkerLease,
)
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.extensions import db
from crm.organizations.models import Organization

CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this belongs to a dead worker
SQLITE_LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
LEASE_NAME = "outbox"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def take_lease(holder: str, now: datetime | None = None) -> bool:
    """SQLite's single-worker lock: True when `holder` has (or renewed) the lease."""
    now = now or utcnow()
    expires = now + SQLITE_LEASE
    taken = db.session.execute(
        sa.update(WorkerLease)
        .where(
            WorkerLease.name == LEASE_NAME,
            sa.or_(WorkerLease.holder == holder, WorkerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        lease = db.session.get(WorkerLease, LEASE_NAME)
        if lease is not None:
            if not _take_from_the_dead(lease, holder, expires):
                db.session.commit()
                return False
        else:
            try:
                with db.session.begin_nested():
                    db.session.add(WorkerLease(name=LEASE_NAME, holder=holder, expires_at=expires))
            except IntegrityError:
                db.session.commit()
                return False
    db.session.commit()
    return True


def _take_from_the_dead(lease: WorkerLease, holder: str, expires: datetime) -> int:
    """A holder on this machine whose process is gone (killed) need not be waited for."""
    host, _, pid = lease.holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
        return 0
    return db.session.execute(
        sa.update(WorkerLease)
        .where(WorkerLease.name == LEASE_NAME, WorkerLease.holder == lease.holder)
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    ).rowcount


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_lease(holder: str) -> None:
    db.session.execute(
        sa.delete(WorkerLease).where(WorkerLease.name == LEASE_NAME, WorkerLease.holder == holder)
    )
    db.session.commit()


def withdraw_cancelled() -> int:
    """Messages of a campaign cancelled while they were in flight or waiting to retry."""
    cancelled = sa.select(Campaign.id).where(Campaign.status == CampaignStatus.CANCELLED)
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.campaign_id.in_(cancelled),
        )
        .values(status=MessageStatus.CANCELLED, error="The campaign was cancelled.")
        .execution_options(synchronize_session=False)
    ).rowcount


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
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), sa.or_(~consenting, suppressed, opted_out))
        .values(
            status=MessageStatus.CANCELLED,
            claimed_at=None,
            error="Not sent: since queued, the person withdrew consent, declined this topic, "
            "was erased or their address was suppressed.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def withdraw_answered(ids: list[int]) -> int:
    """Just before sending a consultation reminder (no segment): people who have answered
    since it was queued are not reminded."""
    from crm.consultations.models import Response

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
    return db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids), OutboxMessage.status == MessageStatus.QUEUED, answered
        )
        .values(
            status=MessageStatus.CANCELLED,
            claimed_at=None,
            error="Not sent: the person answered the consultation after the reminder was queued.",
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def reclaim(now: datetime, *, everything: bool = False) -> int:
    """Claims of dead workers go back to the queue (all of them when no other worker runs)."""
    stmt = sa.update(OutboxMessage).where(OutboxMessage.status == MessageStatus.SENDING)
    if not everything:
        stmt = stmt.where(OutboxMessage.claimed_at < now - CLAIM_LEASE)
    return db.session.execute(
        stmt.values(status=MessageStatus.QUEUED, claimed_at=None).execution_options(
            synchronize_session=False
        )
    ).rowcount


def claim(limit: int, now: datetime) -> list[delivery.Pending]:
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
    if _postgres():
        ids_stmt = ids_stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(ids_stmt))
    if ids and withdraw_no_longer_wanted(ids) + withdraw_answered(ids):
        ids = list(
            db.session.scalars(
                sa.select(OutboxMessage.id).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.status == MessageStatus.QUEUED
                )
            )
        )
    if not ids:
        db.session.commit()
        return []
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=MessageStatus.SENDING,
            claimed_at=now,
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
        .where(OutboxMessage.id.in_(ids))
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
            .where(OutboxMessage.id.in_([m.id for m in messages]))
            .values(
                status=MessageStatus.QUEUED,
                claimed_at=None,
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
            .where(OutboxMessage.id.in_([m.id for m in given_up]))
            .values(status=MessageStatus.FAILED, claimed_at=None, error=reason[:500])
            .execution_options(synchronize_session=False)
        )
    return "retry" if again and not given_up else "failed"


def deliver(
    provider,
    messages: list[delivery.Pending],
    now: datetime,
    heartbeat: Callable[[list[int]], bool] | None = None,
) -> dict[str, int]:
    """Send claimed messages, campaign by campaign, and record what happened to each.

    `heartbeat` runs after each request with the ids still in hand; False (the lease was lost
    to another worker) stops the round at once, so nothing is sent twice."""
    outcome = {"sent": 0, "retry": 0, "failed": 0}
    by_campaign: dict[int, list[delivery.Pending]] = defaultdict(list)
    for m in messages:
        by_campaign[m.campaign_id].append(m)
    in_hand = {m.id for m in messages}
    for campaign_id, group in by_campaign.items():
        campaign = db.session.get(Campaign, campaign_id)
        unrenderable: list = []
        try:
            batches = delivery.batches_for(campaign, group, unrenderable)
        except Exception as exc:  # a template that no longer renders: fail, never loop
            _record_failure(
                group, delivery.DeliveryError(f"Could not render the message: {exc}", status=0), now
            )
            outcome["failed"] += len(group)
            db.session.commit()
            in_hand -= {m.id for m in group}
            continue
        for message, reason in unrenderable:
            _record_failure([message], delivery.DeliveryError(reason, status=0), now)
            outcome["failed"] += 1
            in_hand.discard(message.id)
        db.session.commit()
        for batch, carried in batches:
            try:
                accepted = provider.send_batch(batch)
            except delivery.DeliveryError as exc:
                outcome[_record_failure(carried, exc, now)] += len(carried)
                db.session.commit()
                continue
            db.session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id.in_([m.id for m in carried]))
                .values(
                    status=MessageStatus.SENT,
                    sent_at=utcnow(),
                    provider_id=accepted.provider_id[:100] or None,
                    claimed_at=None,
                    error=None,
                )
                .execution_options(synchronize_session=False)
            )
            outcome["sent"] += len(carried)
            db.session.commit()  # what was accepted stays recorded even if a later batch dies
            in_hand -= {m.id for m in carried}
            if heartbeat is not None and in_hand and not heartbeat(sorted(in_hand)):
                return outcome
    return outcome


def keep_claim(ids: list[int], holder: str | None) -> bool:
    """Between requests: the claim stays fresh (and on SQLite the lease renewed)."""
    if holder is not None and not take_lease(holder):
        return False
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == MessageStatus.SENDING)
        .values(claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return True


def drain_once(
    provider, *, batch_size: int = 1000, now: datetime | None = None, holder: str | None = None
) -> dict[str, int]:
    """One round: start due campaigns, claim a batch, send it, finish campaigns.

    `holder`: the SQLite lease holder, renewed between requests."""
    now = now or utcnow()
    operations.start_due_campaigns(now)
    reclaim(now)
    withdraw_cancelled()
    db.session.commit()
    messages = claim(batch_size, now)
    outcome = (
        deliver(provider, messages, now, heartbeat=lambda ids: keep_claim(ids, holder))
        if messages
        else {"sent": 0, "retry": 0, "failed": 0}
    )
    operations.finish_campaigns(now)
    db.session.commit()
    outcome["claimed"] = len(messages)
    return outcome


def run(
    provider,
    *,
    batch_size: int = 1000,
    once: bool = False,
    idle_seconds: float = 5.0,
    echo: Callable[[str], None] = print,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    holder = worker_name()
    single = not _postgres()
    has_lease = False
    try:
        while not should_stop():
            if single:
                fresh = not has_lease
                has_lease = take_lease(holder)
                if not has_lease:
                    if once:
                        echo("Another worker holds the outbox (SQLite runs one at a time).")
                        return
                    time.sleep(idle_seconds)
                    continue
                if fresh:
                    taken_back = reclaim(utcnow(), everything=True)
                    db.session.commit()
                    if taken_back:
                        echo(f"Took back {taken_back} message(s) a stopped worker had claimed.")
            outcome = drain_once(provider, batch_size=batch_size, holder=holder if single else None)
            if outcome["claimed"]:
                echo(
                    f"sent {outcome['sent']}, to retry {outcome['retry']}, "
                    f"failed {outcome['failed']}"
                )
            elif once:
                return
            else:
                time.sleep(idle_seconds)
            if once and not outcome["claimed"]:
                return
    finally:
        db.session.rollback()
        if single and has_lease:
            release_lease(holder)
