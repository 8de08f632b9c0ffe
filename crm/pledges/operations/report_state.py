"""What a pledge's progress reports say so far, read by its lifecycle and by reporting alike:
the draft in progress, a report's filed correction, and whether every principle is verified.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.extensions import db
from crm.pledges.models import TOP_LEVEL, Pledge, ProgressReport, ReportStatus


def fully_verified(pledge: Pledge) -> bool:
    """Every principle of the pledge's version at the top level in one accepted report."""
    principle_ids = {p.id for p in pledge.standard.principles}
    accepted = db.session.scalars(
        sa.select(ProgressReport).where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status == ReportStatus.ACCEPTED,
            ProgressReport.standard_id == pledge.standard_id,
        )
    )
    for report in accepted:
        if superseded(report) is not None:
            continue
        top = {a.principle_id for a in report.answers if a.level is TOP_LEVEL}
        if principle_ids and principle_ids <= top:
            return True
    return False


def draft_of(pledge: Pledge) -> ProgressReport | None:
    return db.session.scalar(
        sa.select(ProgressReport).where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status == ReportStatus.DRAFT,
        )
    )


def superseded(report: ProgressReport) -> ProgressReport | None:
    """A filed correction of `report`, if there is one: then that one counts, not this."""
    return db.session.scalar(
        sa.select(ProgressReport).where(
            ProgressReport.corrects_id == report.id,
            ProgressReport.status != ReportStatus.DRAFT,
        )
    )
