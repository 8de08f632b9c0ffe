"""Campaign sending as jobs.

Sending a campaign (now, or when its scheduled time comes) writes its outbox and queues
`campaigns.send` jobs in a few lanes (`CRM_CAMPAIGN_SEND_LANES`, 4), so several workers send one
campaign together. Each job claims a batch of that campaign's due messages and sends it, then
the next, for up to two seconds; if due messages remain, it queues the next job of its lane; the
campaign is marked sent when nothing is left. Messages put back for a later try get a job at
that time. A tick every minute starts scheduled campaigns that are due, takes back claims
nobody will, and gives a job to any sending campaign that has due messages and none.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from crm.campaigns import counting, delivery, in_flight, worker
from crm.campaigns.models import Campaign, CampaignStatus, MessageStatus, OutboxMessage
from crm.campaigns.operations import sending as send_ops
from crm.campaigns.queueing import SEND, START, TICK, batch_size, queue_sending
from crm.core.db import utcnow
from crm.core.jobs import Job, JobContext, JobStatus, enqueue, handler, periodic
from crm.extensions import db

SEND_FOR = 2.0  # seconds a sending job goes on with the next batch before handing over


def _describe(payload: dict) -> str:
    campaign = db.session.get(Campaign, payload.get("campaign_id") or 0)
    return campaign.name if campaign is not None else f"Campaign #{payload.get('campaign_id')}"


@handler(SEND, label="Campaign sending", max_attempts=10, describe=_describe)
def send_batch(payload: dict, job: JobContext) -> dict:
    campaign_id = int(payload["campaign_id"])
    now = utcnow()
    taken_back = 0
    if job.attempts > 1:  # an earlier run of this job was cut short: its claims come back
        taken_back = worker.reclaim(now, job_id=job.id)
        db.session.commit()
    provider = delivery.get_batch_provider()
    # Batch after batch for up to SEND_FOR, several requests in flight (each request's result
    # committed on its own, so a worker killed meanwhile resends at most those in flight): a
    # job and its successor per batch cost more than a direct loop; other jobs wait at most
    # that long for this worker. The sweep before sending and the finishing after it run once
    # a job, not once a batch.
    worker.sweep(now)
    until = time.monotonic() + SEND_FOR

    def go_on(so_far: dict[str, int]) -> bool:
        job.progress(so_far["sent"] + so_far["failed"], so_far["claimed"])
        return not job.should_stop() and time.monotonic() < until

    total = in_flight.send(
        provider,
        campaign_id=campaign_id,
        job_id=job.id,
        batch_size=batch_size(),
        in_flight=current_app.config["CAMPAIGN_REQUESTS_IN_FLIGHT"],
        go_on=go_on,
    )
    job.progress(total["sent"] + total["failed"], total["claimed"])
    exhausted = total.pop("exhausted")
    send_ops.finish_campaigns(utcnow())
    counting.refresh([campaign_id])  # the campaigns list reads these
    db.session.commit()
    if not exhausted and _due(campaign_id):
        queue_sending(campaign_id, 1)  # this lane goes on
    elif total["retry"]:
        _follow_up(campaign_id)
    return {**total, "taken_back": taken_back}


def _due(campaign_id: int) -> bool:
    return (
        db.session.scalar(
            sa.select(OutboxMessage.id)
            .where(
                OutboxMessage.campaign_id == campaign_id,
                OutboxMessage.status == MessageStatus.QUEUED,
                OutboxMessage.next_attempt_at <= utcnow(),
            )
            .limit(1)
        )
        is not None
    )


def _follow_up(campaign_id: int) -> None:
    """Messages put back for later get a sending job at the earliest of their times."""
    at = db.session.scalar(
        sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.campaign_id == campaign_id,
            OutboxMessage.status == MessageStatus.QUEUED,
        )
    )
    if at is not None:
        enqueue(
            SEND,
            {"campaign_id": campaign_id},
            run_at=at,
            unique_key=f"{SEND}:{campaign_id}:retry:{at:%Y%m%dT%H%M%S}",
        )


@handler(START, label="Scheduled campaign", describe=_describe)
def start_scheduled(payload: dict, job: JobContext) -> dict:
    started = send_ops.start_due_campaigns(utcnow())
    return {"started": [c.id for c in started]}


@handler(TICK, label="Campaign upkeep")
def tick(payload: dict, job: JobContext) -> dict:
    """The safety net: due campaigns started, abandoned claims taken back, every sending
    campaign with due messages given a job, finished campaigns marked sent."""
    now = utcnow()
    started = send_ops.start_due_campaigns(now)
    taken_back = worker.reclaim(now)
    healed = 0
    for campaign_id, due in _sending_without_a_job(now):
        healed += queue_sending(campaign_id, due)
    finished = send_ops.finish_campaigns(now)
    counting.refresh(counting.behind(), now)
    return {
        "started": len(started),
        "taken_back": taken_back,
        "jobs_added": healed,
        "finished": finished,
    }


def _sending_without_a_job(now: datetime) -> list[tuple[int, int]]:
    due = db.session.execute(
        sa.select(OutboxMessage.campaign_id, sa.func.count())
        .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
        .where(
            Campaign.status == CampaignStatus.SENDING,
            OutboxMessage.status == MessageStatus.QUEUED,
            OutboxMessage.next_attempt_at <= now,
        )
        .group_by(OutboxMessage.campaign_id)
    ).all()
    lonely = []
    for campaign_id, count in due:
        live = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Job)
            .where(
                Job.unique_key.like(f"{SEND}:{campaign_id}:%"),
                Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
            )
        )
        if not live:
            lonely.append((campaign_id, count))
    return lonely


periodic(TICK, every=timedelta(minutes=1))
