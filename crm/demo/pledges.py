"""Demo pledges: every status, with progress reports growing quarter by quarter."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.extensions import db
from crm.pledges.models import (
    Assessment,
    Maturity,
    Pledge,
    PledgeChange,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
)
from crm.pledges.schedule import Quarter
from crm.standards.models import Standard, StandardStatus

LEVELS = list(Maturity)


def load(rng: random.Random, contacts: list[Contact], staff: list[User], rep_org_id: int) -> int:
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    if standard is None:
        return 0
    by_org: dict[int, Contact] = {}
    for contact in contacts:
        if contact.organization_id and contact.email:
            by_org.setdefault(contact.organization_id, contact)
    org_ids = [rep_org_id] + [o for o in by_org if o != rep_org_id]
    plan = (
        [PledgeStatus.ACTIVE] * 16
        + [PledgeStatus.ADOPTED] * 3
        + [PledgeStatus.SIGNED] * 3
        + [PledgeStatus.DRAFT] * 2
        + [PledgeStatus.WITHDRAWN] * 2
    )
    today = date.today()
    count = 0
    for org_id, status in zip(org_ids, plan, strict=False):
        signatory = by_org.get(org_id)
        lead = rng.choice(staff)
        signed = today - timedelta(days=rng.randint(200, 700))
        pledge = Pledge(
            organization_id=org_id,
            standard_id=standard.id,
            signatory_id=signatory.id if signatory else None,
            signed_on=signed if status is not PledgeStatus.DRAFT else None,
            listed=rng.random() < 0.75,
            status=status,
            source=rng.choice(["staff", "public form"]),
            created_by_id=lead.id,
        )
        if status is PledgeStatus.SIGNED:
            pledge.signed_on = today - timedelta(days=rng.randint(1, 20))
        db.session.add(pledge)
        db.session.flush()
        first = PledgeStatus.DRAFT if status is PledgeStatus.DRAFT else PledgeStatus.SIGNED
        # (from, to, on)
        history: list[tuple[PledgeStatus | None, PledgeStatus, date]] = [
            (None, first, pledge.signed_on or today)
        ]
        if status in (PledgeStatus.ACTIVE, PledgeStatus.ADOPTED, PledgeStatus.WITHDRAWN):
            pledge.activated_on = activated = signed + timedelta(days=rng.randint(3, 20))
            history.append((PledgeStatus.SIGNED, PledgeStatus.ACTIVE, activated))
            lagging = org_id != rep_org_id and rng.random() < 0.3
            _reports(rng, pledge, standard, today, adopted=status is PledgeStatus.ADOPTED,
                     lagging=lagging)  # fmt: skip
        if status is PledgeStatus.ADOPTED:
            pledge.adopted_on = adopted = today - timedelta(days=rng.randint(5, 60))
            history.append((PledgeStatus.ACTIVE, PledgeStatus.ADOPTED, adopted))
        if status is PledgeStatus.WITHDRAWN:
            pledge.withdrawn_on = withdrawn = today - timedelta(days=rng.randint(5, 90))
            pledge.withdrawal_reason = "Changed ownership; will reconsider next year"
            history.append((PledgeStatus.ACTIVE, PledgeStatus.WITHDRAWN, withdrawn))
        for old, new, day in history:
            at = datetime.combine(day, time(9, 30), tzinfo=UTC)
            db.session.add(
                PledgeChange(
                    pledge_id=pledge.id, from_status=old, to_status=new, at=at, by_id=lead.id
                )
            )
        count += 1
    db.session.flush()
    return count


def _reports(rng, pledge: Pledge, standard: Standard, today: date, *, adopted: bool, lagging: bool):
    assert pledge.activated_on is not None, "an active pledge reports; it was activated first"
    quarter = Quarter.of(pledge.activated_on)
    last = Quarter.of(today).previous()
    if lagging:  # stopped reporting a quarter or two ago: non-reporting, or lapsed
        last = last.previous() if rng.random() < 0.5 else last.previous().previous()
    levels = {p.id: 0 for p in standard.principles}
    while quarter <= last:
        for pid in levels:
            levels[pid] = min(4, levels[pid] + rng.choice([0, 0, 1, 1, 2]))
        if adopted and quarter == last:
            levels = {pid: 4 for pid in levels}
        report = ProgressReport(
            pledge_id=pledge.id,
            standard_id=standard.id,
            year=quarter.year,
            quarter=quarter.number,
            status=ReportStatus.ACCEPTED
            if rng.random() < 0.8 or adopted
            else ReportStatus.SUBMITTED,
            submitted_at=utcnow() - timedelta(days=max(1, (today - quarter.due(20)).days)),
        )
        for principle in standard.principles:
            report.answers.append(
                Assessment(
                    principle_id=principle.id,
                    position=principle.position,
                    level=LEVELS[levels[principle.id]],
                    evidence="https://www.example.org/evidence/" + principle.code.lower()
                    if levels[principle.id] >= 3
                    else None,
                )
            )
        db.session.add(report)
        quarter = quarter.next()
