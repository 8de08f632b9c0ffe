"""Logging engagements and closing their follow-ups."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.validation import clean_choice, clean_text
from crm.engagements.models import Engagement, EngagementKind
from crm.extensions import db
from crm.organizations.models import Organization

EARLIEST = date(1990, 1, 1)


@dataclass
class EngagementFields:
    kind: EngagementKind | str
    occurred_on: date | None
    summary: str
    heard: str | None = None
    organization_id: int | None = None
    contact_ids: list[int] = field(default_factory=list)
    follow_up_on: date | None = None
    follow_up_owner_id: int | None = None
    follow_up_note: str | None = None


def _apply(engagement: Engagement, fields: EngagementFields) -> None:
    engagement.kind = clean_choice(
        EngagementKind, fields.kind, "a kind of engagement", field="kind"
    )
    if fields.occurred_on is None:
        raise OperationError("The date is required.", field="occurred_on")
    today = date.today()
    if not (EARLIEST <= fields.occurred_on <= today + timedelta(days=366)):
        raise OperationError(
            f"{fields.occurred_on:%d %b %Y} looks mistyped: give a date between "
            f"{EARLIEST:%Y} and a year from now.",
            field="occurred_on",
        )
    engagement.occurred_on = fields.occurred_on
    engagement.summary = clean_text(fields.summary, "summary", "Summary", 300, required=True)
    engagement.heard = clean_text(fields.heard, "heard", "What we heard", 20_000)
    if (
        fields.organization_id is not None
        and db.session.get(Organization, fields.organization_id) is None
    ):
        raise OperationError("That organization does not exist.", field="organization")
    engagement.organization_id = fields.organization_id
    ids = sorted(set(fields.contact_ids))
    contacts = (
        list(db.session.scalars(sa.select(Contact).where(Contact.id.in_(ids)))) if ids else []
    )
    if len(contacts) != len(ids):
        raise OperationError("One of the contacts no longer exists.", field="contact_ids")
    if not contacts and engagement.organization_id is None:
        raise OperationError(
            "Say who the engagement was with: at least one contact or an organization.",
            field="contact_ids",
        )
    engagement.contacts = contacts
    if fields.follow_up_on is None and (fields.follow_up_note or "").strip():
        raise OperationError(
            "Give a date for this follow-up, or clear the note.", field="follow_up_on"
        )
    if fields.follow_up_on is not None:
        if fields.follow_up_on < fields.occurred_on:
            raise OperationError(
                "The follow-up date is before the engagement itself.", field="follow_up_on"
            )
        if fields.follow_up_owner_id is None:
            raise OperationError("A follow-up needs an owner.", field="follow_up_owner_id")
        owner = db.session.get(User, fields.follow_up_owner_id)
        if owner is None or not owner.active:
            raise OperationError(
                "That follow-up owner is not an active user.", field="follow_up_owner_id"
            )
    engagement.follow_up_on = fields.follow_up_on
    engagement.follow_up_owner_id = fields.follow_up_owner_id if fields.follow_up_on else None
    engagement.follow_up_note = clean_text(
        fields.follow_up_note, "follow_up_note", "Follow-up note", 300
    )


def log_engagement(actor, fields: EngagementFields) -> Engagement:
    engagement = Engagement()
    _apply(engagement, fields)
    audit.add_recorded(actor, engagement, "engagement", summary=engagement.summary)
    return engagement


def update_engagement(
    actor, engagement: Engagement, fields: EngagementFields, *, expected_version: int | None = None
) -> Engagement:
    with audit.updating(
        actor, engagement, "engagement", expected_version=expected_version
    ) as extra:
        old_contacts = [c.id for c in engagement.contacts]
        _apply(engagement, fields)
        new_contacts = [c.id for c in engagement.contacts]
        if sorted(old_contacts) != sorted(new_contacts):
            extra["contacts"] = [old_contacts, new_contacts]
    return engagement


def complete_follow_up(actor, engagement: Engagement) -> None:
    if engagement.follow_up_on is None:
        raise OperationError("This engagement has no follow-up.")
    if engagement.follow_up_done_at is not None:
        raise OperationError("This follow-up is already done.")
    engagement.follow_up_done_at = utcnow()
    engagement.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "engagement",
        engagement.id,
        summary="Follow-up done",
        changes={"follow_up_done_at": [None, engagement.follow_up_done_at.isoformat()]},
    )
    db.session.flush()


def delete_engagement(actor, engagement: Engagement) -> None:
    audit.delete_recorded(actor, engagement, "engagement", summary=engagement.summary)
