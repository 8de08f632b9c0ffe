"""Reading the standard's principles."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from crm.extensions import db
from crm.standards.models import Principle, Standard, StandardStatus


def current_standard() -> Standard | None:
    return db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT).limit(1)
    )


def current_principles() -> list[Principle]:
    """The principles of the version in force: what endorsements and pledges refer to."""
    return list(
        db.session.scalars(
            sa.select(Principle)
            .join(Standard)
            .where(Standard.status == StandardStatus.CURRENT)
            .order_by(Principle.position)
        )
    )


def principle_choices(keep: Iterable[Principle] = ()) -> list[tuple[int, str]]:
    """The current version's principles, then those of `keep` from other versions (what a
    record was tagged with before a newer version became current), labelled with their
    version: unticked nowhere, they would be dropped by the next save."""
    current = current_principles()
    current_ids = {p.id for p in current}
    older = sorted(
        (p for p in keep if p.id not in current_ids),
        key=lambda p: (version_key(p.standard.version), p.position),
    )
    return [(p.id, p.label) for p in current] + [
        (p.id, f"{p.label} (version {p.standard.version})") for p in older
    ]


@dataclass(frozen=True)
class Usage:
    """What refers to a version. Anything here freezes it: it can only be superseded."""

    pledges: int = 0
    reports: int = 0
    assessments: int = 0
    answers: int = 0  # consultation answers about its principles

    @property
    def in_use(self) -> bool:
        return bool(self.pledges or self.reports or self.assessments or self.answers)

    @property
    def label(self) -> str:
        parts = [
            _count(self.pledges, "pledge"),
            _count(self.reports, "progress report"),
            _count(self.assessments, "assessment"),
            _count(self.answers, "consultation answer"),
        ]
        return ", ".join(p for p in parts if p) or "not in use"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' if n != 1 else ''}" if n else ""


# What refers to a version lives in the domains that stand on this one (pledges, consultations),
# so they register how to count it: a counter gives {standard id: how many} for the versions
# listed (all when None), and adds to one field of `Usage`.
UsageCounter = Callable[[list[int] | None], dict[int, int]]
_COUNTERS: list[tuple[str, UsageCounter]] = []


def counts_usage(field: str) -> Callable[[UsageCounter], UsageCounter]:
    """Register a counter for the `Usage` field `field` ("pledges", "reports", ...)."""

    def register(counter: UsageCounter) -> UsageCounter:
        _COUNTERS.append((field, counter))
        return counter

    return register


def grouped_count(
    column: sa.ColumnElement[int] | QueryableAttribute[int], standard_ids: list[int] | None, *joins
) -> dict[int, int]:
    """{standard id: rows} grouped by `column` (a standard id), for a `counts_usage` counter."""
    stmt = sa.select(column, sa.func.count()).group_by(column)
    for target in joins:
        stmt = stmt.join(target)
    if standard_ids is not None:
        stmt = stmt.where(column.in_(standard_ids))
    return {key: n for key, n in db.session.execute(stmt) if key is not None}


def usage_by_standard(standard_ids: list[int] | None = None) -> dict[int, Usage]:
    """Usage of each version (all of them, or those listed): a few grouped counts in all."""
    totals: dict[int, dict[str, int]] = {}
    for field, counter in _COUNTERS:
        for sid, n in counter(standard_ids).items():
            counts = totals.setdefault(sid, {})
            counts[field] = counts.get(field, 0) + n
    return {sid: Usage(**counts) for sid, counts in totals.items()}


def usage_of(standard: Standard) -> Usage:
    return usage_by_standard([standard.id]).get(standard.id, Usage())


def all_standards() -> list[Standard]:
    """Newest version first."""
    return sorted(
        db.session.scalars(sa.select(Standard)), key=lambda s: version_key(s.version), reverse=True
    )


def version_key(version: str) -> tuple:
    """Numeric parts compared as numbers: 2.0 > 1.10 > 1.9."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
