"""Demo case studies for the learning library: successes, mixed results and failures."""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.core.db import utcnow
from crm.extensions import db
from crm.library.models import CaseStudy, Outcome, ReviewStatus, Technology
from crm.standards.models import Principle

CASES = [
    ("SMS grievance line in Gazipur knitwear factories", Technology.SMS_SURVEY, Outcome.MIXED,
     "BD", "garments", 12_000, ["P3", "P5"],
     "Workers used the line from the first week, but answers to their reports took a month.",
     "Answer within a week, or trust drops and the line goes quiet."),
    ("Worker-run helpline for migrant workers in Johor", Technology.HELPLINE, Outcome.WORKED,
     "MY", "electronics", 8_500, ["P2", "P3", "P4"],
     "A union-run helpline in five languages, funded by three buyers, staffed by former workers.",
     "Ownership by workers' own organizations made people call; language mattered most."),
    ("Digital wage payments in Ethiopian industrial parks", Technology.DIGITAL_WAGES,
     Outcome.FAILED, "ET", "garments", 20_000, ["P1", "P6"],
     "Payslips moved to an app most workers could not open on their phones.",
     "Test with workers' own devices first; keep paper payslips until the app works."),
    ("Anonymous survey app in Vietnamese footwear suppliers", Technology.APP, Outcome.WORKED,
     "VN", "footwear", 30_000, ["P5", "P6", "P7"],
     "Quarterly pulse surveys with results shared back to worker committees within a month.",
     "Sharing results back, and acting on one of them visibly, doubled response rates."),
    ("Grievance platform rollout across Indian spinning mills", Technology.GRIEVANCE_PLATFORM,
     Outcome.MIXED, "IN", "textiles", 45_000, ["P3", "P5", "P8"],
     "Uptake was high where committees were trained, near zero where the platform was imposed.",
     "Train worker committees before launch; let them co-own the categories."),
    ("Voice surveys for smallholder farm workers", Technology.OTHER, Outcome.WORKED,
     "GH", "agriculture", 6_000, ["P2", "P4"],
     "Interactive voice calls in local languages reached workers without smartphones.",
     "Design for the phones people have, not the ones we wish they had."),
]  # fmt: skip


def load(rng: random.Random, staff: list[User]) -> int:
    by_code = {
        p.code: p
        for p in db.session.scalars(sa.select(Principle).where(Principle.standard_id == 1))
    }
    today = date.today()
    for n, (title, tech, outcome, country, sector, reached, codes, happened, lessons) in enumerate(
        CASES
    ):
        author = rng.choice(staff)
        case = CaseStudy(
            title=title,
            technology=tech,
            outcome=outcome,
            countries=country,
            sectors=sector,
            workers_reached=reached,
            what_happened=happened,
            lessons=lessons,
            happened_on=today - timedelta(days=rng.randint(60, 900)),
            shareable=n % 3 != 2,
            status=ReviewStatus.SUBMITTED if n == len(CASES) - 1 else ReviewStatus.PUBLISHED,
            created_by_id=author.id,
        )
        if case.status is ReviewStatus.PUBLISHED:
            case.reviewed_at = case.first_published_at = utcnow()
        case.principles = [by_code[c] for c in codes if c in by_code]
        db.session.add(case)
    db.session.flush()
    return len(CASES)
