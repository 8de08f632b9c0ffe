"""Reading contacts: the list with its search, filters and sorts, and look-ups."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import selectinload

from crm.contacts.models import Contact
from crm.core.pagination import SortOption
from crm.core.search import normalize_query, substring_condition, substring_ids
from crm.extensions import db
from crm.organizations.models import Organization
from crm.tags.models import Tag, contact_tag

SORTS = {
    "name": SortOption("Name A–Z", (Contact.sort_name, Contact.id)),
    "name_desc": SortOption("Name Z–A", (Contact.sort_name, Contact.id), descending=True),
    "newest": SortOption("Newest first", (Contact.created_at, Contact.id), descending=True),
    "updated": SortOption("Recently changed", (Contact.updated_at, Contact.id), descending=True),
    # The default for searches: any search costs about one page, however many match.
    "recent": SortOption("Recently added", (Contact.id,), descending=True),
}
SEARCH_SORT = "recent"


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


# Up to this many matches a search is "sparse": read them all through the trigram index and
# sort them (a few milliseconds per thousand). Past it, matches are dense enough that walking
# the name index and testing each row finds a page sooner. Measured in benchmarks/.
SPARSE_LIMIT = {"sqlite": 20_000, "postgresql": 5_000}
ORGANIZATION_LIMIT = 500


@dataclass
class SearchPlan:
    condition: sa.ColumnElement[bool]
    known_total: int | None  # exact count when sparse; None when dense (a great many)


def dense_floor() -> int:
    """A dense search has more matches than this."""
    return SPARSE_LIMIT.get(db.engine.dialect.name, 5_000)


def _count_upto(stmt: sa.Select, cap: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.limit(cap + 1).subquery()))


def plan_search(text: str, *, by_id: bool = False) -> SearchPlan | None:
    """How to find contacts whose name or email contains `text`, or whose organization's does.

    Counting the matches through the trigram indexes (capped, so cheap) decides the strategy,
    so both a rare name and a common fragment come back fast from a million contacts.
    """
    text = normalize_query(text)
    if not text:
        return None
    limit = SPARSE_LIMIT.get(db.engine.dialect.name, 5_000)
    if "@" in text and " " not in text:
        # An address or its start: the unique email index answers directly.
        prefix = sa.and_(Contact.email >= text, Contact.email < text + "\uffff")
        found = _count_upto(sa.select(Contact.id).where(prefix), limit)
        if found:
            if found > limit:
                return SearchPlan(prefix, None)
            return _sparse(sa.select(Contact.id).where(prefix), found)
    person_ids = substring_ids("contact", text)
    person_condition = substring_condition("contact", text).self_group()
    org_ids = substring_ids("organization", text) if "@" not in text else None
    person_list: list[int] | None = None
    if db.engine.dialect.name == "postgresql":
        # One trigram scan both counts and finds the few: fetch up to the limit.
        person_list = list(db.session.scalars(person_ids.limit(limit + 1)))
        persons = len(person_list)
    else:
        persons = _count_upto(person_ids, limit)
    orgs = _count_upto(org_ids, ORGANIZATION_LIMIT) if org_ids is not None else 0
    org_condition = Contact.organization_id.in_(org_ids) if orgs else None
    dense = (
        person_condition if org_condition is None else sa.or_(person_condition, org_condition)
    )
    by_org = sa.select(Contact.id).where(org_condition) if org_condition is not None else None
    all_ids = person_ids if by_org is None else sa.union(person_ids, by_org)
    if by_id and db.engine.dialect.name == "sqlite" and (
        persons > limit or orgs > ORGANIZATION_LIMIT
    ):
        # Ordered by id, SQLite walks the primary key and checks each row against the set the
        # FTS index found once: one page's worth of rows, however many match.
        return SearchPlan(Contact.id.in_(all_ids), None)
    if persons > limit or orgs > ORGANIZATION_LIMIT:
        return SearchPlan(dense, None)
    if by_org is None:
        if person_list is not None:
            return _id_array_plan(person_list)
        return _sparse(person_ids, persons)
    if persons + _count_upto(by_org, limit) > limit:
        if by_id and db.engine.dialect.name == "sqlite":
            return SearchPlan(Contact.id.in_(all_ids), None)
        return SearchPlan(dense, None)
    return _sparse(all_ids, None)


def _id_array_plan(ids: list[int]) -> SearchPlan:
    array = sa.bindparam("search_ids", ids, type_=ARRAY(sa.Integer))
    return SearchPlan(Contact.id == sa.any_(array), len(ids))


def _sparse(ids: sa.Select | sa.CompoundSelect, total: int | None) -> SearchPlan:
    """A plan over a few thousand ids at most.

    PostgreSQL plans `id IN (subquery) ORDER BY name LIMIT n` as a walk of the name index,
    which is slow for few matches; handing it the ids as one array makes it fetch and sort
    them. SQLite plans the subquery well and reads it once.
    """
    if db.engine.dialect.name == "postgresql":
        return _id_array_plan(list(db.session.scalars(ids)))
    if total is None:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery()))
    return SearchPlan(Contact.id.in_(ids), total)


def filtered(filters: ContactFilters, plan: SearchPlan | None = None) -> sa.Select:
    stmt = sa.select(Contact).options(
        selectinload(Contact.organization), selectinload(Contact.owner)
    )
    plan = plan or plan_search(filters.q)
    if plan is not None:
        stmt = stmt.where(plan.condition)
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
    plan = plan_search(text)
    if plan is None:
        return []
    stmt = sa.select(Contact).where(plan.condition, Contact.erased_at.is_(None))
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
