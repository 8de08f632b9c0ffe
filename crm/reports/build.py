"""The quarterly adoption report: pandas frames built from explicit SQL, as of a quarter's end.

Every section compares the quarter with the one before. Statuses are rebuilt as they stood at
the quarter's end (from the pledge and champion histories), not read as they are today, so a
report for an earlier quarter does not change when today's data does.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from crm.campaigns.models import Campaign, DeliveryEvent, EventKind, MessageStatus, OutboxMessage
from crm.champions.models import Endorsement, Region, Stage, StageChange, Verification
from crm.champions.queries import months_ago
from crm.core.countries import country_name
from crm.core.regions import region_of
from crm.events.models import Event, Participation, ParticipationStatus
from crm.extensions import db
from crm.library.models import CaseStudy, Outcome, case_study_principle
from crm.organizations.models import KIND_LABELS, Organization
from crm.pledges.models import (
    Assessment,
    Maturity,
    Pledge,
    PledgeChange,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
    Standing,
)
from crm.pledges.schedule import Quarter, schedule
from crm.reports.formats import Kind, describe
from crm.standards.models import Principle, Standard, StandardStatus

LEVEL_SCORE = {level.value: level.score for level in Maturity}
LEVEL_VALUES = sorted(
    LEVEL_SCORE, key=LEVEL_SCORE.__getitem__
)  # by score: a level's code is its score


def parse_quarter(text: str) -> Quarter:
    """'2026Q3' (or '2026-Q3', 'q3 2026') as a Quarter; ValueError with a clear message."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) == 6 and cleaned[4] == "Q" and cleaned[:4].isdigit() and cleaned[5] in "1234":
        return Quarter(int(cleaned[:4]), int(cleaned[5]))
    if len(cleaned) == 6 and cleaned[0] == "Q" and cleaned[1] in "1234" and cleaned[2:].isdigit():
        return Quarter(int(cleaned[2:]), int(cleaned[1]))
    raise ValueError(f"“{text}” is not a quarter; write it like 2026Q3.")


def not_begun(quarter: Quarter, today: date | None = None) -> str | None:
    """Why there is no report for `quarter` yet, or None when it has begun."""
    if quarter.first_day > (today or date.today()):
        return f"{quarter.label} has not begun, so it has no figures yet."
    return None


def _end(quarter: Quarter) -> datetime:
    """The first instant after the quarter (exclusive bound, UTC)."""
    return datetime.combine(quarter.last_day + timedelta(days=1), time.min, tzinfo=UTC)


def _start(quarter: Quarter) -> datetime:
    return datetime.combine(quarter.first_day, time.min, tzinfo=UTC)


def _until(quarter: Quarter) -> datetime:
    """Where what has happened in the quarter ends: its end, or now while it is under way
    (an event later this quarter has not been held yet)."""
    return min(_end(quarter), datetime.now(UTC))


def _last_day_so_far(quarter: Quarter) -> date:
    """The quarter's last day, or today while it is under way."""
    return min(quarter.last_day, date.today())


def _frame(stmt) -> pd.DataFrame:
    return pd.read_sql_query(stmt, db.session.connection())


def _driver_rows(stmt: sa.Select) -> tuple[list[str], Sequence[tuple]]:
    """The column names and rows of `stmt` as the driver returns them, without SQLAlchemy's
    per-row work (a third of the time for 100,000s of rows): for plain values, numbers and
    text (columns read with `_text`), and dates through `_day`."""
    result = db.session.connection().execute(stmt)
    try:
        return list(result.keys()), result.cursor.fetchall()
    finally:
        result.close()


def _plain_frame(stmt: sa.Select) -> pd.DataFrame:
    """`_driver_rows` as a frame."""
    columns, rows = _driver_rows(stmt)
    return pd.DataFrame.from_records(rows, columns=columns)


@functools.lru_cache(maxsize=8192)
def _day(value: date | str | None) -> date | None:
    """A date as the driver returns it: a date (PostgreSQL), or the ISO text SQLite stores."""
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Report:
    quarter: Quarter
    sections: dict[str, pd.DataFrame] = field(default_factory=dict)
    highlights: list[str] = field(default_factory=list)
    figures: dict[str, tuple[float, float]] = field(default_factory=dict)  # now, before
    as_of: date = field(default_factory=date.today)

    @property
    def title(self) -> str:
        return f"WEST Principles adoption report, {self.quarter.label}"

    @property
    def in_progress(self) -> bool:
        """The quarter had not ended when the report was built: its figures are partial."""
        return self.quarter.last_day >= self.as_of

    @property
    def partial_note(self) -> str | None:
        """What the page, the PDF and the spreadsheet say of a quarter still under way."""
        if not self.in_progress:
            return None
        return (
            f"{self.quarter.label} is still under way (it ends "
            f"{self.quarter.last_day.day} {self.quarter.last_day:%B %Y}): these are the figures "
            f"as of {self.as_of.day} {self.as_of:%B %Y}, and they will change."
        )


# --- pledges -------------------------------------------------------------------------------------


def _text(column) -> sa.ColumnElement:
    """A column read as the text stored, without converting each value to its enum."""
    return sa.type_coerce(column, sa.String)


def _latest_first(partition, at, id_) -> sa.ColumnElement:
    """Numbers the history rows of each `partition` value from the latest (by time, then id):
    row 1 is the state at the bound the rows were filtered by."""
    return sa.func.row_number().over(partition_by=partition, order_by=(at.desc(), id_.desc()))


STANDING_COLUMNS = ["pledge_id", "standing", "kind", "country", "signed_on"]


def pledge_organizations() -> pd.DataFrame:
    """The id, kind and country of each pledge's organization, indexed by pledge id."""
    return _plain_frame(
        sa.select(
            Pledge.id.label("pledge_id"),
            Pledge.organization_id,
            _text(Organization.kind).label("kind"),
            Organization.country,
        ).join(Organization, Organization.id == Pledge.organization_id)
    ).set_index("pledge_id")


def _with_organizations(frame: pd.DataFrame, organizations: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the kind and country of each row's pledge."""
    found = organizations.reindex(frame["pledge_id"])
    frame["kind"] = found["kind"].to_numpy(dtype=object)
    frame["country"] = found["country"].to_numpy(dtype=object)
    return frame


def pledge_standings(at_end: datetime, organizations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each pledge's standing as it was at `at_end`, with its organization's kind and country.

    Two statements: each pledge's last status change before `at_end` (a window over the
    history; signed from its signing date, whenever that was recorded) with the pledge's
    dates, and the latest quarter each had reported on by then.
    The standing follows from them by `crm.pledges.schedule`, as everywhere else.
    `organizations`: as `pledge_organizations()` returns (read here when not given).
    """
    history = (
        sa.select(
            PledgeChange.pledge_id,
            PledgeChange.to_status,
            _latest_first(PledgeChange.pledge_id, PledgeChange.at, PledgeChange.id).label("n"),
        )
        .where(PledgeChange.at < at_end)
        .subquery()
    )
    # A pledge counts as signed from its signing date, not from when it was recorded: one
    # imported or entered late (signed 30 September, recorded in October) was signed in
    # September. Its history keeps the day it was recorded, and by whom.
    signed_by_then = sa.and_(
        Pledge.signed_on <= (at_end - timedelta(days=1)).date(),
        sa.exists().where(
            PledgeChange.pledge_id == Pledge.id, PledgeChange.to_status == PledgeStatus.SIGNED
        ),
    )
    not_yet_signed = sa.or_(
        history.c.to_status.is_(None), history.c.to_status == PledgeStatus.DRAFT
    )
    status = sa.case(
        (sa.and_(not_yet_signed, signed_by_then), PledgeStatus.SIGNED.value),
        else_=_text(history.c.to_status),
    )
    _columns, rows = _driver_rows(
        sa.select(Pledge.id, status, Pledge.activated_on, Pledge.signed_on)
        .outerjoin(history, sa.and_(history.c.pledge_id == Pledge.id, history.c.n == 1))
        .where(sa.or_(history.c.to_status.is_not(None), signed_by_then))
        .order_by(Pledge.id)
    )
    key = ProgressReport.year * 4 + ProgressReport.quarter - 1
    _columns, last_reported = _driver_rows(
        sa.select(ProgressReport.pledge_id, sa.func.max(key))
        .where(
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.submitted_at < at_end,
        )
        .group_by(ProgressReport.pledge_id)
    )
    reported = dict(last_reported)
    # The standing on the quarter's last day, or today while it is under way: a report due
    # later this quarter is not overdue yet.
    day = min((at_end - timedelta(days=1)).date(), date.today())
    config = current_app.config

    @functools.cache  # many pledges share a status, a start and a last quarter reported
    def standing(status: str, activated_on: date | None, reported: int | None) -> str:
        return schedule(
            PledgeStatus(status),
            activated_on,
            Quarter(reported // 4, reported % 4 + 1) if reported is not None else None,
            day,
            due_days=config["PLEDGE_REPORT_DUE_DAYS"],
            grace_days=config["PLEDGE_LAPSE_GRACE_DAYS"],
        ).standing.value

    frame = pd.DataFrame(
        [
            (
                pledge_id,
                standing(status, _day(activated_on), reported.get(pledge_id)),
                _day(signed_on),
            )
            for pledge_id, status, activated_on, signed_on in rows
        ],
        columns=["pledge_id", "standing", "signed_on"],
    )
    if organizations is None:
        organizations = pledge_organizations()
    return _with_organizations(frame, organizations)[STANDING_COLUMNS]


def _pledge_section(now: pd.DataFrame, before: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    def count(frame: pd.DataFrame, standing: Standing) -> int:
        return int((frame["standing"] == standing.value).sum()) if not frame.empty else 0

    def new_in(frame: pd.DataFrame, q: Quarter) -> int:
        if frame.empty:
            return 0
        signed = frame["signed_on"].dropna()
        return int(sum(q.first_day <= d <= q.last_day for d in signed))

    rows = [
        ("New (signed in the quarter)", new_in(now, quarter), new_in(before, quarter.previous()))
    ]
    for standing in (
        Standing.ACTIVE,
        Standing.NON_REPORTING,
        Standing.LAPSED,
        Standing.ADOPTED,
        Standing.WITHDRAWN,
    ):
        rows.append((standing.label, count(now, standing), count(before, standing)))
    frame = pd.DataFrame(rows, columns=["Pledges", "This quarter", "Previous quarter"])
    frame["Change"] = frame["This quarter"] - frame["Previous quarter"]
    return describe(frame, changes=["Change"])


# --- maturity ------------------------------------------------------------------------------------


def latest_levels(
    at_end: datetime, standard_id: int, organizations: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per pledge and principle, the level in its latest report filed by `at_end` (and its
    score), with the organization's kind and country (`organizations`: as
    `pledge_organizations()` returns).

    The latest report (the last filed, corrections included) is picked by the database: only
    its answers are read, not every report's. A report holds an answer per principle from the
    moment it is started (`crm.pledges.operations.progress_reports`), so the latest one filed
    is the latest one with answers. They come back as a row per pledge with a score column per
    principle (a tenth of the rows to fetch), turned into a row per answer here.
    """
    principles = db.session.execute(
        sa.select(Principle.id, Principle.code)
        .where(Principle.standard_id == standard_id)
        .order_by(Principle.position, Principle.id)
    ).all()
    latest = (
        sa.select(ProgressReport.pledge_id, sa.func.max(ProgressReport.id).label("report_id"))
        .where(
            ProgressReport.standard_id == standard_id,
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.submitted_at < at_end,
        )
        .group_by(ProgressReport.pledge_id)
        .subquery()
    )
    score = sa.case(LEVEL_SCORE, value=_text(Assessment.level))
    scores = [
        sa.func.max(sa.case((Assessment.principle_id == principle_id, score))).label(f"p{i}")
        for i, (principle_id, _code) in enumerate(principles)
    ]
    wide = _plain_frame(
        sa.select(latest.c.pledge_id, *scores)
        .select_from(latest)
        .join(Assessment, Assessment.report_id == latest.c.report_id)
        .group_by(latest.c.pledge_id)
    )
    matrix = wide.iloc[:, 1:].to_numpy(dtype=float)  # NaN: no answer on that principle
    answered = ~np.isnan(matrix).ravel()
    values = matrix.ravel()[answered].astype(np.int64)
    frame = pd.DataFrame(
        {
            "pledge_id": np.repeat(wide["pledge_id"].to_numpy(), len(principles))[answered],
            # Categories: eight principles and five levels over 100,000s of rows group and
            # compare by small integer codes instead of by string.
            "code": pd.Categorical.from_codes(
                np.tile(np.arange(len(principles)), len(wide))[answered],
                categories=[code for _id, code in principles],
            ),
            "level": pd.Categorical.from_codes(values, categories=LEVEL_VALUES),
            "score": values.astype(float),
        }
    )
    if organizations is None:
        organizations = pledge_organizations()
    return _with_organizations(frame, organizations)


def _maturity_section(now: pd.DataFrame, before: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    def tally(frame: pd.DataFrame) -> tuple[dict, dict]:
        """Pledges per (principle, level), and the average score per principle."""
        if frame.empty:
            return {}, {}
        counts = frame.groupby(["code", "level"], observed=True).size().to_dict()
        return counts, frame.groupby("code", observed=True)["score"].mean().to_dict()

    counts, averages = tally(now)
    _counts, averages_before = tally(before)
    rows = []
    for code in codes:
        row: dict[str, str | int | float | None] = {"Principle": code}
        for level in Maturity:
            row[level.label] = int(counts.get((code, level.value), 0))
        now_avg, before_avg = averages.get(code), averages_before.get(code)
        average = round(float(now_avg), 2) if now_avg is not None else None
        previous = round(float(before_avg), 2) if before_avg is not None else None
        row["Average (0–4)"] = average
        row["Previous average"] = previous
        row["Change"] = (
            round(average - previous, 2) if average is not None and previous is not None else None
        )
        rows.append(row)
    average_columns = ("Average (0–4)", "Previous average", "Change")
    return describe(
        pd.DataFrame(rows),
        columns=dict.fromkeys(average_columns, Kind.AVERAGE),
        changes=["Change"],
    )


def _by_group(standings: pd.DataFrame, levels: pd.DataFrame, column: str, label) -> pd.DataFrame:
    """Live pledges, adopted ones and the average maturity per organization kind or country."""
    columns = [label[1], "Live pledges", "Adopted", "Average maturity (0–4)"]
    kinds = {"Average maturity (0–4)": Kind.AVERAGE}
    if standings.empty:
        return describe(pd.DataFrame(columns=columns), columns=kinds)
    live = standings[~standings["standing"].isin(["withdrawn", "draft"])].copy()
    if live.empty:
        return describe(pd.DataFrame(columns=columns), columns=kinds)
    live["group"] = _labels(live[column], label[0])
    live["adopted"] = live["standing"] == "adopted"
    table = live.groupby("group").agg(live=("pledge_id", "size"), adopted=("adopted", "sum"))
    if not levels.empty:
        lv = levels.copy()
        lv["group"] = _labels(lv[column], label[0])
        table = table.join(lv.groupby("group")["score"].mean().round(2).rename("avg"), how="left")
    else:
        table["avg"] = None
    table = table.reset_index().sort_values(["live", "group"], ascending=[False, True])
    table.columns = columns
    return describe(table.reset_index(drop=True), columns=kinds)


def _labels(values: pd.Series, label) -> pd.Series:
    """`label` of each value (an enum's by its value; a missing one, None or NaN, as None),
    computed once per distinct value."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    names = [
        label(None if pd.isna(value) else getattr(value, "value", value)) for value in distinct
    ]
    return pd.Series(np.array(names, dtype=object)[codes], index=values.index, dtype=object)


def _with_region(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "country" not in frame:
        return frame
    frame = frame.copy()
    frame["region"] = _labels(
        frame["country"], lambda c: region_of(c) if isinstance(c, str) else None
    )
    return frame


def _region_name(value: str | None) -> str:
    return Region(value).label if value else "Unknown"


# --- champions, events, campaigns ---------------------------------------------------------


def _champion_figures(quarter: Quarter, months: int) -> dict[str, int]:
    start, end = _start(quarter), _end(quarter)
    # Each champion's stage at the quarter's end (their last move before it), when they made
    # that move, and for the committed and active ones the day of their last endorsement
    # that was not turned down.
    history = (
        sa.select(
            StageChange.champion_id,
            _text(StageChange.to_stage).label("stage"),
            StageChange.at,
            _latest_first(StageChange.champion_id, StageChange.at, StageChange.id).label("n"),
        )
        .where(StageChange.at < end)
        .subquery()
    )
    expected = (Stage.COMMITTED.value, Stage.ACTIVE.value)
    last_made = (
        sa.select(sa.func.max(Endorsement.made_on))
        .where(
            Endorsement.champion_id == history.c.champion_id,
            Endorsement.status != Verification.REJECTED,
            Endorsement.made_on <= quarter.last_day,
        )
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(
            history.c.stage,
            sa.case((history.c.stage.in_(expected), history.c.at)),
            sa.case((history.c.stage.in_(expected), last_made)),
        ).where(history.c.n == 1)
    ).all()
    entered = db.session.execute(
        sa.select(sa.func.count())
        .select_from(StageChange)
        .where(StageChange.from_stage.is_(None), StageChange.at >= start, StageChange.at < end)
    ).scalar_one()
    endorsements, reach = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(Endorsement.audience_reach), 0)
        ).where(
            Endorsement.status == Verification.VERIFIED,
            Endorsement.made_on >= quarter.first_day,
            Endorsement.made_on <= quarter.last_day,
        )
    ).one()
    assert reach is not None, "COALESCE makes the reach of no endorsements 0"
    # Lapsing at the quarter's end (today while it is under way, not at an end still to
    # come): committed or active, nothing endorsed for `months`.
    day = _last_day_so_far(quarter)
    cutoff = months_ago(day, months)
    lapsing = 0
    for stage, since, made in rows:
        if stage in expected:
            since_day = since.date() if since is not None else day
            lapsing += int((made or since_day) < cutoff)
    return {
        "New champions": int(entered),
        "Active champions": sum(stage == Stage.ACTIVE.value for stage, _since, _made in rows),
        "Lapsing champions": lapsing,
        "Verified endorsements": int(endorsements),
        "Endorsement reach": int(reach),
    }


SIGNED_UP = (
    ParticipationStatus.REGISTERED,
    ParticipationStatus.ATTENDED,
    ParticipationStatus.NO_SHOW,
)


def _event_figures(quarter: Quarter) -> dict[str, float | None]:
    """Events held in the quarter: those that have started by its end, or by now while it
    is under way (the registrations of an event still to come would read as no-shows)."""
    start, until = _start(quarter), _until(quarter)
    held = db.session.execute(
        sa.select(sa.func.count())
        .select_from(Event)
        .where(Event.starts_at >= start, Event.starts_at < until)
    ).scalar_one()
    counts = dict(
        db.session.execute(
            sa.select(Participation.status, sa.func.count())
            .join(Event, Event.id == Participation.event_id)
            .where(
                Event.starts_at >= start,
                Event.starts_at < until,
                Participation.status.in_(SIGNED_UP),
            )
            .group_by(Participation.status)
        ).all()
    )
    registrations = sum(counts.values())
    attended = counts.get(ParticipationStatus.ATTENDED, 0)
    return {
        "Events held": int(held),
        "Registrations": int(registrations),
        "Attended": int(attended),
        # No registrations: no rate (not 0%, which would read as nobody turning up).
        "Attendance rate": round(attended / registrations, 3) if registrations else None,
    }


def _upcoming_events(quarter: Quarter) -> tuple[int, int]:
    """The events still to come in a quarter under way, and the people registered for them
    (nothing once the quarter has ended)."""
    until, end = _until(quarter), _end(quarter)
    if until >= end:
        return 0, 0
    upcoming = sa.and_(Event.starts_at >= until, Event.starts_at < end)
    events = db.session.execute(
        sa.select(sa.func.count()).select_from(Event).where(upcoming)
    ).scalar_one()
    registered = db.session.execute(
        sa.select(sa.func.count())
        .select_from(Participation)
        .join(Event, Event.id == Participation.event_id)
        .where(upcoming, Participation.status == ParticipationStatus.REGISTERED)
    ).scalar_one()
    return int(events), int(registered)


UPCOMING_EVENTS = "Still to come this quarter"
UPCOMING_REGISTERED = "Registered for them"


def _event_section(quarter: Quarter) -> pd.DataFrame:
    """Events held against the quarter before; while the quarter is under way, the events
    still to come and their registrations too, on rows of their own (nothing to compare)."""
    now, before = _event_figures(quarter), _event_figures(quarter.previous())
    events, registered = _upcoming_events(quarter)
    if events:
        now |= {UPCOMING_EVENTS: events, UPCOMING_REGISTERED: registered}
        before |= {UPCOMING_EVENTS: None, UPCOMING_REGISTERED: None}
    return _compare(now, before, "Events", rates=["Attendance rate"])


def _campaign_figures(quarter: Quarter) -> dict[str, float | None]:
    start, end = _start(quarter), _end(quarter)
    campaign_ids = list(
        db.session.scalars(
            sa.select(Campaign.id).where(Campaign.finished_at >= start, Campaign.finished_at < end)
        )
    )
    sent = delivered = opened = clicked = 0
    if campaign_ids:
        sent = db.session.execute(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.campaign_id.in_(campaign_ids),
                OutboxMessage.status == MessageStatus.SENT,
            )
        ).scalar_one()

        def distinct(kind: EventKind) -> int:
            return db.session.execute(
                sa.select(sa.func.count(sa.distinct(DeliveryEvent.message_id))).where(
                    DeliveryEvent.campaign_id.in_(campaign_ids), DeliveryEvent.kind == kind
                )
            ).scalar_one()

        delivered, opened, clicked = (
            distinct(EventKind.DELIVERED),
            distinct(EventKind.OPEN),
            distinct(EventKind.CLICK),
        )
    return {
        "Campaigns sent": len(campaign_ids),
        "Messages sent": int(sent),
        # Nothing sent (or delivered): no rate, rather than a 0% nobody earned.
        "Delivery rate": round(delivered / sent, 3) if sent else None,
        "Open rate": round(opened / delivered, 3) if delivered else None,
        "Click rate": round(clicked / delivered, 3) if delivered else None,
    }


def _library_section(quarter: Quarter) -> pd.DataFrame:
    """Case studies first published in the quarter, by principle and outcome, with each
    principle's count the quarter before. A case study counts in the quarter a lead first
    published it, for good, under each principle it concerns (so the principles' rows can add
    up to more than the total), or under "No principle named"."""

    def published_in(q: Quarter):
        return sa.and_(
            CaseStudy.first_published_at >= _start(q), CaseStudy.first_published_at < _end(q)
        )

    link = case_study_principle.c
    by_principle = db.session.execute(
        sa.select(link.principle_id, CaseStudy.outcome, sa.func.count())
        .select_from(CaseStudy)
        .outerjoin(case_study_principle, link.case_study_id == CaseStudy.id)
        .where(published_in(quarter))
        .group_by(link.principle_id, CaseStudy.outcome)
    ).all()
    before: dict[int | None, int] = dict(
        db.session.execute(
            sa.select(link.principle_id, sa.func.count())
            .select_from(CaseStudy)
            .outerjoin(case_study_principle, link.case_study_id == CaseStudy.id)
            .where(published_in(quarter.previous()))
            .group_by(link.principle_id)
        ).all()
    )
    by_outcome = dict(
        db.session.execute(
            sa.select(CaseStudy.outcome, sa.func.count())
            .where(published_in(quarter))
            .group_by(CaseStudy.outcome)
        ).all()
    )
    total_before = db.session.execute(
        sa.select(sa.func.count()).select_from(CaseStudy).where(published_in(quarter.previous()))
    ).scalar_one()
    outcomes = list(Outcome)
    counts: dict[int | None, dict[str, int]] = {}
    for principle_id, outcome, n in by_principle:
        counts.setdefault(principle_id, dict.fromkeys(outcomes, 0))[Outcome(outcome)] = n
    for principle_id in before:
        counts.setdefault(principle_id, dict.fromkeys(outcomes, 0))
    principles = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Principle)
            .options(joinedload(Principle.standard))
            .where(Principle.id.in_([i for i in counts if i is not None]))
        )
    }
    # P1 of 1.0 and P1 of 2.0 are different principles: named with their version when both
    # appear; in the standard's order (P2 before P10).
    versions = {p.standard_id for p in principles.values()}

    def label(principle_id: int | None) -> str:
        if principle_id is None:
            return "No principle named"
        p = principles[principle_id]
        return f"{p.code} ({p.standard.version})" if len(versions) > 1 else p.code

    def order(principle_id: int | None) -> tuple:
        if principle_id is None:
            return (1, 0, 0)
        p = principles[principle_id]
        return (0, p.standard_id, p.position, p.code)

    def row(name: str, by: dict, now: int, then: int) -> dict:
        return {
            "Principle": name,
            **{o.label: by.get(o, 0) for o in outcomes},
            "This quarter": now,
            "Previous quarter": then,
            "Change": now - then,
        }

    rows = [
        row(label(i), counts[i], sum(counts[i].values()), before.get(i, 0))
        for i in sorted(counts, key=order)
    ]
    total = sum(by_outcome.values())
    if rows:
        rows.append(
            row(
                "All case studies",
                {Outcome(o): n for o, n in by_outcome.items()},
                total,
                total_before,
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "Principle",
            *(o.label for o in outcomes),
            "This quarter",
            "Previous quarter",
            "Change",
        ],
    )
    if total:
        frame.attrs["new_items"] = total
    return describe(frame, changes=["Change"])


def _compare(now: dict, before: dict, heading: str, rates: Iterable[str] = ()) -> pd.DataFrame:
    """Counts stay whole numbers and rates stay fractions, row by row (object columns); the
    rows named in `rates` are marked as rates. A change is unknown (None) when either
    figure is."""

    def change(key: str) -> float | None:
        if now[key] is None or before[key] is None:
            return None
        return round(now[key] - before[key], 3)

    rows = [(key, now[key], before[key], change(key)) for key in now]
    frame = pd.DataFrame(
        rows, columns=[heading, "This quarter", "Previous quarter", "Change"], dtype=object
    )
    return describe(frame, rows=dict.fromkeys(rates, Kind.RATE), changes=["Change"])


# --- the whole report ------------------------------------------------------------------------


def build_report(quarter: Quarter) -> Report:
    report = Report(quarter)
    previous = quarter.previous()
    end, end_before = _end(quarter), _end(previous)
    organizations = pledge_organizations()
    standings = pledge_standings(end, organizations)
    standings_before = pledge_standings(end_before, organizations)
    report.sections["Pledges"] = _pledge_section(standings, standings_before, quarter)

    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    codes = [p.code for p in standard.principles] if standard else []
    levels = latest_levels(end, standard.id, organizations) if standard else pd.DataFrame()
    levels_before = (
        latest_levels(end_before, standard.id, organizations) if standard else pd.DataFrame()
    )
    report.sections["Maturity by principle"] = _maturity_section(levels, levels_before, codes)
    kind_label = (lambda v: KIND_LABELS.get(v, v) if v else "Unknown", "Organization kind")
    country_label = (lambda v: country_name(v) if v else "Unknown", "Country")
    report.sections["By organization kind"] = _by_group(standings, levels, "kind", kind_label)
    report.sections["By country"] = _by_group(standings, levels, "country", country_label)
    region_label = (lambda v: _region_name(v), "Region")
    report.sections["By region"] = _by_group(
        _with_region(standings), _with_region(levels), "region", region_label
    )

    months = current_app.config["CHAMPION_LAPSING_MONTHS"]
    report.sections["Champions"] = _compare(
        _champion_figures(quarter, months), _champion_figures(previous, months), "Champions"
    )
    report.sections["Events"] = _event_section(quarter)
    report.sections["Campaigns"] = _compare(
        _campaign_figures(quarter),
        _campaign_figures(previous),
        "Campaigns",
        rates=["Delivery rate", "Open rate", "Click rate"],
    )
    report.sections["Learning library"] = _library_section(quarter)
    report.highlights = _highlights(report, levels, levels_before, organizations)
    pledges = report.sections["Pledges"].set_index("Pledges")
    report.figures = {
        "Active pledges": (
            int(pledges.loc[Standing.ACTIVE.label, "This quarter"]),
            int(pledges.loc[Standing.ACTIVE.label, "Previous quarter"]),
        ),
        "Adopted": (
            int(pledges.loc[Standing.ADOPTED.label, "This quarter"]),
            int(pledges.loc[Standing.ADOPTED.label, "Previous quarter"]),
        ),
    }
    for section, key in (("Champions", "Active champions"), ("Events", "Attended")):
        row = report.sections[section].set_index(section).loc[key]
        report.figures[key] = (row["This quarter"], row["Previous quarter"])
    return report


def _highlights(
    report: Report, levels: pd.DataFrame, before: pd.DataFrame, organizations: pd.DataFrame
) -> list[str]:
    """A few plain sentences for the board."""
    lines = []
    pledges = report.sections["Pledges"].set_index("Pledges")
    new = int(pledges.loc["New (signed in the quarter)", "This quarter"])
    if new:
        lines.append(f"{new} organization{'s' if new != 1 else ''} pledged to the principles.")
    adopted = pledges.loc[Standing.ADOPTED.label]
    gained = int(adopted["This quarter"] - adopted["Previous quarter"])
    if gained > 0:
        lines.append(f"{gained} pledge{'s' if gained != 1 else ''} reached full adoption.")
    if not levels.empty:
        # Per principle, the organizations verified on it now that were not at the previous
        # end (an organization that pledged again has two pledges, and counts once).
        def verified(frame: pd.DataFrame) -> set[tuple[str, int]]:
            if frame.empty:
                return set()
            rows = frame[frame["level"] == Maturity.VERIFIED.value]
            owners = organizations["organization_id"].reindex(rows["pledge_id"]).tolist()
            return set(zip(rows["code"].tolist(), owners, strict=True))

        newly = Counter(code for code, _organization in verified(levels) - verified(before))
        reached = sorted(newly.items())
        if len(reached) == 1:
            code, count = reached[0]
            lines.append(
                f"{count} organization{'s' if count != 1 else ''} reached “verified” on {code} "
                "this quarter."
            )
        elif reached:
            lines.append(
                "Reached “verified” this quarter: "
                + ", ".join(
                    f"{code} by {n} organization{'s' if n != 1 else ''}" for code, n in reached
                )
                + "."
            )
    late = int(pledges.loc[Standing.NON_REPORTING.label, "This quarter"]) + int(
        pledges.loc[Standing.LAPSED.label, "This quarter"]
    )
    if late:
        lines.append(f"{late} pledge{'s' if late != 1 else ''} had an overdue progress report.")
    champions = report.sections["Champions"].set_index("Champions")
    endorsements = int(champions.loc["Verified endorsements", "This quarter"])
    if endorsements:
        reach = int(champions.loc["Endorsement reach", "This quarter"])
        made = f"Champions made {_count(endorsements, 'verified endorsement')}"
        reaching = f" reaching {_count(reach, 'person', 'people')}" if reach else ""
        lines.append(f"{made}{reaching}.")
    events = report.sections["Events"].set_index("Events")
    held = int(events.loc["Events held", "This quarter"])
    if held:
        attended = int(events.loc["Attended", "This quarter"])
        lines.append(f"{_count(held, 'event')} with {_count(attended, 'attendee')}.")
    if UPCOMING_EVENTS in events.index:
        upcoming = int(events.loc[UPCOMING_EVENTS, "This quarter"])
        registered = int(events.loc[UPCOMING_REGISTERED, "This quarter"])
        lines.append(
            f"{_count(upcoming, 'more event')} to come this quarter, "
            f"{_count(registered, 'person', 'people')} registered so far."
        )
    library = report.sections["Learning library"]
    if library.attrs.get("new_items"):
        n = library.attrs["new_items"]
        lines.append(f"{n} case stud{'ies' if n != 1 else 'y'} added to the learning library.")
    return lines or ["A quiet quarter: no pledges, endorsements or events recorded."]


def _count(n: int, one: str, many: str | None = None) -> str:
    """`n` and the noun it counts: 1 event, 2 events, 1,200 people."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
