"""Sending: who receives a campaign and who is left out (and why), queueing one outbox row
per recipient, and the worker's start of campaigns that are due and finish of those sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.campaigns import counting, outbox_rows, queueing, segments
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


# An address worth trying; the same pattern for PostgreSQL's `~` and Python's `re`.
PLAUSIBLE = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"


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


def _audience(campaign: Campaign) -> list:
    """The conditions on Contact of everyone the campaign is for (its segment, or for a
    consultation reminder without one, everyone invited who has not answered), consent or not:
    who is left out for lack of it is part of the answer."""
    if campaign.segment is not None:
        criteria = segments.Criteria.from_dict(campaign.segment.criteria)
        criteria.consent_only = False
        return segments.conditions(criteria)
    if campaign.consultation is not None:
        # Counted now, not when the draft was made: whoever answered since is not reminded.
        return [
            Contact.erased_at.is_(None),
            Contact.id.in_(not_answered_ids(campaign.consultation)),
        ]
    return [sa.false()]


def classified(campaign: Campaign) -> sa.Subquery:
    """Everyone in the audience with the reason they are left out (NULL: they get it), as
    (id, first_name, last_name, address, reason): worked out by the database in one pass, not
    a Python loop over a row per person. The reasons are tried in `LEFT_OUT_REASONS`' order;
    of several people sharing an address, the first (by id) who is not left out gets it."""
    address = sa.func.lower(sa.func.trim(sa.func.coalesce(Contact.email, "")))
    opted_out = (
        sa.exists()
        .where(TopicOptOut.contact_id == Contact.id, TopicOptOut.topic == campaign.purpose)
        .correlate(Contact)
    )
    consent = Contact.consent_status
    reason = sa.case(
        (address == "", "no_email"),
        (consent == ConsentStatus.WITHDRAWN, "withdrawn"),
        (sa.or_(consent.is_(None), consent != ConsentStatus.GRANTED), "not_asked"),
        (opted_out, "topic"),
        (Suppression.id.is_not(None), "suppressed"),
        # REGEXP: PostgreSQL's own; on SQLite, SQLAlchemy registers Python's re for it.
        (sa.or_(sa.func.length(address) > 254, ~address.regexp_match(PLAUSIBLE)), "invalid"),
        else_=sa.null(),
    )
    base = (
        sa.select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            address.label("address"),
            reason.label("reason"),
        )
        .outerjoin(Suppression, sa.func.lower(Suppression.email) == sa.func.lower(Contact.email))
        .where(*_audience(campaign))
        .subquery("base")
    )
    included = base.c.reason.is_(None)
    place = sa.func.row_number().over(partition_by=(included, base.c.address), order_by=base.c.id)
    return sa.select(
        base.c.id,
        base.c.first_name,
        base.c.last_name,
        base.c.address,
        sa.case((sa.and_(included, place > 1), "duplicate"), else_=base.c.reason).label("reason"),
    ).subquery("classified")


# Where an enqueue keeps its classified audience while it writes the outbox and counts who was
# left out: the classification (a regular expression and a window over everyone) runs once,
# not once per statement. Temporary: each connection has its own, gone with it.
_staged = sa.Table(
    "campaign_audience",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("first_name", sa.String),
    sa.Column("last_name", sa.String),
    sa.Column("address", sa.String),
    sa.Column("reason", sa.String),
    prefixes=["TEMPORARY"],
)


@contextmanager
def _staged_audience(people: sa.Subquery) -> Iterator[sa.Table]:
    """`people` written once into a temporary table, for the block; dropped after it (on an
    error, the caller's rollback takes it away with everything else)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # For this transaction: no JIT (it spent 2.5 s compiling a plan that runs in 3 s) and
        # room to sort a large audience in memory rather than on disk.
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    _staged.create(connection)
    connection.execute(sa.insert(_staged).from_select([c.name for c in _staged.c], people))
    yield _staged
    _staged.drop(connection)


def _left_out(people: sa.FromClause) -> tuple[dict[str, int], list[dict]]:
    """How many were left out for each reason, and the first `LEFT_OUT_LISTED` of them."""
    left_out = people.c.reason.is_not(None)
    counts = dict.fromkeys(LEFT_OUT_REASONS, 0)
    for reason, n in db.session.execute(
        sa.select(people.c.reason, sa.func.count()).where(left_out).group_by(people.c.reason)
    ):
        counts[reason] = n
    listed = db.session.execute(
        sa.select(people.c.id, people.c.first_name, people.c.last_name, people.c.reason)
        .where(left_out)
        .order_by(people.c.id)
        .limit(LEFT_OUT_LISTED)
    )
    return counts, [
        {"id": i, "name": f"{first or ''} {last or ''}".strip(), "reason": reason}
        for i, first, last, reason in listed
    ]


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
    with _staged_audience(classified(campaign)) as people:
        # The outbox straight from the classification: INSERT ... SELECT, no row in Python.
        queued = outbox_rows.write_from(campaign.id, people, now)
        counts, listed = _left_out(people)
    if not queued:
        raise OperationError(
            (
                "Nobody in this segment can be emailed"
                if campaign.segment is not None
                else "Nobody invited who has not answered can be emailed"
            )
            + " (see who is left out and why), so nothing was sent."
        )
    campaign.queued_at = now
    campaign.left_out = {"counts": {k: v for k, v in counts.items() if v}, "people": listed}
    set_status(
        actor,
        campaign,
        CampaignStatus.SENDING,
        f"Queued for {queued} recipient{'s' if queued != 1 else ''}; "
        f"{sum(counts.values())} left out",
    )
    counting.start(campaign.id, queued, now)
    queueing.queue_sending(campaign.id, queued)
    return QueueResult(queued=queued, left_out=campaign.left_out["counts"])


def left_out_preview(campaign: Campaign) -> dict[str, int]:
    """Before sending: how many would be left out, by reason (same rules as the send)."""
    people = classified(campaign)
    counts = dict.fromkeys(["included", *LEFT_OUT_REASONS], 0)
    reason = sa.func.coalesce(people.c.reason, "included")
    for key, n in db.session.execute(sa.select(reason, sa.func.count()).group_by(reason)):
        counts[key] = n
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
