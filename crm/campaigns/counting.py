"""Each campaign's messages by status, stored (`CampaignCounts`) so that the campaigns list and
a consultation's reminders read a row per campaign instead of counting the outbox, which grows
by a row per message ever sent (a million in a year of newsletters).

Written when a campaign is queued (all queued), moved by cancelling (queued → cancelled), and
recounted from the outbox, one campaign at a time through the (campaign, status) index, by each
sending job as it ends and by the minute's tick for every campaign still sending or finished
since it was last counted. A list may be a sending job's run (two seconds) behind."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crm.campaigns.models import (
    Campaign,
    CampaignCounts,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
)
from crm.core.db import utcnow
from crm.extensions import db

STATUSES = tuple(s.value for s in MessageStatus)
_table = CampaignCounts.__table__


def _upsert(rows: list[dict]) -> None:
    """Write whole rows, replacing what was counted before (both engines' ON CONFLICT)."""
    if not rows:
        return
    columns = (*STATUSES, "counted_at")
    upsert: sa.Insert
    if db.session.get_bind().dialect.name == "sqlite":
        lite = sqlite.insert(_table).values(rows)
        upsert = lite.on_conflict_do_update(
            index_elements=["campaign_id"], set_={c: lite.excluded[c] for c in columns}
        )
    else:
        pg = postgresql.insert(_table).values(rows)
        upsert = pg.on_conflict_do_update(
            index_elements=["campaign_id"], set_={c: pg.excluded[c] for c in columns}
        )
    db.session.execute(upsert)


def start(campaign_id: int, queued: int, now: datetime) -> None:
    """A campaign just queued: `queued` messages, nothing else yet."""
    _upsert([{"campaign_id": campaign_id, **dict.fromkeys(STATUSES, 0), "queued": queued,
              "counted_at": now}])  # fmt: skip


def move(campaign_id: int, source: MessageStatus, target: MessageStatus, n: int) -> None:
    """`n` messages changed from `source` to `target` (cancelling: queued → cancelled)."""
    if not n:
        return
    db.session.execute(
        sa.update(_table)
        .where(_table.c.campaign_id == campaign_id)
        .values(
            {source.value: _table.c[source.value] - n, target.value: _table.c[target.value] + n}
        )
    )


def refresh(campaign_ids: list[int], now: datetime | None = None) -> None:
    """Count these campaigns' messages again from the outbox (each an index range)."""
    now = now or utcnow()
    found: dict[int, dict[str, int]] = {i: dict.fromkeys(STATUSES, 0) for i in campaign_ids}
    for campaign_id in campaign_ids:  # one range each: the index (campaign_id, status)
        rows = db.session.execute(
            sa.select(OutboxMessage.status, sa.func.count())
            .where(OutboxMessage.campaign_id == campaign_id)
            .group_by(OutboxMessage.status)
        )
        for status, n in rows:
            found[campaign_id][MessageStatus(status).value] = n
    _upsert([{"campaign_id": i, **counts, "counted_at": now} for i, counts in found.items()])


def behind() -> list[int]:
    """Campaigns whose stored counts may be out of date: those sending, those never counted,
    and those sent or cancelled after they were last counted."""
    ended = sa.func.coalesce(Campaign.finished_at, Campaign.cancelled_at)
    return list(
        db.session.scalars(
            sa.select(Campaign.id)
            .outerjoin(_table, _table.c.campaign_id == Campaign.id)
            .where(
                Campaign.queued_at.is_not(None),
                sa.or_(
                    Campaign.status == CampaignStatus.SENDING,
                    _table.c.campaign_id.is_(None),
                    _table.c.counted_at < ended,
                ),
            )
            .order_by(Campaign.id)
        )
    )


def stored(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """{campaign id: {status: messages}} as last counted; {} for a campaign not queued."""
    counts: dict[int, dict[str, int]] = {i: {} for i in campaign_ids}
    if not campaign_ids:
        return counts
    rows = db.session.execute(
        sa.select(_table).where(_table.c.campaign_id.in_(campaign_ids))
    ).mappings()
    for row in rows:
        counts[row["campaign_id"]] = {s: row[s] for s in STATUSES if row[s]}
    return counts
