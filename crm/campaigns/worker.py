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

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

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
from crm.core.db import UTCDateTime, rows_touched, utcnow
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


# The hot path's statements, built once per engine: building a statement (and the `IN` of a
# thousand ids) cost more than running it. A batch's ids go as one parameter, :ids. No
# parameter is named as a column: Core would take it for a value to set.
_outbox = OutboxMessage.__table__
_now = sa.bindparam("at", type_=UTCDateTime())
_GONE = (
    "Not sent: since queued, the person withdrew consent, declined this topic, was erased or "
    "their address was suppressed."
)
_ANSWERED = "Not sent: the person answered the consultation after the reminder was queued."


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _ids_value(ids: list[int]) -> str | list[int]:
    return json.dumps(ids) if _dialect() == "sqlite" else ids


@cache
def _among_ids(dialect: str) -> sa.ColumnElement[bool]:
    """`outbox_message.id` among :ids (SQLite: a JSON array; PostgreSQL: an array)."""
    if dialect == "sqlite":
        listed = sa.func.json_each(sa.bindparam("ids", type_=sa.String)).table_valued("value")
        return _ID.in_(sa.select(listed.c.value).scalar_subquery())
    return _outbox.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Integer)))


@cache
def _claim_statement(dialect: str, one_campaign: bool):
    """Mark up to :max_rows due messages (of :only_campaign) as sent by :by_job, returning their
    ids: one statement (PostgreSQL: rows another worker holds are skipped, not waited for)."""
    sending = sa.select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
    due = (
        sa.select(_ID)
        .where(
            _outbox.c.status == MessageStatus.QUEUED,
            _outbox.c.next_attempt_at <= _now,
            _outbox.c.campaign_id.in_(sending),  # never a cancelled campaign's
        )
        .order_by(_outbox.c.status, _outbox.c.next_attempt_at, _ID)
        .limit(sa.bindparam("max_rows", type_=sa.Integer))
    )
    if one_campaign:
        due = due.where(_outbox.c.campaign_id == sa.bindparam("only_campaign", type_=sa.Integer))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (
        sa.update(_outbox)
        .where(_ID.in_(due.scalar_subquery()))
        .values(
            status=MessageStatus.SENDING,
            claimed_at=_now,
            claimed_job_id=sa.bindparam("by_job", type_=sa.Integer),
            attempts=_outbox.c.attempts + 1,
        )
        .returning(_ID)
    )


@cache
def _claimed_statement(dialect: str, reminding: bool):
    """What the messages :ids need (their person's merge fields), and whether each is still
    wanted: people who since withdrew consent, were erased, were suppressed or declined the
    campaign's topic (`gone`), or answered the consultation a reminder is about (`answered`),
    are not mailed (they were fine when the campaign was queued)."""
    m = _outbox.c
    suppressed = (
        sa.select(Suppression.id)
        .where(sa.func.lower(Suppression.email) == sa.func.lower(m.email))
        .exists()
    )
    its = Campaign.__table__.alias("its_campaign")  # an alias: `answered` has its own
    opted_out = (
        sa.select(TopicOptOut.contact_id)
        .where(TopicOptOut.contact_id == m.contact_id, TopicOptOut.topic == its.c.purpose)
        .exists()
    )
    fine = sa.and_(
        Contact.consent_status == ConsentStatus.GRANTED,
        Contact.erased_at.is_(None),
        ~suppressed,
        ~opted_out,
    )
    answered: sa.ColumnElement[bool] = sa.false()
    if reminding:
        answered = (
            sa.select(Response.id)
            .join(Campaign, Campaign.consultation_id == Response.consultation_id)
            .where(
                Campaign.id == m.campaign_id,
                Campaign.segment_id.is_(None),
                Response.contact_id == m.contact_id,
                Response.submitted_at.is_not(None),
            )
            .exists()
        )
    return (
        sa.select(
            m.id, m.campaign_id, m.email, m.message_key, m.attempts, m.contact_id,
            Contact.first_name, Contact.last_name, Organization.name, Contact.country,
            sa.case((fine, False), else_=True).label("gone"),  # no contact: gone too
            sa.case((answered, True), else_=False).label("answered"),
        )
        .select_from(
            _outbox.join(its, its.c.id == m.campaign_id)
            .outerjoin(Contact, Contact.id == m.contact_id)
            .outerjoin(Organization, Organization.id == Contact.organization_id)
        )
        .where(_among_ids(dialect))
        .order_by(m.id)
    )  # fmt: skip


@cache
def _withdraw_statement(dialect: str):
    """Claimed messages no longer wanted: cancelled with :reason, their attempt not counted."""
    return (
        sa.update(_outbox)
        .where(_among_ids(dialect))
        .values(
            status=MessageStatus.CANCELLED,
            claimed_at=None,
            claimed_job_id=None,
            attempts=_outbox.c.attempts - 1,
            error=sa.bindparam("reason", type_=sa.String),
        )
    )


@cache
def _sent_statement(dialect: str):
    return (
        sa.update(_outbox)
        .where(_among_ids(dialect))
        .values(
            status=MessageStatus.SENT,
            sent_at=_now,
            provider_id=sa.bindparam("provider_ref", type_=sa.String),
            claimed_at=None,
            claimed_job_id=None,
            error=None,
        )
    )


def _reminding() -> bool:
    """Is a consultation reminder (no segment) being sent? A row lookup: only then is each
    message checked against the consultation's answers."""
    return (
        db.session.scalar(
            sa.select(Campaign.id)
            .where(
                Campaign.status == CampaignStatus.SENDING,
                Campaign.segment_id.is_(None),
                Campaign.consultation_id.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def claim(
    limit: int, now: datetime, *, campaign_id: int | None = None, job_id: int | None = None
) -> list[delivery.Pending]:
    """Up to `limit` due messages (of one campaign, when given), marked as being sent by
    `job_id`, with what rendering them needs; those no longer wanted are cancelled instead.
    All in one transaction, committed before anything is sent: an update that returns the
    ids, a read of their people, and (rarely) the cancelling."""
    dialect = _dialect()
    ids = list(
        db.session.scalars(
            _claim_statement(dialect, campaign_id is not None),
            {"at": now, "max_rows": limit, "only_campaign": campaign_id, "by_job": job_id},
        )
    )
    if not ids:
        db.session.commit()
        return []
    rows = db.session.execute(
        _claimed_statement(dialect, _reminding()), {"ids": _ids_value(ids)}
    ).all()
    gone = [row.id for row in rows if row.gone]
    answered = [row.id for row in rows if row.answered and not row.gone]
    for withdrawn, error in ((gone, _GONE), (answered, _ANSWERED)):
        if withdrawn:
            db.session.execute(
                _withdraw_statement(dialect), {"ids": _ids_value(withdrawn), "reason": error}
            )
    db.session.commit()
    return [
        delivery.Pending(i, campaign, email, key, attempts, first or "", last or "", org or "",
                         country, contact)
        for i, campaign, email, key, attempts, contact, first, last, org, country, no, ans in rows
        if not (no or ans)
    ]  # fmt: skip


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
    messages: list[delivery.Pending],
    now: datetime,
    composers: dict[int, delivery.Composer] | None = None,
) -> tuple[list[tuple[delivery.Batch, list[delivery.Pending]]], int]:
    """The requests for claimed messages, campaign by campaign: [(batch, what it carries)],
    and how many could not be rendered (failed with the reason, committed). `composers`, kept
    by the caller from batch to batch, saves reading and preparing each campaign again."""
    composers = {} if composers is None else composers
    failed = 0
    requests: list[tuple[delivery.Batch, list[delivery.Pending]]] = []
    by_campaign: dict[int, list[delivery.Pending]] = defaultdict(list)
    for m in messages:
        by_campaign[m.campaign_id].append(m)
    for campaign_id, group in by_campaign.items():
        unrenderable: list = []
        try:
            if campaign_id not in composers:
                campaign = db.session.get(Campaign, campaign_id)
                # Messages go with their campaign (ON DELETE CASCADE): it is there.
                assert campaign is not None, f"campaign #{campaign_id} is gone"
                composers[campaign_id] = delivery.Composer(campaign)
            requests += composers[campaign_id].batches(group, unrenderable)
        except Exception as exc:  # a template that no longer renders: fail, never loop
            _record_failure(
                group, delivery.DeliveryError(f"Could not render the message: {exc}", status=0), now
            )
            failed += len(group)
            continue
        for message, reason in unrenderable:
            _record_failure([message], delivery.DeliveryError(reason, status=0), now)
            failed += 1
    if db.session().in_transaction():  # a campaign read, a failure recorded: not held open
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
            _sent_statement(_dialect()),
            {
                "ids": _ids_value([m.id for m in carried]),
                "at": utcnow(),
                "provider_ref": result.provider_id[:100] or None,
            },
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
