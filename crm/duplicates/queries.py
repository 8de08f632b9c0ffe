"""The duplicates page: the stored pairs (crm.duplicates.store), without dismissed ones, a page
at a time by index; the scans that found them and a running scan's progress.

Nothing here scans: full scans and the comparison of changed records are jobs
(crm.duplicates.jobs). Every process reads the same rows, so every process shows the same pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from crm.campaigns.models import OutboxMessage
from crm.champions.models import Champion
from crm.consultations.models import Response
from crm.contacts.models import Contact
from crm.core import table_counts
from crm.core.countries import country_name
from crm.core.jobs import Job
from crm.core.jobs.presence import Progress, progress_of
from crm.duplicates import scan as scanning
from crm.duplicates import store
from crm.duplicates.models import (
    DuplicateDismissal,
    DuplicateKind,
    DuplicateMerge,
    DuplicatePair,
    DuplicateScan,
    ScanStatus,
    pairs_table,
)
from crm.duplicates.operations.merging import counted
from crm.duplicates.operations.scans import job_failure
from crm.engagements.models import Engagement, engagement_contact
from crm.events.models import Participation
from crm.extensions import db
from crm.organizations.models import Organization
from crm.pledges.models import Pledge

PAGE_SIZE = 50
COUNT_CAP = 10_000  # pairs counted up to this many: more reads "more than 10,000"


def threshold() -> int:
    return current_app.config["DUPLICATE_THRESHOLD"]


def model_for(kind: DuplicateKind) -> type[Any]:
    # Contact or Organization; the pages pair it with the kind's own operations.
    return Contact if kind is DuplicateKind.CONTACT else Organization


def is_dismissed(kind: DuplicateKind, first_id: int, second_id: int) -> bool:
    low, high = sorted((first_id, second_id))
    return (
        db.session.scalar(
            sa.select(DuplicateDismissal.id).where(
                DuplicateDismissal.kind == kind,
                DuplicateDismissal.low_id == low,
                DuplicateDismissal.high_id == high,
            )
        )
        is not None
    )


@dataclass(frozen=True)
class Shown:
    """What the duplicates page shows of one record of a pair: read as plain columns (no ORM
    objects), the organization's name joined in."""

    id: int
    name: str
    details: str  # contacts: email · phone; organizations: kind · country · website
    organization: str | None = None  # a contact's organization's name
    organization_id: int | None = None


@dataclass
class PairRow:
    pair: scanning.Pair
    first: Shown
    second: Shown
    reasons: list[str]


Cursor = tuple[int, int, int]  # (score, low id, high id) of the last pair on a page


@dataclass
class PairPage:
    rows: list[PairRow]
    total: int  # up to COUNT_CAP + 1
    min_score: int
    after: Cursor | None  # where this page starts (None: the first page)
    next_after: Cursor | None  # where the next one does (None: this is the last)

    @property
    def total_label(self) -> str:
        if self.total > COUNT_CAP:
            return f"More than {COUNT_CAP:,} pairs"
        return f"{self.total:,} pair{'s' if self.total != 1 else ''}"


def cursor_text(cursor: Cursor | None) -> str:
    return "" if cursor is None else "-".join(str(n) for n in cursor)


def parse_cursor(text: str | None) -> Cursor | None:
    """A page's `after` argument; anything malformed means the first page."""
    try:
        score, low, high = (int(n) for n in (text or "").split("-"))
    except ValueError:
        return None
    return score, low, high


def _shown(kind: DuplicateKind, min_score: int) -> list[sa.ColumnElement[bool]]:
    dismissal = DuplicateDismissal
    return [
        DuplicatePair.kind == kind,
        DuplicatePair.score >= min_score,
        ~sa.exists().where(
            dismissal.kind == DuplicatePair.kind,
            dismissal.low_id == DuplicatePair.low_id,
            dismissal.high_id == DuplicatePair.high_id,
        ),
    ]


# What a page reads of each pair: not the ORM object (nor its found_at).
PAIR_COLUMNS = (DuplicatePair.kind, DuplicatePair.low_id, DuplicatePair.high_id,
                DuplicatePair.score, DuplicatePair.reasons)  # fmt: skip


def shown_records(kind: DuplicateKind, ids: set[int]) -> dict[int, Shown]:
    """The page's records by id, in one statement: only the columns it shows."""
    if not ids:
        return {}
    if kind is DuplicateKind.CONTACT:
        rows = db.session.execute(
            sa.select(Contact.id, Contact.first_name, Contact.last_name, Contact.email,
                      Contact.phone, Contact.organization_id,
                      Organization.name.label("organization"))
            .outerjoin(Organization, Organization.id == Contact.organization_id)
            .where(Contact.id.in_(ids))
        )  # fmt: skip
        return {
            r.id: Shown(
                r.id,
                f"{r.first_name} {r.last_name}".strip(),
                " · ".join(v for v in (r.email, r.phone) if v),
                r.organization,
                r.organization_id,
            )
            for r in rows
        }
    rows = db.session.execute(
        sa.select(Organization.id, Organization.name, Organization.kind, Organization.country,
                  Organization.website).where(Organization.id.in_(ids))
    )  # fmt: skip
    return {
        r.id: Shown(
            r.id,
            r.name,
            " · ".join(v for v in (r.kind.label, country_name(r.country), r.website) if v),
        )
        for r in rows
    }


def describe(kind: DuplicateKind, reason: scanning.Reason, org_names: dict[int, str]) -> str:
    if reason.rule == scanning.SAME_EMAIL:
        return "same email"
    if reason.rule == scanning.SAME_PHONE:
        return "same phone"
    if reason.rule == scanning.SAME_NAME:
        return "same name without the legal form"
    if reason.rule == scanning.SAME_DOMAIN:
        return "same website domain"
    if reason.rule == scanning.OTHER_COUNTRY:
        return "but in different countries"
    where = ""
    if reason.organization_id is not None:
        where = f" in {org_names.get(reason.organization_id, 'the same organization')}"
    assert reason.similarity is not None  # what is left is a similar name, with its score
    if reason.similarity == 100:
        return f"same name{where}"
    return f"{names_alike(reason.similarity)}{where}"


def names_alike(similarity: int) -> str:
    """A name similarity as a reader takes it: "names 96% alike"."""
    return f"names {similarity}% alike"


def page_of_pairs(
    kind: DuplicateKind, *, after: Cursor | None = None, min_score: int = 0
) -> PairPage:
    """The stored pairs, best first, PAGE_SIZE from `after` on (an index range of
    ix_duplicate_pair_rank however many pairs there are)."""
    query = sa.select(*PAIR_COLUMNS).where(*_shown(kind, min_score))
    if after is not None:
        query = query.where(
            sa.tuple_(DuplicatePair.score, DuplicatePair.low_id, DuplicatePair.high_id)
            < sa.tuple_(*after)
        )
    found = db.session.execute(
        query.order_by(
            DuplicatePair.score.desc(), DuplicatePair.low_id.desc(), DuplicatePair.high_id.desc()
        ).limit(PAGE_SIZE + 1)
    ).all()
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    shown = [store.pair_of(p) for p in found]
    records = shown_records(kind, {i for p in shown for i in (p.low_id, p.high_id)})
    # The organizations the reasons name: mostly the pair's own, read with the records.
    org_names = {
        r.organization_id: r.organization
        for r in records.values()
        if r.organization_id is not None and r.organization is not None
    }
    org_ids = {r.organization_id for p in shown for r in p.reasons if r.organization_id is not None}
    if org_ids - org_names.keys():
        org_names.update(
            db.session.execute(
                sa.select(Organization.id, Organization.name).where(
                    Organization.id.in_(org_ids - org_names.keys())
                )
            ).all()
        )
    # A pair whose record is gone (deleted since it was found) is left out.
    rows = [
        PairRow(p, records[p.low_id], records[p.high_id], [
            describe(kind, r, org_names) for r in p.reasons
        ])
        for p in shown
        if p.low_id in records and p.high_id in records
    ]  # fmt: skip
    last = found[-1] if found else None
    return PairPage(
        rows,
        _total(kind, min_score),
        min_score,
        after,
        (last.score, last.low_id, last.high_id) if more and last is not None else None,
    )


def _total(kind: DuplicateKind, min_score: int) -> int:
    """How many pairs the page has in all, up to COUNT_CAP + 1: past the cap, the count the
    worker stored a minute ago says so (as the contact list's total does) instead of counting
    COUNT_CAP + 1 pairs on each view; under it, counted now (exact and current)."""
    if min_score == 0:
        stored = table_counts.stored(pairs_table(kind))
        if stored is not None and stored > COUNT_CAP:
            return COUNT_CAP + 1
    return db.session.execute(
        sa.select(sa.func.count()).select_from(
            sa.select(DuplicatePair.id).where(*_shown(kind, min_score)).limit(COUNT_CAP + 1)
            .subquery()
        )
    ).scalar_one()  # fmt: skip


@dataclass
class ScanState:
    """What the page says about scanning: the last finished scan, the one waiting or running
    (with its job's progress, live from every process), the last failure if it came after."""

    last: DuplicateScan | None
    active: DuplicateScan | None
    progress: Progress | None
    failed: DuplicateScan | None
    failure: str | None  # why `failed` (or an active scan whose job ended) failed


def scan_state(kind: DuplicateKind) -> ScanState:
    groups = {"last": (ScanStatus.DONE,), "active": (ScanStatus.QUEUED, ScanStatus.RUNNING),
              "failed": (ScanStatus.FAILED,)}  # fmt: skip
    # The latest scan of each group, in one statement (ix_duplicate_scan_kind for each).
    latest_ids = [
        sa.select(DuplicateScan.id)
        .where(DuplicateScan.kind == kind, DuplicateScan.status.in_(statuses))
        .order_by(DuplicateScan.id.desc())
        .limit(1)
        .scalar_subquery()
        for statuses in groups.values()
    ]
    scans = db.session.scalars(sa.select(DuplicateScan).where(DuplicateScan.id.in_(latest_ids)))
    found = {
        name: scan for scan in scans for name, statuses in groups.items() if scan.status in statuses
    }
    last, active, failed = found.get("last"), found.get("active"), found.get("failed")
    if failed is not None and last is not None and failed.id < last.id:
        failed = None
    failure = failed.error if failed is not None else None
    progress = None
    if active is not None:
        job = db.session.get(Job, active.job_id) if active.job_id else None
        reason = job_failure(active, job)
        if reason is not None:
            # Its job ended without it (shown now; the next request of a scan records it).
            failed, failure, active = active, reason, None
        elif job is not None:
            progress = progress_of(job)
    return ScanState(last, active, progress, failed, failure)


def pair_reasons(kind: DuplicateKind, first: Any, second: Any) -> list[str]:
    """Why two records look alike, checked now on the two records alone (the merge page)."""
    reasons: list[str] = []
    limit = threshold()
    if kind is DuplicateKind.CONTACT:
        if first.email and second.email and first.email.lower() == second.email.lower():
            reasons.append("same email")
        digits = ["".join(ch for ch in (c.phone or "") if ch.isdigit()) for c in (first, second)]
        alike = scanning.name_similarity(first.sort_name, second.sort_name)
        if (
            len(digits[0]) >= scanning.MIN_PHONE_DIGITS
            and digits[0] == digits[1]
            and alike >= scanning.PHONE_NAME_FLOOR
        ):
            reasons.append("same phone")
        if first.organization_id and first.organization_id == second.organization_id:
            similarity = scanning.name_similarity(first.sort_name, second.sort_name)
            if similarity >= limit:
                org = first.organization.name if first.organization else "the same organization"
                label = "same name" if similarity == 100 else names_alike(similarity)
                reasons.append(f"{label} in {org}")
        return reasons
    a, b = (scanning.strip_legal_form(o.name_key) for o in (first, second))
    if a == b:
        reasons.append("same name without the legal form")
    domain = scanning.website_domain(first.website)
    if domain and domain == scanning.website_domain(second.website):
        reasons.append("same website domain")
    if a != b:
        similarity = scanning.name_similarity(a, b)
        if similarity >= limit:
            reasons.append(names_alike(similarity))
    if reasons and first.country and second.country and first.country != second.country:
        reasons.append("but in different countries")
    return reasons


def merged_into(kind: DuplicateKind, record_id: int) -> DuplicateMerge | None:
    return db.session.scalar(
        sa.select(DuplicateMerge).where(
            DuplicateMerge.kind == kind, DuplicateMerge.merged_id == record_id
        )
    )


@dataclass
class LinkCount:
    label: str
    count: int

    def __str__(self) -> str:
        return counted(self.count, self.label.lower())


def contact_link_counts(contact_id: int) -> list[LinkCount]:
    """How many records of each kind hang on a contact: shown beside each side of a merge."""

    def count(table: Any, column: Any) -> int:
        return (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(table).where(column == contact_id)
            )
            or 0
        )

    return [
        LinkCount("Engagements", count(engagement_contact, engagement_contact.c.contact_id)),
        LinkCount("Event participations", count(Participation, Participation.contact_id)),
        LinkCount("Champion profile", count(Champion, Champion.contact_id)),
        LinkCount("Consultation responses", count(Response, Response.contact_id)),
        LinkCount("Pledges signed", count(Pledge, Pledge.signatory_id)),
        LinkCount("Campaign emails", count(OutboxMessage, OutboxMessage.contact_id)),
    ]


def organization_link_counts(organization_id: int) -> list[LinkCount]:
    def count(model: Any, column: Any) -> int:
        return (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(model).where(column == organization_id)
            )
            or 0
        )

    return [
        LinkCount("Contacts", count(Contact, Contact.organization_id)),
        LinkCount("Engagements", count(Engagement, Engagement.organization_id)),
        LinkCount("Pledges", count(Pledge, Pledge.organization_id)),
    ]
