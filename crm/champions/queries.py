"""Reading the pipeline: the board, the filtered list, lapsing champions, conversion figures,
the leaderboard, and the champion entries in contact and organization timelines."""

from __future__ import annotations

import contextlib
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from crm.champions.models import (
    FUNNEL,
    Champion,
    Endorsement,
    Region,
    Stage,
    StageChange,
    Verification,
)
from crm.contacts.models import Contact
from crm.contacts.queries import plan_search
from crm.core.pagination import SortOption
from crm.core.timeline import TimelineItem, timeline_source
from crm.core.validation import database_int
from crm.extensions import db

SORTS = {
    "waiting": SortOption("Longest in stage", (Champion.stage_since, Champion.id)),
    "moved": SortOption("Recently moved", (Champion.stage_since, Champion.id), descending=True),
    "newest": SortOption("Newest first", (Champion.id,), descending=True),
}

# Committed and active champions are expected to endorse; the others are still being recruited.
EXPECTED_TO_ENDORSE = (Stage.COMMITTED, Stage.ACTIVE)


def months_ago(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, 28)
    return date(year, month + 1, day)


def last_endorsed_on():
    """Per champion, the date of their latest endorsement that was not turned down."""
    return (
        sa.select(sa.func.max(Endorsement.made_on))
        .where(
            Endorsement.champion_id == Champion.id,
            Endorsement.status != Verification.REJECTED,
        )
        .correlate(Champion)
        .scalar_subquery()
    )


def lapsing_condition(today: date, months: int) -> sa.ColumnElement[bool]:
    """Committed or active, and no endorsement (or none since joining the stage) in `months`."""
    cutoff = months_ago(today, months)
    last = last_endorsed_on()
    since = datetime.combine(cutoff, time.min, tzinfo=UTC)
    return sa.and_(
        Champion.stage.in_(EXPECTED_TO_ENDORSE),
        sa.or_(last < cutoff, sa.and_(last.is_(None), Champion.stage_since < since)),
    )


def lapsing_ids(ids: list[int], today: date, months: int) -> set[int]:
    if not ids:
        return set()
    stmt = sa.select(Champion.id).where(Champion.id.in_(ids), lapsing_condition(today, months))
    return set(db.session.scalars(stmt))


@dataclass
class ChampionFilters:
    stage: str = ""
    owner: str = ""  # a user id, "me" resolved by the view, or "none"
    region: str = ""
    overdue: bool = False
    lapsing: bool = False
    q: str = ""


def filtered(filters: ChampionFilters, today: date, lapsing_months: int) -> sa.Select:
    stmt = sa.select(Champion).options(
        selectinload(Champion.contact).selectinload(Contact.organization),
        selectinload(Champion.owner),
    )
    # Values outside the choices (a mangled link) are ignored, not an error.
    if filters.stage in {s.value for s in Stage}:
        stmt = stmt.where(Champion.stage == filters.stage)
    if filters.owner == "none":
        stmt = stmt.where(Champion.owner_id.is_(None))
    elif filters.owner:
        with contextlib.suppress(ValueError):
            stmt = stmt.where(Champion.owner_id == database_int(filters.owner))
    if filters.region in {r.value for r in Region}:
        stmt = stmt.where(Champion.region == filters.region)
    if filters.overdue:
        stmt = stmt.where(Champion.next_step_due < today)
    if filters.lapsing:
        stmt = stmt.where(lapsing_condition(today, lapsing_months))
    if filters.q:
        plan = plan_search(filters.q)
        if plan is not None:
            stmt = stmt.where(Champion.contact_id.in_(sa.select(Contact.id).where(plan.condition)))
    return stmt


@dataclass
class Column:
    stage: Stage
    count: int
    champions: list[Champion]


def board(per_column: int = 60) -> list[Column]:
    """One column per stage with its count; next steps due soonest first."""
    counts = dict(
        db.session.execute(
            sa.select(Champion.stage, sa.func.count()).group_by(Champion.stage)
        ).all()
    )
    columns = []
    for stage in Stage:
        stmt = (
            sa.select(Champion)
            .where(Champion.stage == stage)
            .options(
                selectinload(Champion.contact).selectinload(Contact.organization),
                selectinload(Champion.owner),
            )
            .order_by(Champion.next_step_due.is_(None), Champion.next_step_due, Champion.id)
            .limit(per_column)
        )
        columns.append(Column(stage, counts.get(stage, 0), list(db.session.scalars(stmt))))
    return columns


@dataclass
class Conversion:
    stage: Stage
    next_stage: Stage
    entered: int  # champions who reached `stage` in the period
    moved_on: int  # of them, how many went further (not lapsed) within the period
    median_days: float | None

    @property
    def rate(self) -> float | None:
        return self.moved_on / self.entered if self.entered else None


def conversion(start: date, end: date) -> list[Conversion]:
    """For each funnel stage: who entered it between `start` and `end` (inclusive), how many of
    them moved further up the funnel before `end`, and the median days that took."""
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    rows = db.session.execute(
        sa.select(StageChange.champion_id, StageChange.to_stage, StageChange.at)
        .where(StageChange.at < upper)
        .order_by(StageChange.champion_id, StageChange.at, StageChange.id)
    ).all()
    by_champion: dict[int, list[tuple[Stage, datetime]]] = defaultdict(list)
    for champion_id, stage, at in rows:
        by_champion[champion_id].append((stage, at))
    entered: dict[Stage, int] = defaultdict(int)
    moved: dict[Stage, list[float]] = defaultdict(list)
    for moves in by_champion.values():
        for i, (stage, at) in enumerate(moves):
            if stage not in FUNNEL[:-1] or at < lower:
                continue
            entered[stage] += 1
            if i + 1 < len(moves):
                next_stage, next_at = moves[i + 1]
                if next_stage in FUNNEL and next_stage.rank > stage.rank:
                    moved[stage].append((next_at - at).total_seconds() / 86400)
    return [
        Conversion(
            stage=stage,
            next_stage=FUNNEL[i + 1],
            entered=entered[stage],
            moved_on=len(moved[stage]),
            median_days=round(statistics.median(moved[stage]), 1) if moved[stage] else None,
        )
        for i, stage in enumerate(FUNNEL[:-1])
    ]


@dataclass
class LeaderboardRow:
    champion: Champion
    endorsements: int
    reach: int


def leaderboard(start: date, end: date, limit: int = 25) -> list[LeaderboardRow]:
    """Champions by verified endorsements made in the period, then by their total reach."""
    count = sa.func.count(Endorsement.id)
    reach = sa.func.coalesce(sa.func.sum(Endorsement.audience_reach), 0)
    rows = db.session.execute(
        sa.select(Endorsement.champion_id, count, reach)
        .where(
            Endorsement.status == Verification.VERIFIED,
            Endorsement.made_on >= start,
            Endorsement.made_on <= end,
        )
        .group_by(Endorsement.champion_id)
        .order_by(count.desc(), reach.desc(), Endorsement.champion_id)
        .limit(limit)
    ).all()
    champions = {
        c.id: c
        for c in db.session.scalars(
            sa.select(Champion)
            .where(Champion.id.in_([r[0] for r in rows]))
            .options(selectinload(Champion.contact).selectinload(Contact.organization))
        )
    }
    return [LeaderboardRow(champions[cid], n, int(total or 0)) for cid, n, total in rows]


def pending_endorsements(limit: int = 200) -> list[Endorsement]:
    return list(
        db.session.scalars(
            sa.select(Endorsement)
            .where(Endorsement.status == Verification.PENDING)
            .options(
                selectinload(Endorsement.champion).selectinload(Champion.contact),
                selectinload(Endorsement.principles),
                selectinload(Endorsement.referred_organization),
            )
            .order_by(Endorsement.created_at, Endorsement.id)
            .limit(limit)
        )
    )


def champion_for_contact(contact_id: int) -> Champion | None:
    return db.session.scalar(sa.select(Champion).where(Champion.contact_id == contact_id))


# --- timelines ------------------------------------------------------------------------------------


def _endorsement_item(e: Endorsement, who: str | None = None) -> TimelineItem:
    title = e.title if who is None else f"{who}: {e.title}"
    return TimelineItem(
        when=e.made_on,
        kind=f"{e.kind.label} · {e.status.label.lower()}",
        title=title,
        url=url_for("champions.endorsement", endorsement_id=e.id),
        body=e.notes,
        icon="megaphone",
    )


@timeline_source("contact")
def contact_champion_history(contact_id: int, limit: int) -> list[TimelineItem]:
    champion = champion_for_contact(contact_id)
    if champion is None:
        return []
    url = url_for("champions.detail", champion_id=champion.id)
    items = [
        TimelineItem(
            when=m.at,
            kind="Champion pipeline",
            title=(
                f"Entered the pipeline as {m.to_stage.label.lower()}"
                if m.from_stage is None
                else f"Moved from {m.from_stage.label.lower()} to {m.to_stage.label.lower()}"
            ),
            url=url,
            body=m.note,
            icon="flag",
        )
        for m in champion.moves[:limit]
    ]
    items += [_endorsement_item(e) for e in champion.endorsements[:limit]]
    return items


@timeline_source("organization")
def organization_endorsements(organization_id: int, limit: int) -> list[TimelineItem]:
    """Referrals of the organization, and endorsements by champions who work there."""
    stmt = (
        sa.select(Endorsement)
        .join(Champion, Champion.id == Endorsement.champion_id)
        .join(Contact, Contact.id == Champion.contact_id)
        .where(
            sa.or_(
                Endorsement.referred_organization_id == organization_id,
                Contact.organization_id == organization_id,
            )
        )
        .options(selectinload(Endorsement.champion).selectinload(Champion.contact))
        .order_by(Endorsement.made_on.desc(), Endorsement.id.desc())
        .limit(limit)
    )
    items = []
    for e in db.session.scalars(stmt):
        item = _endorsement_item(e, who=e.champion.name)
        if e.referred_organization_id == organization_id:
            item.kind = f"Referred by a champion · {e.status.label.lower()}"
        items.append(item)
    return items
