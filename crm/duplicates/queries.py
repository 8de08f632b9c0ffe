"""The duplicates page: the latest scan, without dismissed or merged pairs, a page at a time.

A scan of a million contacts takes seconds, so its result is kept in this process for
`CRM_DUPLICATE_CACHE_SECONDS` (default 300) as long as the data has not visibly changed (same
number of records, same largest id, no new audit entry: every operation writes one). Pairs
dismissed or merged since are filtered out when shown, so the page never offers a pair that is
gone; "Scan again" forces a new scan.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask import current_app

from crm.audit.models import AuditEntry
from crm.campaigns.models import OutboxMessage
from crm.champions.models import Champion
from crm.consultations.models import Response
from crm.contacts.models import Contact
from crm.duplicates import scan as scanning
from crm.duplicates.models import DuplicateDismissal, DuplicateKind, DuplicateMerge
from crm.duplicates.operations.merging import counted
from crm.engagements.models import Engagement, engagement_contact
from crm.events.models import Participation
from crm.extensions import db
from crm.organizations.models import Organization
from crm.pledges.models import Pledge

PAGE_SIZE = 50

_cache: dict[tuple[str, DuplicateKind], tuple[float, tuple, scanning.ScanResult]] = {}
_lock = threading.Lock()


def threshold() -> int:
    return current_app.config["DUPLICATE_THRESHOLD"]


def _cache_seconds() -> float:
    return current_app.config["DUPLICATE_CACHE_SECONDS"]


def model_for(kind: DuplicateKind) -> type:
    return Contact if kind is DuplicateKind.CONTACT else Organization


def _fingerprint(kind: DuplicateKind) -> tuple:
    model = model_for(kind)
    count, largest = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(model.id)).select_from(model)
    ).one()
    audit = db.session.scalar(sa.select(sa.func.max(AuditEntry.id)))
    return (count, largest, audit, threshold())


def latest_scan(kind: DuplicateKind, *, fresh: bool = False) -> scanning.ScanResult:
    key = (str(db.engine.url), kind)
    fingerprint = _fingerprint(kind)
    with _lock:
        cached = _cache.get(key)
        if (
            not fresh
            and cached is not None
            and cached[1] == fingerprint
            and time.monotonic() - cached[0] < _cache_seconds()
        ):
            return cached[2]
        result = scanning.scan(kind, threshold())
        _cache[key] = (time.monotonic(), fingerprint, result)
        return result


def dismissed(kind: DuplicateKind) -> set[tuple[int, int]]:
    rows = db.session.execute(
        sa.select(DuplicateDismissal.low_id, DuplicateDismissal.high_id).where(
            DuplicateDismissal.kind == kind
        )
    )
    return {(row.low_id, row.high_id) for row in rows}


def is_dismissed(kind: DuplicateKind, first_id: int, second_id: int) -> bool:
    low, high = sorted((first_id, second_id))
    return (low, high) in dismissed(kind)


@dataclass
class PairRow:
    pair: scanning.Pair
    first: Any
    second: Any
    reasons: list[str]


@dataclass
class PairPage:
    rows: list[PairRow]
    total: int
    page: int
    pages: int
    result: scanning.ScanResult
    min_score: int


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
    if reason.similarity == 100:
        return f"same name{where}"
    return f"{names_alike(reason.similarity)}{where}"


def names_alike(similarity: int) -> str:
    """A name similarity as a reader takes it: "names 96% alike"."""
    return f"names {similarity}% alike"


def page_of_pairs(
    kind: DuplicateKind, *, page: int = 1, min_score: int = 0, fresh: bool = False
) -> PairPage:
    result = latest_scan(kind, fresh=fresh)
    frame = result.frame
    mask = frame["score"] >= min_score
    skip = dismissed(kind)
    if skip:
        mask &= ~pd.MultiIndex.from_frame(frame[["low", "high"]]).isin(list(skip))
    candidates = frame[mask]
    pages = max(1, math.ceil(len(candidates) / PAGE_SIZE))
    page = max(1, min(page, pages))
    shown = result.pairs_of(candidates.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    model = model_for(kind)
    ids = {i for p in shown for i in (p.low_id, p.high_id)}
    records = {r.id: r for r in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}
    gone = list(ids - records.keys())
    if gone:
        # Merged or deleted since the scan: drop them from the kept result too.
        result.frame = frame[~(frame["low"].isin(gone) | frame["high"].isin(gone))]
    org_ids = {r.organization_id for p in shown for r in p.reasons if r.organization_id is not None}
    org_names = (
        dict(
            db.session.execute(
                sa.select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
            ).all()
        )
        if org_ids
        else {}
    )
    rows = [
        PairRow(p, records[p.low_id], records[p.high_id], [
            describe(kind, r, org_names) for r in p.reasons
        ])
        for p in shown
        if p.low_id in records and p.high_id in records
    ]  # fmt: skip
    return PairPage(rows, len(candidates) - len(shown) + len(rows), page, pages, result, min_score)


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
