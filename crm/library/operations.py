"""Contributing, reviewing and publishing case studies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.core.countries import normalize_country
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice, clean_country, clean_text, clean_website
from crm.extensions import db
from crm.library.models import CaseStudy, Outcome, ReviewStatus, Technology
from crm.organizations.models import Organization
from crm.organizations.queries import by_name
from crm.standards.models import Principle

MAX_WORKERS = 2_000_000_000


@dataclass
class CaseStudyFields:
    title: str
    technology: Technology | str
    outcome: Outcome | str
    what_happened: str
    lessons: str
    countries: list[str] = field(default_factory=list)
    sectors: str | None = None
    workers_reached: int | None = None
    source_link: str | None = None
    happened_on: date | None = None
    shareable: bool = False
    principle_ids: list[int] = field(default_factory=list)
    organization_names: list[str] = field(default_factory=list)


def _apply(case: CaseStudy, fields: CaseStudyFields, *, keep_unknown: bool) -> None:
    case.title = clean_text(fields.title, "title", "Title", 200, required=True)
    case.technology = clean_choice(
        Technology, fields.technology, "a kind of technology", field="technology"
    )
    case.outcome = clean_choice(Outcome, fields.outcome, "an outcome", field="outcome")
    case.what_happened = clean_text(
        fields.what_happened, "what_happened", "What happened", 20_000, required=True
    )
    case.lessons = clean_text(fields.lessons, "lessons", "Lessons", 20_000, required=True)
    codes = []
    for value in fields.countries:
        code = clean_country(value, field="countries") if value.strip() else None
        if code and code not in codes:
            codes.append(code)
    case.countries = ",".join(codes) or None
    case.sectors = clean_text(fields.sectors, "sectors", "Sectors", 200)
    if fields.workers_reached is not None and not 0 <= fields.workers_reached <= MAX_WORKERS:
        raise OperationError(
            "Give the number of workers reached (0 or more).", field="workers_reached"
        )
    case.workers_reached = fields.workers_reached
    try:
        case.source_link = clean_website(fields.source_link, field="source_link")
    except OperationError:
        raise OperationError(
            "The source must be a web address (https://…).", field="source_link"
        ) from None
    if fields.happened_on is not None and not (
        date(1990, 1, 1) <= fields.happened_on <= date.today() + timedelta(days=1)
    ):
        raise OperationError("Give a date between 1990 and today.", field="happened_on")
    case.happened_on = fields.happened_on
    case.shareable = bool(fields.shareable)
    ids = sorted(set(fields.principle_ids))
    principles = (
        list(db.session.scalars(sa.select(Principle).where(Principle.id.in_(ids)))) if ids else []
    )
    if len(principles) != len(ids):
        raise OperationError("One of the principles does not exist.", field="principle_ids")
    case.principles = principles
    _apply_organizations(case, fields.organization_names, keep_unknown=keep_unknown)


def _apply_organizations(case: CaseStudy, names: list[str], *, keep_unknown: bool) -> None:
    """Link the organizations named that are in the CRM. The others are kept as typed, for a
    lead to link at review, when `keep_unknown` (a contributor who cannot browse the CRM's
    organizations, and must not learn from an error which exist); otherwise refused, except
    those a contributor typed before (so a lead can still save the case study)."""
    organizations: list[Organization] = []
    unknown: list[str] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        org = by_name(name)
        if org is None:
            if len(name) > 200:
                raise OperationError(
                    "An organization's name is at most 200 characters; one per line.",
                    field="organizations",
                )
            if name.casefold() not in {u.casefold() for u in unknown}:
                unknown.append(name)
        elif org not in organizations:
            organizations.append(org)
    typed_before = {n.casefold() for n in case.unlinked_organization_list}
    refused = [] if keep_unknown else [u for u in unknown if u.casefold() not in typed_before]
    if refused:
        raise OperationError(
            f"No organization named {', '.join('“' + u + '”' for u in refused)} in the CRM; "
            "add it first, or leave it out and name it in the text. One organization per line.",
            field="organizations",
        )
    case.organizations = organizations
    case.unlinked_organizations = "\n".join(unknown) or None


def _segments(parts: list[str], known: Callable[[str], bool], *, strict: bool) -> list[str] | None:
    """`parts` (a line cut at its commas) joined back into the longest known names: "Korea,
    Republic of, Kenya" → ["Korea, Republic of", "Kenya"]. A part that starts no known name
    stands alone, or makes the answer None when `strict`."""
    names, i = [], 0
    while i < len(parts):
        for j in range(len(parts), i, -1):
            candidate = ",".join(parts[i:j]).strip()
            if candidate and known(candidate):
                names.append(candidate)
                i = j
                break
        else:
            if strict:
                return None
            if parts[i].strip():
                names.append(parts[i].strip())
            i += 1
    return names


def _lines(text: str | None, separators: str = "\n") -> list[str]:
    for separator in separators[1:]:
        text = (text or "").replace(separator, "\n")
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_organizations(text: str | None) -> list[str]:
    """Organization names, one per line. A line with commas is several organizations only
    when every part is one in the CRM ("Acme, Inc." stays one name, known or not)."""
    names = []
    for line in _lines(text):
        if "," in line and by_name(line) is None:
            names.extend(_segments(line.split(","), lambda n: by_name(n) is not None,
                                   strict=True) or [line])  # fmt: skip
        else:
            names.append(line)
    return names


def split_countries(text: str | None) -> list[str]:
    """Countries by name or code, separated by commas, semicolons or lines; a name with a
    comma ("Korea, Republic of", as the form shows it) stays whole."""
    names = []
    for line in _lines(text, "\n;"):
        names.extend(
            _segments(line.split(","), lambda n: normalize_country(n) is not None, strict=False)
            or []
        )
    return names


def contribute(
    actor: User | None,
    fields: CaseStudyFields,
    *,
    publish: bool,
    keep_unknown_organizations: bool = False,
) -> CaseStudy:
    """A new case study: a lead's is published at once, a member's waits for review.
    `keep_unknown_organizations`: see _apply_organizations."""
    case = CaseStudy()
    _apply(case, fields, keep_unknown=keep_unknown_organizations)
    db.session.add(case)  # before reading the actor below, which may flush
    if publish:
        case.status = ReviewStatus.PUBLISHED
        case.reviewed_by_id = getattr(actor, "id", None)
        case.reviewed_at = case.first_published_at = utcnow()
    else:
        case.status = ReviewStatus.SUBMITTED
    audit.add_recorded(actor, case, "case_study", summary=case.title)
    return case


def update(
    actor: User | None,
    case: CaseStudy,
    fields: CaseStudyFields,
    *,
    by_contributor: bool,
    expected_version: int | None = None,
    keep_unknown_organizations: bool = False,
) -> CaseStudy:
    """Change a case study. A contributor's change goes back to review."""
    # Not `audit.updating`: whether it goes back to review depends on what changed so far,
    # and its trail names that last.
    check_version(case, expected_version)
    before = audit.snapshot(case)
    old_principles = [p.id for p in case.principles]
    old_labels = _principle_labels(case)
    old_organizations = [o.name for o in case.organizations]
    _apply(case, fields, keep_unknown=keep_unknown_organizations)
    changes = audit.changes_since(case, before)
    if old_principles != [p.id for p in case.principles]:
        changes["principles"] = [old_labels, _principle_labels(case)]
    if old_organizations != [o.name for o in case.organizations]:
        changes["organizations"] = [
            ", ".join(old_organizations),
            ", ".join(o.name for o in case.organizations),
        ]
    if by_contributor and case.status is not ReviewStatus.SUBMITTED and changes:
        changes["status"] = [case.status.value, ReviewStatus.SUBMITTED.value]
        case.status = ReviewStatus.SUBMITTED
    if changes:
        case.touch(actor)
        audit.record(actor, AuditAction.UPDATE, "case_study", case.id, changes=changes)
    db.session.flush()
    return case


def _principle_labels(case: CaseStudy) -> str:
    """P1, P3 — with the version where the case study names principles of more than one."""
    versions = {p.standard_id for p in case.principles}
    return ", ".join(
        p.code + (f" ({p.standard.version})" if len(versions) > 1 else "") for p in case.principles
    )


def publish(actor: User, case: CaseStudy, *, expected_version: int | None = None) -> None:
    check_version(case, expected_version)
    if case.status is ReviewStatus.PUBLISHED:
        raise OperationError("This case study is already published.")
    _review(actor, case, ReviewStatus.PUBLISHED, None)


def send_back(actor: User, case: CaseStudy, note: str, *, expected_version: int | None = None):
    check_version(case, expected_version)
    note = clean_text(note, "note", "A note for the contributor", 500, required=True)
    _review(actor, case, ReviewStatus.RETURNED, note)


def _review(actor: User, case: CaseStudy, status: ReviewStatus, note: str | None) -> None:
    old = case.status
    case.status = status
    case.review_note = note
    case.reviewed_by_id = actor.id
    case.reviewed_at = utcnow()
    if status is ReviewStatus.PUBLISHED and case.first_published_at is None:
        case.first_published_at = case.reviewed_at
    case.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "case_study",
        case.id,
        summary=status.label + (f": {note}" if note else ""),
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()
