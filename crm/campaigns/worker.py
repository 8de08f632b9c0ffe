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
from sqlalchemy.orm import selectinload

from crm.campaigns import delivery, operations
from crm.campaigns.models import Campaign, MessageStatus, OutboxMessage, WorkerLease
from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.extensions import db

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


def claim(limit: int, now: datetime) -> list[OutboxMessage]:
    ids_stmt = (
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == MessageStatus.QUEUED, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.status, OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if _postgres():
        ids_stmt = ids_stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(ids_stmt))
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
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .options(
                selectinload(OutboxMessage.contact).selectinload(Contact.organization),
                selectinload(OutboxMessage.campaign).selectinload(Campaign.event),
            )
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def _record_failure(messages: list[OutboxMessage], error: delivery.DeliveryError, now) -> None:
    retry = delivery.is_retryable(error)
    for m in messages:
        m.error = error.reason[:500]
        m.claimed_at = None
        if retry and m.attempts < MAX_ATTEMPTS:
            m.status = MessageStatus.QUEUED
            m.next_attempt_at = error.retry_at or now + backoff(m.attempts)
        else:
            m.status = MessageStatus.FAILED
            if retry:
                m.error = f"Gave up after {m.attempts} attempts: {error.reason}"[:500]


def deliver(provider, messages: list[OutboxMessage], now: datetime) -> dict[str, int]:
    """Send claimed messages, campaign by campaign, and record what happened to each."""
    outcome = {"sent": 0, "retry": 0, "failed": 0}
    by_campaign: dict[int, list[OutboxMessage]] = defaultdict(list)
    for m in messages:
        by_campaign[m.campaign_id].append(m)
    for group in by_campaign.values():
        campaign = group[0].campaign
        try:
            batches = delivery.batches_for(campaign, group)
        except Exception as exc:  # a template that no longer renders: fail, never loop
            _record_failure(
                group, delivery.DeliveryError(f"Could not render the message: {exc}", status=0), now
            )
            outcome["failed"] += len(group)
            continue
        for batch, carried in batches:
            try:
                accepted = provider.send_batch(batch)
            except delivery.DeliveryError as exc:
                _record_failure(carried, exc, now)
                bucket = (
                    "retry" if all(m.status is MessageStatus.QUEUED for m in carried) else "failed"
                )
                outcome[bucket] += len(carried)
                continue
            sent_at = utcnow()
            for m in carried:
                m.status = MessageStatus.SENT
                m.sent_at = sent_at
                m.provider_id = accepted.provider_id[:100] or None
                m.claimed_at = None
                m.error = None
            outcome["sent"] += len(carried)
            db.session.commit()  # what was accepted stays recorded even if a later batch dies
    db.session.flush()
    return outcome


def drain_once(provider, *, batch_size: int = 1000, now: datetime | None = None) -> dict[str, int]:
    """One round: start due campaigns, claim a batch, send it, finish campaigns."""
    now = now or utcnow()
    operations.start_due_campaigns(now)
    reclaim(now)
    db.session.commit()
    messages = claim(batch_size, now)
    outcome = deliver(provider, messages, now) if messages else {"sent": 0, "retry": 0, "failed": 0}
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
            outcome = drain_once(provider, batch_size=batch_size)
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
