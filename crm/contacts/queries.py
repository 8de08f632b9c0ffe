"""Reading contacts: the list with its search, filters and sorts, and look-ups."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import joinedload, load_only, selectinload

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core import shared_store, table_counts
from crm.core.pagination import Page, SortOption, ids_of_page, paginate
from crm.core.search import normalize_query, substring_condition, substring_ids
from crm.core.validation import database_int
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
# What the list page reads of each contact: what it shows, and every sort's key for the cursors.
LIST_COLUMNS = (
    Contact.first_name, Contact.last_name, Contact.title, Contact.email, Contact.country,
    Contact.consent_status, Contact.organization_id, Contact.owner_id,
    Contact.sort_name, Contact.created_at, Contact.updated_at,
)  # fmt: skip


@dataclass
class ContactFilters:
    q: str = ""
    kind: str = ""  # organization kind
    country: str = ""
    tag: str = ""
    owner: str = ""  # a user id, or "me" resolved by the view, or "none"
    organization_id: int | None = None
    updated_since: datetime | None = None  # the API's incremental sync

    @property
    def active(self) -> bool:
        return self.besides_search or bool(self.q)

    @property
    def besides_search(self) -> bool:
        """Any filter but the search text."""
        return any(
            (
                self.kind,
                self.country,
                self.tag,
                self.owner,
                self.organization_id,
                self.updated_since,
            )
        )


# A search counts its matches up to this many, the same on every engine; past it the list says
# "more than 1,000" and finds its page by walking the list's own order (one page's worth of rows
# when matches are that common). Finding this many ids through the trigram indexes costs a few
# milliseconds at a million contacts; measured in benchmarks/.
SEARCH_COUNT_CAP = 1_000


@dataclass
class SearchPlan:
    condition: sa.ColumnElement[bool]
    known_total: int | None  # exact count up to SEARCH_COUNT_CAP; None: more than that
    # Every match, newest first, when they were few enough to count (known_total is set).
    ids: list[int] | None = None
    # For a great many matches listed in another order than the id (by name, say): the
    # condition to walk that order with. Matches of a name fragment bunch up where that name
    # sorts, so the walk can be long; SQLite tests each entry of the sort index against the set
    # its FTS index found (no row read), PostgreSQL tests the searched text the index includes.
    sorted_condition: sa.ColumnElement[bool] | None = None

    def for_sort(self, sort: SortOption) -> SearchPlan:
        """The plan for a list in `sort` order."""
        if self.sorted_condition is None or len(sort.columns) == 1:
            return self
        return replace(self, condition=self.sorted_condition)


def dense_floor() -> int:
    """A search whose count is not known has more matches than this."""
    return SEARCH_COUNT_CAP


def plan_search(text: str) -> SearchPlan | None:
    """How to find contacts whose name or email contains `text`, or whose organization's does.

    One statement asks the trigram indexes for up to SEARCH_COUNT_CAP + 1 ids of each kind of
    match (by the person, by their organization): few matches are then known by id (counted,
    and a page is a few look-ups by primary key), many are found by walking the list's order and
    testing each row, which costs about a page's worth of rows when they are that common.
    """
    text = normalize_query(text)
    if not text:
        return None
    cap = SEARCH_COUNT_CAP
    if "@" in text and " " not in text:
        # An address or its start: the unique email index answers directly.
        prefix = sa.and_(Contact.email >= text, Contact.email < text + "\uffff")
        found = _ids_upto([sa.select(Contact.id).where(prefix)], cap)
        if found[0]:
            return _plan(found, dense=prefix, members=None)
    person_ids = substring_ids("contact", text)
    person_text = substring_condition("contact", text)
    assert person_ids is not None and person_text is not None  # `text` is a query, not empty
    person_condition = person_text.self_group()
    if "@" in text:  # no organization name has an @
        return _plan(_ids_upto([person_ids], cap), dense=person_condition, members=person_ids)
    org_ids = substring_ids("organization", text)
    assert org_ids is not None  # the same text
    staff_ids = sa.select(Contact.id).where(Contact.organization_id.in_(org_ids))
    dense = sa.or_(person_condition, Contact.organization_id.in_(org_ids))
    if _known_dense(text):
        return SearchPlan(dense, None)
    plan = _plan(
        _ids_upto([person_ids, staff_ids], cap),
        dense=dense,
        members=sa.union_all(person_ids, staff_ids),
    )
    if plan.known_total is None:
        _remember_dense(text)
    return plan


# PostgreSQL: a text found to match more than SEARCH_COUNT_CAP contacts is remembered as such
# for a few minutes, for every process (the shared store), so searching it again skips the
# trigram index's bitmap of its every candidate (most of such a search's time: a name fragment
# typed again, a search paged through or sorted). Only that verdict is kept, never a match: the
# page's rows are read now, with the live condition. A text that common stays common unless
# more than a thousand of its contacts go within the few minutes. SQLite's FTS5 stops at the
# cap by itself, and a GET there does not write.
DENSE_KEEP = timedelta(minutes=10)


def _dense_key(text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"search-dense:{SEARCH_COUNT_CAP}:{digest}"  # "more than" this cap


def _known_dense(text: str) -> bool:
    if db.engine.dialect.name != "postgresql":
        return False
    return shared_store.get(_dense_key(text)) is not None


def _remember_dense(text: str) -> None:
    if db.engine.dialect.name == "postgresql":
        shared_store.put(_dense_key(text), True, expires_in=DENSE_KEEP)


def _ids_upto(selects: list[sa.Select], cap: int) -> tuple[int, list[int] | None]:
    """How many ids the SELECTs find together, up to `cap` + 1, and the ids themselves when
    there are no more than `cap` (None otherwise), in one statement and one row.

    Each SELECT is cut at `cap` + 1 rows before the union, so a common fragment costs no more
    than a rare one. On PostgreSQL each runs as a materialized CTE: planned as if every row
    were wanted (a trigram bitmap scan, never a walk of the whole table hoping to meet the
    first matches soon) and run only until its LIMIT has its rows. SQLite's FTS5 scans stop at
    the LIMIT by themselves. The ids come back aggregated (an array; a comma-separated list on
    SQLite), not as a thousand rows.
    """
    postgres = db.engine.dialect.name == "postgresql"
    members = []
    first = None
    for n, matching in enumerate(selects):
        source: sa.CTE | sa.Subquery
        if postgres:
            source = matching.cte(f"search_{n}").prefix_with("MATERIALIZED")
        else:
            source = matching.subquery(f"search_{n}")
        member = sa.select(source.c[0].label("id")).limit(cap + 1)
        if first is None:
            first = member
        else:
            # Only when the first SELECT (the persons) found no more than `cap`: past that the
            # answer is "more" whatever the others find, and a common fragment names thousands
            # of organizations.
            before = sa.select(sa.func.count()).select_from(first.subquery()).scalar_subquery()
            member = member.where(before <= cap)
        members.append(sa.select(member.subquery()))
    if len(members) == 1:
        found = members[0].subquery()
    else:
        union = sa.union(*members).subquery()
        found = sa.select(union.c.id).limit(cap + 1).subquery()
    every = sa.func.array_agg(found.c.id) if postgres else sa.func.group_concat(found.c.id)
    count = sa.func.count()
    stmt = sa.select(count, sa.case((count > cap, None), else_=every))
    total, ids = db.session.execute(stmt).one()
    if isinstance(ids, str):
        ids = [int(i) for i in ids.split(",")]
    return total, ids if ids is not None or total > cap else []


def _plan(
    found: tuple[int, list[int] | None],
    *,
    dense: sa.ColumnElement[bool],
    members: sa.Select | sa.CompoundSelect | None,
) -> SearchPlan:
    total, ids = found
    if ids is not None:
        return plan_for_ids(sorted(ids, reverse=True), total=total)
    if members is not None and db.engine.dialect.name == "sqlite":
        # `id + 0`: not a look-up of each member by primary key and a sort of them all (tens of
        # thousands for a common fragment), but a walk of the sort index, which holds the id,
        # testing each entry against the set the FTS index found, up to the page.
        return SearchPlan(dense, None, sorted_condition=(Contact.id + 0).in_(members))
    return SearchPlan(dense, None)


def plan_for_ids(ids: list[int], *, total: int | None) -> SearchPlan:
    """A plan over contacts known by id (`total`: how many the whole search found)."""
    if db.engine.dialect.name == "postgresql":
        # One array parameter, whatever the number of ids.
        array = sa.bindparam("search_ids", ids, type_=ARRAY(sa.Integer))
        return SearchPlan(Contact.id == sa.any_(array), total, ids)
    return SearchPlan(Contact.id.in_(ids), total, ids)


def list_rows() -> sa.Select:
    """The list's rows: the columns it shows and sorts by, each row's organization and owner
    with it (LEFT JOINs on primary keys, after the page's rows are found), not in further
    queries."""
    return sa.select(Contact).options(
        load_only(*LIST_COLUMNS),
        joinedload(Contact.organization).load_only(Organization.name),
        joinedload(Contact.owner).load_only(User.name),
    )


def detail_options() -> list:
    """A contact's page: its organization joined to it, not loaded on its own. (Its tags stay
    a statement of their own: SQLite plans a join of them by scanning the tag links.)"""
    return [joinedload(Contact.organization)]


def full_rows() -> sa.Select:
    """Whole records with their tags (the API's list): a page's tags in one more statement."""
    return sa.select(Contact).options(selectinload(Contact.tags))


def filtered(
    filters: ContactFilters, plan: SearchPlan | None = None, rows: sa.Select | None = None
) -> sa.Select:
    return (list_rows() if rows is None else rows).where(*_conditions(filters, plan))


def filtered_ids(filters: ContactFilters, plan: SearchPlan | None = None) -> sa.Select:
    """The ids of `filtered`: what an index alone can answer."""
    return sa.select(Contact.id).where(*_conditions(filters, plan))


def _conditions(filters: ContactFilters, plan: SearchPlan | None) -> list[sa.ColumnElement]:
    conditions = []
    plan = plan or plan_search(filters.q)
    if plan is not None:
        conditions.append(plan.condition)
    if filters.kind:
        conditions.append(
            Contact.organization_id.in_(
                sa.select(Organization.id).where(Organization.kind == filters.kind)
            )
        )
    if filters.country:
        conditions.append(Contact.country == filters.country.upper())
    if filters.tag:
        conditions.append(
            Contact.id.in_(
                sa.select(contact_tag.c.contact_id)
                .join(Tag, Tag.id == contact_tag.c.tag_id)
                .where(Tag.name == filters.tag.lower())
            )
        )
    if filters.owner == "none":
        conditions.append(Contact.owner_id.is_(None))
    elif filters.owner:
        with contextlib.suppress(ValueError):
            conditions.append(Contact.owner_id == database_int(filters.owner))
    if filters.organization_id:
        conditions.append(Contact.organization_id == filters.organization_id)
    if filters.updated_since is not None:
        conditions.append(Contact.updated_at >= filters.updated_since)
    return conditions


def contact_page(
    filters: ContactFilters,
    sort: SortOption,
    *,
    after: str | None = None,
    before: str | None = None,
    page_size: int = 50,
    count_cap: int = 10_000,
    count: bool = True,
    whole: bool = False,
) -> Page:
    """One page of the contacts `filters` select, in `sort` order, as the list page and the
    API show it: a search's matches found through its plan (a few ids, or a walk of the sort
    order when they are a great many), the total counted only where that is cheap, unless
    `count` is False (then never). `whole`: whole records with their tags (the API's), not
    the list page's columns."""
    shown = full_rows() if whole else list_rows()
    plan = plan_search(filters.q)
    search_only = bool(filters.q) and not filters.besides_search
    if plan and plan.ids is not None and search_only and len(sort.columns) == 1:
        # Every match is known by id and the list is in id order: fetch just the page's rows.
        page_ids = ids_of_page(plan.ids, sort, after=after, before=before, page_size=page_size)
        plan = plan_for_ids(page_ids, total=plan.known_total)
    stmt, rows = filtered(filters, plan, shown), None
    if plan and plan.known_total is None and len(sort.columns) > 1:
        # A great many matches listed by name (or date): find the page's ids walking that
        # order, reading the index alone where it can, then load those rows.
        plan = plan.for_sort(sort)
        stmt, rows = filtered_ids(filters, plan), shown
    known = plan.known_total if plan and search_only else None
    if not filters.active:
        # Every contact: the count the worker stored, when past the cap (not counted here).
        known = table_counts.known_total("contact")
    page = paginate(
        stmt,
        sort,
        after=after,
        before=before,
        page_size=page_size,
        count_cap=count_cap,
        # A search already knows how many it found (or that it is a great many): counting
        # again through a dense match would read most of the table.
        known_total=known if count else None,
        count=count and not (plan and plan.known_total is None),
        rows=rows,
    )
    if not count:
        page.total, page.total_is_capped = None, False
    elif plan and plan.known_total is None and search_only:
        page.total, page.total_is_capped = dense_floor() + 1, True
    return page


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
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(Contact)
        .where(Contact.organization_id == organization_id)
    ).scalar_one()
