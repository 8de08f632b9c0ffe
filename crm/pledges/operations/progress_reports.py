"""Progress reports: started (prefilled from the latest), saved, submitted, accepted by a lead,
corrected by a new report for the same quarter, or deleted while a draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_text, clean_website
from crm.extensions import db
from crm.pledges.models import (
    Assessment,
    Maturity,
    Pledge,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
)
from crm.pledges.operations.lifecycle import REPORTING, transition
from crm.pledges.operations.report_state import draft_of, fully_verified, superseded
from crm.pledges.schedule import Quarter, reportable_quarters


def start_report(
    actor: User | None, pledge: Pledge, quarter: Quarter, *, today: date | None = None
) -> ProgressReport:
    """A new draft for `quarter`, prefilled from the latest report on the same version."""
    today = today or date.today()
    if pledge.status not in REPORTING or pledge.activated_on is None:
        raise OperationError(
            "Progress reports start once the team has confirmed the pledge.", field="quarter"
        )
    if quarter not in reportable_quarters(pledge.activated_on, today):
        raise OperationError(
            f"{quarter.label} is not a quarter this pledge reports on (from "
            f"{Quarter.of(pledge.activated_on).label} to {Quarter.of(today).label}).",
            field="quarter",
        )
    draft = draft_of(pledge)
    if draft is not None:
        raise OperationError(
            f"There is already a draft ({draft.period}); finish or delete it first.",
            field="quarter",
        )
    filed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ProgressReport)
        .where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.year == quarter.year,
            ProgressReport.quarter == quarter.number,
            ProgressReport.standard_id == pledge.standard_id,
        )
    )
    if filed:
        raise OperationError(
            f"{quarter.label} is already reported; open that report and choose “Correct this "
            "report” to change it.",
            field="quarter",
        )
    return _new_report(actor, pledge, quarter, base=_latest(pledge))


def _check_reporting(pledge: Pledge) -> None:
    if pledge.status not in REPORTING:
        raise OperationError(
            f"The pledge is {pledge.status.label.lower()}: its reports can no longer change."
        )


def _latest(pledge: Pledge) -> ProgressReport | None:
    """The newest filed report on the pledge's version: a new draft starts from it."""
    return db.session.scalar(
        sa.select(ProgressReport)
        .where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.standard_id == pledge.standard_id,
        )
        .order_by(
            ProgressReport.year.desc(), ProgressReport.quarter.desc(), ProgressReport.id.desc()
        )
        .limit(1)
    )


def _new_report(
    actor: User | None,
    pledge: Pledge,
    quarter: Quarter,
    *,
    base: ProgressReport | None,
    corrects: ProgressReport | None = None,
) -> ProgressReport:
    report = ProgressReport(
        pledge_id=pledge.id,
        standard_id=pledge.standard_id,
        year=quarter.year,
        quarter=quarter.number,
        status=ReportStatus.DRAFT,
        corrects_id=corrects.id if corrects else None,
    )
    previous = {a.principle_id: a for a in base.answers} if base else {}
    for principle in pledge.standard.principles:
        before = previous.get(principle.id)
        report.answers.append(
            Assessment(
                principle_id=principle.id,
                position=principle.position,
                level=before.level if before else Maturity.NOT_STARTED,
                evidence=before.evidence if before else None,
                comment=before.comment if before else None,
            )
        )
    audit.add_recorded(
        actor,
        report,
        "progress_report",
        summary=f"Report for {report.period} started"
        + (f" (correcting {corrects.period})" if corrects else ""),
    )
    return report


@dataclass
class Answer:
    level: Maturity | str
    evidence: str | None = None
    comment: str | None = None


def save_report(
    actor: User | None,
    report: ProgressReport,
    answers: dict[int, Answer],
    *,
    expected_version: int | None = None,
) -> ProgressReport:
    """Save a draft's answers (principle id → answer); submitted reports are read-only."""
    check_version(report, expected_version)
    if report.status is not ReportStatus.DRAFT:
        raise OperationError(
            "A submitted report cannot be changed; start a correction instead (a new report)."
        )
    _check_reporting(report.pledge)
    for assessment in report.answers:
        answer = answers.get(assessment.principle_id)
        if answer is None:
            continue
        code = assessment.principle.code
        try:
            assessment.level = Maturity(answer.level)
        except ValueError:
            raise OperationError(
                f"{code}: “{answer.level}” is not a maturity level.", field=f"level_{code}"
            ) from None
        assessment.evidence = _clean_evidence(answer.evidence, code)
        assessment.comment = clean_text(answer.comment, f"comment_{code}", f"{code} comment", 5_000)
    report.touch(actor)
    db.session.flush()
    return report


def _clean_evidence(text: str | None, code: str) -> str | None:
    links = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            link = clean_website(line, field=f"evidence_{code}")
        except OperationError:
            raise OperationError(
                f"{code}: “{line[:80]}” is not a web address; give one link (https://…) per line.",
                field=f"evidence_{code}",
            ) from None
        assert link is not None  # a line that is not blank is an address or refused
        links.append(link)
    if len(links) > 20:
        raise OperationError(f"{code}: at most 20 evidence links.", field=f"evidence_{code}")
    return "\n".join(links) or None


def submit_report(
    actor: User | None,
    report: ProgressReport,
    answers: dict[int, Answer],
    *,
    expected_version: int | None = None,
) -> ProgressReport:
    save_report(actor, report, answers, expected_version=expected_version)
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = utcnow()
    report.submitted_by_id = getattr(actor, "id", None)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "progress_report",
        report.id,
        summary=f"Report for {report.period} submitted",
        changes={"status": ["draft", "submitted"]},
    )
    db.session.flush()
    return report


def delete_draft(actor: User | None, report: ProgressReport) -> None:
    if report.status is not ReportStatus.DRAFT:
        raise OperationError("Only a draft can be deleted; submitted reports stay on record.")
    audit.delete_recorded(actor, report, "progress_report", summary=f"Draft {report.period}")


def accept_report(
    actor: User, report: ProgressReport, *, expected_version: int | None = None
) -> bool:
    """A lead accepts a submitted report; returns True when that makes the pledge adopted."""
    check_version(report, expected_version)
    if report.status is not ReportStatus.SUBMITTED:
        raise OperationError(
            f"Only a submitted report can be accepted; this one is {report.status.label.lower()}."
        )
    _check_reporting(report.pledge)
    correction = superseded(report)
    if correction is not None:
        raise OperationError(
            f"This report was corrected (report of {correction.submitted_at:%d %b %Y}); "
            "accept the correction instead."
        )
    report.status = ReportStatus.ACCEPTED
    report.accepted_at = utcnow()
    report.accepted_by_id = actor.id
    report.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "progress_report",
        report.id,
        summary=f"Report for {report.period} accepted",
        changes={"status": ["submitted", "accepted"]},
    )
    db.session.flush()
    pledge = report.pledge
    db.session.refresh(pledge, ["reports"])
    if pledge.status is PledgeStatus.ACTIVE and fully_verified(pledge):
        transition(actor, pledge, PledgeStatus.ADOPTED)
        return True
    return False


def correct_report(actor: User | None, report: ProgressReport) -> ProgressReport:
    """A correction is a new draft for the same quarter, starting from the report's answers."""
    if report.status is ReportStatus.DRAFT:
        raise OperationError("This report is still a draft: edit it directly.")
    pledge = report.pledge
    _check_reporting(pledge)
    if report.standard_id != pledge.standard_id:
        raise OperationError(
            "This report is against an earlier version of the standard; file a new report instead."
        )
    if draft_of(pledge) is not None:
        raise OperationError("There is already a draft; finish or delete it first.")
    return _new_report(
        actor, pledge, Quarter(report.year, report.quarter), base=report, corrects=report
    )
