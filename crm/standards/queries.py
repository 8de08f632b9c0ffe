"""Reading the standard's principles."""

from __future__ import annotations

import sqlalchemy as sa

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


def principle_choices() -> list[tuple[int, str]]:
    return [(p.id, p.label) for p in current_principles()]
