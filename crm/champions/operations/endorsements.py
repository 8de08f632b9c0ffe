"""Endorsements: what a champion did for the principles, recorded, edited, verified or
rejected by a lead, and deleted. A principle endorsements refer to is not deleted.

Callers check who may act (a champion edits only their own endorsements, see
`crm.champions.access`); these functions check what may happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.champions.models import (
    Champion,
    Endorsement,
    EndorsementKind,
    Verification,
    endorsement_principle,
)
from crm.champions.operations.pipeline import EARLIEST, clean_reach
from crm.core import deletion
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.text import fold
from crm.core.validation import clean_choice, clean_text, clean_website
from crm.extensions import db
from crm.organizations.models import Organization
from crm.organizations.queries import by_name
from crm.standards.models import Principle


@deletion.blocker("principle")
def _principle_endorsed(principle: Principle) -> str | None:
    endorsements = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(endorsement_principle)
        .where(endorsement_principle.c.principle_id == principle.id)
    )
    if not endorsements:
        return None
    return (
        f"{principle.code} is referenced by {endorsements} endorsement"
        f"{'s' if endorsements != 1 else ''}, so it cannot be removed; "
        "change its title or text instead."
    )


@dataclass
class EndorsementFields:
    kind: EndorsementKind | str
    made_on: date | None
    title: str
    link: str | None = None
    audience_reach: int | None = None
    principle_ids: list[int] = field(default_factory=list)
    notes: str | None = None
    referred_organization_id: int | None = None
    # Typed by a champion when the organization is not one we know yet.
    referred_organization_name: str | None = None
    # The organization as typed in a form; resolved by `_resolve_referral`.
    referred_organization: str | None = None


def _resolve_referral(
    endorsement: Endorsement, fields: EndorsementFields, *, by_champion: bool
) -> None:
    """A typed organization name: one we know is linked. Otherwise a champion's is kept as
    typed (a lead links it later); a lead must pick a known one, unless they leave the name
    a champion typed as it was."""
    typed = (fields.referred_organization or "").strip()
    if fields.referred_organization is None or not typed:
        return
    org = by_name(typed)
    if org is not None:
        fields.referred_organization_id, fields.referred_organization_name = org.id, None
    elif by_champion or fold(typed) == fold(endorsement.referred_organization_name or ""):
        fields.referred_organization_id, fields.referred_organization_name = None, typed
    else:
        raise OperationError(
            f"There is no organization named “{typed}”. Pick one from the suggestions or "
            "create it first.",
            field="referred_organization",
        )


def _apply_endorsement(
    endorsement: Endorsement, fields: EndorsementFields, *, by_champion: bool = False
) -> None:
    _resolve_referral(endorsement, fields, by_champion=by_champion)
    endorsement.kind = clean_choice(
        EndorsementKind, fields.kind, "a kind of endorsement", field="kind"
    )
    if fields.made_on is None:
        raise OperationError("Give the date of the endorsement.", field="made_on")
    if fields.made_on > date.today() + timedelta(days=1):
        raise OperationError(
            "The date is in the future: record an endorsement once it has happened.",
            field="made_on",
        )
    if fields.made_on < EARLIEST:
        raise OperationError(f"{fields.made_on:%d %b %Y} looks mistyped.", field="made_on")
    endorsement.made_on = fields.made_on
    endorsement.title = clean_text(fields.title, "title", "What it was", 300, required=True)
    try:
        endorsement.link = clean_website(fields.link, field="link")
    except OperationError:
        raise OperationError("The link must be a web address (https://…).", field="link") from None
    endorsement.audience_reach = clean_reach(fields.audience_reach)
    endorsement.notes = clean_text(fields.notes, "notes", "Notes", 5_000)
    ids = sorted(set(fields.principle_ids))
    principles = (
        list(db.session.scalars(sa.select(Principle).where(Principle.id.in_(ids)))) if ids else []
    )
    if len(principles) != len(ids):
        raise OperationError("One of the principles does not exist.", field="principle_ids")
    endorsement.principles = principles
    referred = fields.referred_organization_id
    referred_name = clean_text(
        fields.referred_organization_name, "referred_organization", "Organization referred", 200
    )
    if referred is not None or referred_name:
        if endorsement.kind is not EndorsementKind.REFERRAL:
            raise OperationError(
                "Only a referral names an organization referred; choose the kind “Referral”, "
                "or clear the organization.",
                field="referred_organization",
            )
        if referred is not None and db.session.get(Organization, referred) is None:
            raise OperationError("That organization does not exist.", field="referred_organization")
    endorsement.referred_organization_id = referred
    endorsement.referred_organization_name = None if referred is not None else referred_name


def record_endorsement(
    actor: User | None, champion: Champion, fields: EndorsementFields, *, verified: bool
) -> Endorsement:
    """A new endorsement. Champions' own go to review; a lead's are verified as recorded."""
    endorsement = Endorsement()
    _apply_endorsement(endorsement, fields, by_champion=not verified)
    # Linked only now: the checks' queries would otherwise flush it half-made.
    endorsement.champion = champion
    db.session.add(endorsement)  # before reading the actor below, which may flush
    if verified:
        endorsement.status = Verification.VERIFIED
        endorsement.reviewed_by_id = getattr(actor, "id", None)
        endorsement.reviewed_at = utcnow()
    else:
        endorsement.status = Verification.PENDING
    audit.add_recorded(
        actor, endorsement, "endorsement", summary=f"{endorsement.kind.label}: {endorsement.title}"
    )
    return endorsement


def update_endorsement(
    actor: User | None,
    endorsement: Endorsement,
    fields: EndorsementFields,
    *,
    by_champion: bool,
    expected_version: int | None = None,
) -> Endorsement:
    """Change an endorsement. A champion's change to a reviewed one sends it back to review."""
    # Not `audit.updating`: going back to review follows from the change, and clears the
    # review (the trail says only the status).
    check_version(endorsement, expected_version)
    before = audit.snapshot(endorsement)
    old_principles = [p.code for p in endorsement.principles]
    _apply_endorsement(endorsement, fields, by_champion=by_champion)
    changes = audit.changes_since(endorsement, before)
    new_principles = [p.code for p in endorsement.principles]
    if old_principles != new_principles:
        changes["principles"] = [", ".join(old_principles), ", ".join(new_principles)]
    if not changes:
        return endorsement
    if by_champion and endorsement.status is not Verification.PENDING:
        changes["status"] = [endorsement.status.value, Verification.PENDING.value]
        endorsement.status = Verification.PENDING
        endorsement.reviewed_by_id = None
        endorsement.reviewed_at = None
        endorsement.rejection_reason = None
    endorsement.touch(actor)
    audit.record(actor, AuditAction.UPDATE, "endorsement", endorsement.id, changes=changes)
    db.session.flush()
    return endorsement


def verify(actor: User, endorsement: Endorsement, *, expected_version: int | None = None) -> None:
    check_version(endorsement, expected_version)
    if endorsement.status is Verification.VERIFIED:
        raise OperationError("This endorsement is already verified.")
    _review(actor, endorsement, Verification.VERIFIED, None)


def reject(
    actor: User, endorsement: Endorsement, reason: str, *, expected_version: int | None = None
) -> None:
    check_version(endorsement, expected_version)
    reason = clean_text(reason, "reason", "The reason", 500, required=True)
    if endorsement.status is Verification.REJECTED:
        raise OperationError("This endorsement is already marked as not accepted.")
    _review(actor, endorsement, Verification.REJECTED, reason)


def _review(actor: User, endorsement: Endorsement, status: Verification, reason: str | None):
    old = endorsement.status
    endorsement.status = status
    endorsement.rejection_reason = reason
    endorsement.reviewed_by_id = actor.id
    endorsement.reviewed_at = utcnow()
    endorsement.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "endorsement",
        endorsement.id,
        summary=f"{status.label}" + (f": {reason}" if reason else ""),
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()


def delete_endorsement(actor: User | None, endorsement: Endorsement, *, by_champion: bool) -> None:
    if by_champion and endorsement.status is Verification.VERIFIED:
        raise OperationError(
            "A verified endorsement stays on record; ask your contact on the team to remove it."
        )
    audit.delete_recorded(
        actor,
        endorsement,
        "endorsement",
        summary=f"Deleted {endorsement.kind.label.lower()}: {endorsement.title}",
    )
