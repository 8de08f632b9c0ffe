"""Reading engagements: follow-ups due, and the timelines of contacts and organizations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from crm.core.pagination import SortOption
from crm.core.timeline import TimelineItem, timeline_source
from crm.engagements.models import Engagement, engagement_contact
from crm.extensions import db


@dataclass
class FollowUps:
    overdue: list[Engagement]
    due: list[Engagement]  # today and the coming week
    later: list[Engagement]


def follow_ups_for(user_id: int, today: date, horizon_days: int = 7) -> FollowUps:
    stmt = (
        sa.select(Engagement)
        .where(
            Engagement.follow_up_owner_id == user_id,
            Engagement.follow_up_done_at.is_(None),
            Engagement.follow_up_on.is_not(None),
        )
        .options(selectinload(Engagement.contacts), selectinload(Engagement.organization))
        .order_by(Engagement.follow_up_on, Engagement.id)
    )
    # (each has a date: the query asks for those)
    items = [(e.follow_up_on, e) for e in db.session.scalars(stmt) if e.follow_up_on is not None]
    horizon = today + timedelta(days=horizon_days)
    return FollowUps(
        overdue=[e for on, e in items if on < today],
        due=[e for on, e in items if today <= on <= horizon],
        later=[e for on, e in items if on > horizon],
    )


def _item(e: Engagement) -> TimelineItem:
    return TimelineItem(
        when=e.occurred_on,
        kind=e.kind.label,
        title=e.summary,
        url=url_for("engagements.detail", engagement_id=e.id),
        body=e.heard,
        icon="chat-square-text",
    )


@timeline_source("contact")
def contact_engagements(contact_id: int, limit: int) -> list[TimelineItem]:
    stmt = (
        sa.select(Engagement)
        .join(engagement_contact, engagement_contact.c.engagement_id == Engagement.id)
        .where(engagement_contact.c.contact_id == contact_id)
        .order_by(Engagement.occurred_on.desc(), Engagement.id.desc())
        .limit(limit)
    )
    return [_item(e) for e in db.session.scalars(stmt)]


@timeline_source("organization")
def organization_engagements(organization_id: int, limit: int) -> list[TimelineItem]:
    stmt = (
        sa.select(Engagement)
        .where(Engagement.organization_id == organization_id)
        .order_by(Engagement.occurred_on.desc(), Engagement.id.desc())
        .limit(limit)
    )
    return [_item(e) for e in db.session.scalars(stmt)]


NEWEST = SortOption("Newest first", (Engagement.occurred_on, Engagement.id), descending=True)


def engagement_list(kind: str = "", q: str = "", open_only: bool = False) -> sa.Select:
    """The engagement log as its page and the API filter it: by kind, by words in the summary
    or in what was heard, or only those with a follow-up still open."""
    stmt = sa.select(Engagement).options(
        selectinload(Engagement.contacts), selectinload(Engagement.organization)
    )
    if kind:
        stmt = stmt.where(Engagement.kind == kind)
    if q:
        # The log is thousands of rows, not millions: a plain contains-match is enough here.
        pattern = "%" + q.replace("\\", "").replace("%", "").replace("_", "") + "%"
        stmt = stmt.where(
            sa.or_(Engagement.summary.ilike(pattern), Engagement.heard.ilike(pattern))
        )
    if open_only:
        stmt = stmt.where(
            Engagement.follow_up_on.is_not(None), Engagement.follow_up_done_at.is_(None)
        )
    return stmt
