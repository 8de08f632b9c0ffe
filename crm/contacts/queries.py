"""Reading contacts: the list with its search, filters and sorts, and look-ups."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.contacts.models import Contact
from crm.core.pagination import SortOption
from crm.core.search import normalize_query, substring_ids
from crm.extensions import db
from crm.organizations.models import Organization
from crm.tags.models import Tag, contact_tag

SORTS = {
    "name": SortOption("Name A–Z", (Contact.sort_name, Contact.id)),
    "name_desc": SortOption("Name Z–A", (Contact.sort_name, Contact.id), descending=True),
    "newest": SortOption("Newest first", (Contact.created_at, Contact.id), descending=True),
    "updated": SortOption("Recently changed", (Contact.updated_at, Contact.id), descending=True),
}


@dataclass
class ContactFilters:
    q: str = ""
    kind: str = ""  # organization kind
    country: str = ""
    tag: str = ""
    owner: str = ""  # a user id, or "me" resolved by the view, or "none"
    organization_id: int | None = None

    @property
    def active(self) -> bool:
        return any((self.q, self.kind, self.country, self.tag, self.owner, self.organization_id))


def _search_ids(text: str) -> sa.Select | None:
    """Contacts whose name or email contains `text`, or who work at an organization that does."""
    text = normalize_query(text)
    if not text:
        return None
    by_person = substring_ids("contact", text)  # names and email addresses
    if "@" in text:
        if " " not in text:
            # An address or its start: the unique email index answers in one probe, where the
            # trigrams of ".example.org" would each list most of the table.
            prefix = sa.select(Contact.id).where(
                Contact.email >= text, Contact.email < text + "\uffff"
            )
            if db.session.scalar(prefix.limit(1)) is not None:
                return prefix
        return by_person
    org_ids = substring_ids("organization", text)
    by_org = sa.select(Contact.id).where(Contact.organization_id.in_(org_ids))
    return sa.union(by_person, by_org)


def filtered(filters: ContactFilters) -> sa.Select:
    stmt = sa.select(Contact).options(
        selectinload(Contact.organization), selectinload(Contact.owner)
    )
    ids = _search_ids(filters.q)
    if ids is not None:
        stmt = stmt.where(Contact.id.in_(ids))
    if filters.kind:
        stmt = stmt.where(
            Contact.organization_id.in_(
                sa.select(Organization.id).where(Organization.kind == filters.kind)
            )
        )
    if filters.country:
        stmt = stmt.where(Contact.country == filters.country.upper())
    if filters.tag:
        stmt = stmt.where(
            Contact.id.in_(
                sa.select(contact_tag.c.contact_id)
                .join(Tag, Tag.id == contact_tag.c.tag_id)
                .where(Tag.name == filters.tag.lower())
            )
        )
    if filters.owner == "none":
        stmt = stmt.where(Contact.owner_id.is_(None))
    elif filters.owner:
        with contextlib.suppress(ValueError):
            stmt = stmt.where(Contact.owner_id == int(filters.owner))
    if filters.organization_id:
        stmt = stmt.where(Contact.organization_id == filters.organization_id)
    return stmt


def lookup(text: str, limit: int = 10) -> list[Contact]:
    ids = _search_ids(text)
    if ids is None:
        return []
    stmt = sa.select(Contact).where(Contact.id.in_(ids), Contact.erased_at.is_(None))
    stmt = stmt.options(selectinload(Contact.organization)).order_by(Contact.sort_name)
    return list(db.session.scalars(stmt.limit(limit)))


def contacts_of_organization(organization_id: int, limit: int = 200) -> list[Contact]:
    stmt = (
        sa.select(Contact)
        .where(Contact.organization_id == organization_id)
        .order_by(Contact.sort_name, Contact.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def count_of_organization(organization_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Contact)
        .where(Contact.organization_id == organization_id)
    )
