"""Finding case studies: the library's filters, a member's own, the public page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.core.validation import LARGEST_ID
from crm.extensions import db
from crm.library.models import (
    CaseStudy,
    Outcome,
    ReviewStatus,
    Technology,
    case_study_organization,
    case_study_principle,
)
from crm.organizations.models import Organization
from crm.standards.models import Principle, Standard, StandardStatus
from crm.standards.queries import version_key


@dataclass
class LibraryFilters:
    q: str = ""
    principle: str = ""  # a principle code ("P1"): the principle of that code in any version
    outcome: str = ""
    technology: str = ""
    country: str = ""
    sector: str = ""

    @property
    def active(self) -> bool:
        return any(vars(self).values())


def filters_from(args: Mapping[str, str]) -> LibraryFilters:
    """The filters a list page's query string asks for (the staff library and the public one)."""
    return LibraryFilters(
        q=args.get("q", "").strip(),
        principle=principle_code(args.get("principle", "")),
        outcome=args.get("outcome", ""),
        technology=args.get("technology", ""),
        country=args.get("country", ""),
        sector=args.get("sector", "").strip(),
    )


def filter_choices() -> dict[str, list]:
    """The choices of the list pages' filters, for their template."""
    return {
        "principles": principle_options(),
        "outcomes": list(Outcome),
        "technologies": list(Technology),
    }


def _contains(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ matched as themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(filters: LibraryFilters, *, public_only: bool = False) -> sa.Select:
    stmt = sa.select(CaseStudy).options(
        selectinload(CaseStudy.principles), selectinload(CaseStudy.organizations)
    )
    if public_only:
        stmt = stmt.where(CaseStudy.status == ReviewStatus.PUBLISHED, CaseStudy.shareable)
    if filters.q:
        # Hundreds of case studies, not millions: a contains-match is enough.
        pattern = _contains(filters.q[:100])
        named = (
            sa.select(case_study_organization.c.case_study_id)
            .join(Organization, Organization.id == case_study_organization.c.organization_id)
            .where(Organization.name.ilike(pattern, escape="\\"))
        )
        stmt = stmt.where(
            sa.or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        CaseStudy.title,
                        CaseStudy.lessons,
                        CaseStudy.what_happened,
                        CaseStudy.sectors,
                        CaseStudy.unlinked_organizations,
                    )
                ),
                CaseStudy.id.in_(named),
            )
        )
    if filters.principle:
        stmt = stmt.where(
            CaseStudy.id.in_(
                sa.select(case_study_principle.c.case_study_id)
                .join(Principle, Principle.id == case_study_principle.c.principle_id)
                .where(Principle.code == filters.principle)
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
        stmt = stmt.where(CaseStudy.sectors.ilike(_contains(filters.sector[:50]), escape="\\"))
    return stmt.order_by(CaseStudy.happened_on.desc().nulls_last(), CaseStudy.id.desc())


def principle_code(value: str) -> str:
    """The principle filter's value as a code: links made before it took codes gave an id."""
    value = value.strip()[:20]
    if value.isdigit():
        if int(value) > LARGEST_ID:
            return ""
        return db.session.scalar(sa.select(Principle.code).where(Principle.id == int(value))) or ""
    return value.upper()


@dataclass(frozen=True)
class PrincipleOption:
    code: str
    label: str


def principle_options() -> list[PrincipleOption]:
    """The principle filter's choices, one per code: the current version's principles and any
    other version's that a case study is tagged with. A code in more than one version names
    them ("P1 · … (1.0, 2.0)"): the filter matches the principle in all of them."""
    rows = db.session.execute(
        sa.select(Principle.code, Principle.title, Principle.position, Standard.version,
                  Standard.status)
        .join(Standard)
        .where(
            sa.or_(
                Standard.status == StandardStatus.CURRENT,
                Principle.id.in_(sa.select(case_study_principle.c.principle_id)),
            )
        )
    ).all()  # fmt: skip
    by_code: dict[str, list] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
    options = []
    for code, versions in by_code.items():
        # The title of the version in force, else of the newest one.
        versions.sort(key=lambda r: (r.status == StandardStatus.CURRENT, version_key(r.version)))
        shown = versions[-1]
        label = f"{code} · {shown.title}"
        if len(versions) > 1 or shown.status != StandardStatus.CURRENT:
            label += f" ({', '.join(sorted((r.version for r in versions), key=version_key))})"
        options.append((shown.status != StandardStatus.CURRENT, shown.position, code, label))
    return [PrincipleOption(code, label) for *_, code, label in sorted(options)]
