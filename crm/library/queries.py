"""Finding case studies: the library's filters, a member's own, the public page."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.library.models import CaseStudy, Outcome, ReviewStatus, Technology, case_study_principle


@dataclass
class LibraryFilters:
    q: str = ""
    principle: str = ""  # a principle id
    outcome: str = ""
    technology: str = ""
    country: str = ""
    sector: str = ""

    @property
    def active(self) -> bool:
        return any(vars(self).values())


def filtered(filters: LibraryFilters, *, public_only: bool = False) -> sa.Select:
    stmt = sa.select(CaseStudy).options(
        selectinload(CaseStudy.principles), selectinload(CaseStudy.organizations)
    )
    if public_only:
        stmt = stmt.where(CaseStudy.status == ReviewStatus.PUBLISHED, CaseStudy.shareable)
    if filters.q:
        # Hundreds of case studies, not millions: a contains-match is enough.
        pattern = "%" + filters.q.replace("%", "").replace("_", "")[:100] + "%"
        stmt = stmt.where(
            sa.or_(
                CaseStudy.title.ilike(pattern),
                CaseStudy.lessons.ilike(pattern),
                CaseStudy.what_happened.ilike(pattern),
            )
        )
    if filters.principle:
        with contextlib.suppress(ValueError):
            stmt = stmt.where(
                CaseStudy.id.in_(
                    sa.select(case_study_principle.c.case_study_id).where(
                        case_study_principle.c.principle_id == int(filters.principle)
                    )
                )
            )
    if filters.outcome in {o.value for o in Outcome}:
        stmt = stmt.where(CaseStudy.outcome == filters.outcome)
    if filters.technology in {t.value for t in Technology}:
        stmt = stmt.where(CaseStudy.technology == filters.technology)
    if filters.country:
        # Codes are stored comma separated: match a whole code.
        code = filters.country.upper()[:2]
        stmt = stmt.where(("," + CaseStudy.countries + ",").like(f"%,{code},%"))
    if filters.sector:
        stmt = stmt.where(CaseStudy.sectors.ilike("%" + filters.sector.replace("%", "")[:50] + "%"))
    return stmt.order_by(CaseStudy.happened_on.desc().nulls_last(), CaseStudy.id.desc())
