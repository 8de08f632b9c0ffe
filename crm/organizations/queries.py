"""Reading organizations: the filtered, sorted list and name look-ups."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.core.pagination import SortOption
from crm.core.search import substring_ids
from crm.extensions import db
from crm.organizations.models import Organization
from crm.organizations.operations import name_key
from crm.tags.models import Tag, organization_tag

SORTS = {
    "name": SortOption("Name A–Z", (Organization.name_key, Organization.id)),
    "name_desc": SortOption("Name Z–A", (Organization.name_key, Organization.id), descending=True),
    "newest": SortOption(
        "Newest first", (Organization.created_at, Organization.id), descending=True
    ),
    "updated": SortOption(
        "Recently changed", (Organization.updated_at, Organization.id), descending=True
    ),
}


def organization_ids_matching(text: str) -> sa.Select | None:
    """Ids of organizations whose name contains `text` (indexed), or None for an empty query."""
    return substring_ids("organization", text)


def filtered(q: str = "", kind: str = "", country: str = "", tag: str = "") -> sa.Select:
    stmt = sa.select(Organization).options(selectinload(Organization.tags))
    # (a `q` that folds to no text, say a lone accent, names no search: all are listed)
    if q and (ids := organization_ids_matching(q)) is not None:
        stmt = stmt.where(Organization.id.in_(ids))
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if country:
        stmt = stmt.where(Organization.country == country.upper())
    if tag:
        stmt = stmt.where(
            Organization.id.in_(
                sa.select(organization_tag.c.organization_id)
                .join(Tag, Tag.id == organization_tag.c.tag_id)
                .where(Tag.name == tag.lower())
            )
        )
    return stmt


def by_name(name: str) -> Organization | None:
    return db.session.scalar(sa.select(Organization).where(Organization.name_key == name_key(name)))


def lookup(text: str, limit: int = 10) -> list[Organization]:
    ids = organization_ids_matching(text)
    if ids is None:
        return []
    stmt = sa.select(Organization).where(Organization.id.in_(ids)).order_by(Organization.name_key)
    return list(db.session.scalars(stmt.limit(limit)))
