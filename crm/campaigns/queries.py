"""Reading campaigns: the list, outbox figures, recipients."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from crm.campaigns.models import (
    Campaign,
    DeliveryEvent,
    EventKind,
    MessageStatus,
    OutboxMessage,
    Segment,
)
from crm.consultations.models import Consultation
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


def consultation_choices(keep: int | None = None) -> list[tuple[str, str]]:
    """Consultations still taking answers (and the campaign's own, whatever its phase)."""
    from datetime import date

    rows = db.session.scalars(
        sa.select(Consultation)
        .where(sa.or_(Consultation.closes_on >= date.today(), Consultation.id == (keep or 0)))
        .order_by(Consultation.opens_on.desc(), Consultation.id.desc())
        .limit(300)
    )
    return [("", "—")] + [
        (str(c.id), f"{c.title} ({c.access.label.lower()}, closes {c.closes_on:%d %b %Y})")
        for c in rows
    ]


def segment_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(s.id), s.name) for s in all_segments()]


def countries() -> list[tuple[str, str]]:
    return country_choices()


# --- tracking --------------------------------------------------------------------------------

# The campaign page's figures: outbox states, then what SendGrid reported (distinct messages).
TRACKED = {
    "delivered": (EventKind.DELIVERED,),
    "opened": (EventKind.OPEN,),
    "clicked": (EventKind.CLICK,),
    "bounced": (EventKind.BOUNCE, EventKind.DROPPED),
    "spam": (EventKind.SPAM_REPORT,),
}


def stats(campaign: Campaign) -> dict[str, int]:
    counts = message_counts([campaign.id])[campaign.id]
    figures = {
        "queued": counts.get("queued", 0) + counts.get("sending", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
    }
    by_kind = dict(
        db.session.execute(
            sa.select(DeliveryEvent.kind, sa.func.count(sa.distinct(DeliveryEvent.message_id)))
            .where(DeliveryEvent.campaign_id == campaign.id)
            .group_by(DeliveryEvent.kind)
        ).all()
    )
    for name, kinds in TRACKED.items():
        figures[name] = sum(by_kind.get(k, 0) for k in kinds)
    figures["unsubscribed"] = db.session.execute(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.unsubscribed_at.is_not(None))
    ).scalar_one()
    return figures


def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def link_clicks(campaign: Campaign, limit: int = 50) -> list[tuple[str, int, int]]:
    """(url, clicks, people who clicked) per link, most clicked first."""
    rows = db.session.execute(
        sa.select(
            DeliveryEvent.url,
            sa.func.count(),
            sa.func.count(sa.distinct(DeliveryEvent.message_id)),
        )
        .where(DeliveryEvent.campaign_id == campaign.id, DeliveryEvent.kind == EventKind.CLICK)
        .group_by(DeliveryEvent.url)
        .order_by(sa.func.count().desc(), DeliveryEvent.url)
        .limit(limit)
    )
    return [(url or "", n, people) for url, n, people in rows]


def timeline(campaign: Campaign) -> list[dict]:
    """Opens and clicks per hour since the first event: the chart's bars."""
    events = db.session.execute(
        sa.select(DeliveryEvent.kind, DeliveryEvent.at).where(
            DeliveryEvent.campaign_id == campaign.id,
            DeliveryEvent.kind.in_([EventKind.OPEN, EventKind.CLICK, EventKind.DELIVERED]),
        )
    ).all()
    hours: dict = {}
    for kind, at in events:
        hour = at.replace(minute=0, second=0, microsecond=0)
        bucket = hours.setdefault(hour, {"hour": hour, "delivered": 0, "open": 0, "click": 0})
        bucket[EventKind(kind).value] += 1
    if not hours:
        return []
    last = max(hours)
    first = max(min(hours), last - timedelta(hours=71))  # the last three days at most
    series, hour = [], first
    while hour <= last:  # quiet hours are bars of nothing, so time reads left to right
        series.append(hours.get(hour, {"hour": hour, "delivered": 0, "open": 0, "click": 0}))
        hour += timedelta(hours=1)
    return series


def events_of(messages: list[OutboxMessage]) -> dict[int, list[str]]:
    """What SendGrid reported for each of these messages, as labels in funnel order."""
    ids = [m.id for m in messages]
    found: dict[int, set[EventKind]] = {}
    for start in range(0, len(ids), 1000):
        for message_id, kind in db.session.execute(
            sa.select(DeliveryEvent.message_id, DeliveryEvent.kind)
            .where(DeliveryEvent.message_id.in_(ids[start : start + 1000]))
            .distinct()
        ):
            assert message_id is not None  # asked for by id
            found.setdefault(message_id, set()).add(EventKind(kind))
    order = list(EventKind)
    return {i: [k.label for k in sorted(kinds, key=order.index)] for i, kinds in found.items()}
