"""Reading pledges: their standing (from the dates), the funnel, overdue pledges, progress over
quarters and per principle, the public directory, and timeline entries."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app, has_app_context, url_for
from sqlalchemy.orm import selectinload

from crm.core.timeline import TimelineItem, timeline_source
from crm.extensions import db
from crm.organizations.models import Organization
from crm.pledges.models import (
    Assessment,
    Maturity,
    Pledge,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
    Standing,
)
from crm.pledges.schedule import Quarter, Schedule, schedule
from crm.standards.models import Principle, Standard
from crm.standards.queries import counts_usage, grouped_count

FILED = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)


def last_reported(pledge_ids: list[int]) -> dict[int, Quarter]:
    """Per pledge, the latest quarter covered by a submitted or accepted report."""
    if not pledge_ids:
        return {}
    key = ProgressReport.year * 4 + ProgressReport.quarter - 1
    rows = db.session.execute(
        sa.select(ProgressReport.pledge_id, sa.func.max(key))
        .where(ProgressReport.pledge_id.in_(pledge_ids), ProgressReport.status.in_(FILED))
        .group_by(ProgressReport.pledge_id)
    )
    return {pid: Quarter(value // 4, value % 4 + 1) for pid, value in rows if value is not None}


def schedules(pledges: list[Pledge], today: date | None = None) -> dict[int, Schedule]:
    today = today or date.today()
    config = _schedule_settings()
    reported = last_reported([p.id for p in pledges])
    return {
        p.id: schedule(
            p.status,
            p.activated_on,
            reported.get(p.id),
            today,
            due_days=config["PLEDGE_REPORT_DUE_DAYS"],
            grace_days=config["PLEDGE_LAPSE_GRACE_DAYS"],
        )
        for p in pledges
    }


def _schedule_settings() -> dict:
    """The app's report deadlines; code run outside an app (a script, a test body calling
    operations) gets the configured defaults."""
    if has_app_context():
        return current_app.config
    from config import BaseConfig

    return {
        "PLEDGE_REPORT_DUE_DAYS": BaseConfig.PLEDGE_REPORT_DUE_DAYS.value(),
        "PLEDGE_LAPSE_GRACE_DAYS": BaseConfig.PLEDGE_LAPSE_GRACE_DAYS.value(),
    }


def schedule_of(pledge: Pledge, today: date | None = None) -> Schedule:
    return schedules([pledge], today)[pledge.id]


def all_pledges() -> list[Pledge]:
    """Every pledge with what the lists show. Pledges number in the hundreds, not millions."""
    return list(
        db.session.scalars(
            sa.select(Pledge)
            .options(
                selectinload(Pledge.organization),
                selectinload(Pledge.standard),
                selectinload(Pledge.signatory),
            )
            .order_by(Pledge.id.desc())
        )
    )


def funnel(pledges: list[Pledge], standing: dict[int, Schedule]) -> list[tuple[Standing, int]]:
    counts = Counter(standing[p.id].standing for p in pledges)
    return [(s, counts.get(s, 0)) for s in Standing]


def overdue(pledges: list[Pledge], standing: dict[int, Schedule]) -> list[Pledge]:
    late = [(since, p) for p in pledges if (since := standing[p.id].overdue_since) is not None]
    return [p for _since, p in sorted(late, key=lambda pair: pair[0])]


@dataclass
class ProgressPoint:
    quarter: Quarter
    average: float  # mean maturity score, 0 (not started) to 4 (verified)
    levels: dict[str, Maturity]  # principle code -> level


def progress_over_quarters(pledge_ids: list[int]) -> list[ProgressPoint]:
    """One point per quarter reported (the latest filed report of each quarter)."""
    reports = db.session.scalars(
        sa.select(ProgressReport)
        .where(ProgressReport.pledge_id.in_(pledge_ids), ProgressReport.status.in_(FILED))
        .options(selectinload(ProgressReport.answers).selectinload(Assessment.principle))
        .order_by(ProgressReport.year, ProgressReport.quarter, ProgressReport.id)
    ).all()
    latest: dict[Quarter, ProgressReport] = {}
    for report in reports:
        latest[Quarter(report.year, report.quarter)] = report  # later ids win: corrections
    points = []
    for quarter in sorted(latest):
        answers = latest[quarter].answers
        if not answers:
            continue
        points.append(
            ProgressPoint(
                quarter=quarter,
                average=round(sum(a.level.score for a in answers) / len(answers), 2),
                levels={a.principle.code: a.level for a in answers},
            )
        )
    return points


@dataclass
class PrincipleProgress:
    principle: Principle
    counts: dict[Maturity, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def progress_by_principle(standard: Standard) -> list[PrincipleProgress]:
    """For each principle of `standard`: how many pledges are at each level, by their latest
    filed report on that version."""
    reports = db.session.scalars(
        sa.select(ProgressReport)
        .join(Pledge, Pledge.id == ProgressReport.pledge_id)
        .where(
            ProgressReport.standard_id == standard.id,
            ProgressReport.status.in_(FILED),
            Pledge.status != PledgeStatus.WITHDRAWN,
        )
        .options(selectinload(ProgressReport.answers))
        .order_by(ProgressReport.year, ProgressReport.quarter, ProgressReport.id)
    ).all()
    latest: dict[int, ProgressReport] = {}
    for report in reports:
        latest[report.pledge_id] = report
    counts: dict[int, Counter] = defaultdict(Counter)
    for report in latest.values():
        for answer in report.answers:
            counts[answer.principle_id][answer.level] += 1
    return [
        PrincipleProgress(p, {level: counts[p.id].get(level, 0) for level in Maturity})
        for p in standard.principles
    ]


def pledges_of_organization(organization_id: int) -> list[tuple[Pledge, Standing]]:
    """The organization's pledges, newest first, with their standing (for its record page)."""
    pledges = list(
        db.session.scalars(
            sa.select(Pledge)
            .where(Pledge.organization_id == organization_id)
            .options(selectinload(Pledge.standard))
            .order_by(Pledge.id.desc())
        )
    )
    standing = schedules(pledges)
    return [(p, standing[p.id].standing) for p in pledges]


# --- the public directory --------------------------------------------------------------------

DIRECTORY_STANDINGS = (Standing.ACTIVE, Standing.ADOPTED, Standing.NON_REPORTING, Standing.SIGNED)


@dataclass
class DirectoryEntry:
    organization: Organization
    version: str
    standing: Standing
    signed_on: date | None

    def as_json(self) -> dict:
        return {
            "organization": self.organization.name,
            "kind": self.organization.kind.value,
            "country": self.organization.country,
            "standard_version": self.version,
            "status": self.standing.value,
            "signed_on": self.signed_on.isoformat() if self.signed_on else None,
        }


def directory(country: str = "", kind: str = "") -> list[DirectoryEntry]:
    """Signatories who agreed to be listed; lapsed and withdrawn pledges are not shown."""
    stmt = (
        sa.select(Pledge)
        .join(Organization, Organization.id == Pledge.organization_id)
        .where(Pledge.listed, Pledge.status.in_((PledgeStatus.ACTIVE, PledgeStatus.ADOPTED)))
        .options(selectinload(Pledge.organization), selectinload(Pledge.standard))
        .order_by(Organization.name_key, Pledge.id)
    )
    if country:
        stmt = stmt.where(Organization.country == country.upper())
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    pledges = list(db.session.scalars(stmt))
    standing = schedules(pledges)
    return [
        DirectoryEntry(p.organization, p.standard.version, standing[p.id].standing, p.signed_on)
        for p in pledges
        if standing[p.id].standing in DIRECTORY_STANDINGS
    ]


# --- timelines -------------------------------------------------------------------------------


@timeline_source("organization")
def organization_pledges(organization_id: int, limit: int) -> list[TimelineItem]:
    pledges = db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.organization_id == organization_id)
        .options(selectinload(Pledge.history), selectinload(Pledge.standard))
    ).all()
    items = []
    for pledge in pledges:
        url = url_for("pledges.detail", pledge_id=pledge.id)
        for change in pledge.history[:limit]:
            items.append(
                TimelineItem(
                    when=change.at,
                    kind=f"Pledge {pledge.standard.version}",
                    title=change.note or f"Pledge {change.to_status.label.lower()}",
                    url=url,
                    icon="patch-check",
                )
            )
    return items


@timeline_source("contact")
def signatory_pledges(contact_id: int, limit: int) -> list[TimelineItem]:
    pledges = db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.signatory_id == contact_id, Pledge.signed_on.is_not(None))
        .options(selectinload(Pledge.organization), selectinload(Pledge.standard))
        .limit(limit)
    ).all()
    return [
        TimelineItem(
            when=p.signed_on,
            kind="Pledge signed",
            title=f"Signed {p.organization.name}'s pledge to version {p.standard.version}",
            url=url_for("pledges.detail", pledge_id=p.id),
            icon="patch-check",
        )
        for p in pledges
        if p.signed_on is not None  # (the query asks for signed ones)
    ]


# A version's usage (crm.standards.queries): pledges, their reports and assessments freeze it.
@counts_usage("pledges")
def _pledges_by_version(standard_ids: list[int] | None) -> dict[int, int]:
    return grouped_count(Pledge.standard_id, standard_ids)


@counts_usage("pledges")
def _pledges_by_first_version(standard_ids: list[int] | None) -> dict[int, int]:
    """A pledge moved to a newer version still tells its history against the first one."""
    rows = db.session.execute(
        sa.select(Pledge.first_standard_id, sa.func.count())
        .where(
            Pledge.first_standard_id.is_not(None),
            Pledge.first_standard_id != Pledge.standard_id,
            *([Pledge.first_standard_id.in_(standard_ids)] if standard_ids is not None else []),
        )
        .group_by(Pledge.first_standard_id)
    )
    return {standard_id: n for standard_id, n in rows if standard_id is not None}


@counts_usage("reports")
def _reports_by_version(standard_ids: list[int] | None) -> dict[int, int]:
    return grouped_count(ProgressReport.standard_id, standard_ids)


@counts_usage("assessments")
def _assessments_by_version(standard_ids: list[int] | None) -> dict[int, int]:
    return grouped_count(Principle.standard_id, standard_ids, Assessment)
