"""Reading campaigns: the list, outbox figures, recipients."""

from __future__ import annotations

import sqlalchemy as sa

from crm.campaigns.models import Campaign, MessageStatus, OutboxMessage, Segment
from crm.core.countries import country_choices
from crm.events.models import Event
from crm.extensions import db
from crm.tags.models import Tag


def all_campaigns() -> list[Campaign]:
    return list(
        db.session.scalars(sa.select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id))
    )


def all_segments() -> list[Segment]:
    return list(db.session.scalars(sa.select(Segment).order_by(Segment.name, Segment.id)))


def message_counts(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in campaign_ids}
    if not campaign_ids:
        return counts
    rows = db.session.execute(
        sa.select(OutboxMessage.campaign_id, OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.campaign_id.in_(campaign_ids))
        .group_by(OutboxMessage.campaign_id, OutboxMessage.status)
    )
    for campaign_id, status, n in rows:
        counts[campaign_id][MessageStatus(status).value] = n
    return counts


def recipients(campaign: Campaign, status: str = "", limit: int = 500) -> list[OutboxMessage]:
    stmt = sa.select(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)
    if status in {s.value for s in MessageStatus}:
        stmt = stmt.where(OutboxMessage.status == status)
    return list(db.session.scalars(stmt.order_by(OutboxMessage.id).limit(limit)))


def tag_choices() -> list[tuple[str, str]]:
    return [(n, n) for n in db.session.scalars(sa.select(Tag.name).order_by(Tag.name))]


def event_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        sa.select(Event.id, Event.name, Event.starts_at).order_by(Event.starts_at.desc()).limit(300)
    )
    return [("", "—")] + [(str(i), f"{name} ({start:%d %b %Y})") for i, name, start in rows]


def segment_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(s.id), s.name) for s in all_segments()]


def countries() -> list[tuple[str, str]]:
    return country_choices()
