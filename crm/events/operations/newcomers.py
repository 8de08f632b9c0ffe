"""People who are not in the CRM yet: walk-ins checked in at the door, and registrations
from the public page (matched by email or created, confirmed by email).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.auth.models import User
from crm.contacts import operations as contact_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.validation import clean_text
from crm.events import notices
from crm.events.models import Event, ParticipantRole, Participation, ParticipationStatus
from crm.events.operations.places import Outcome, check_in, register
from crm.extensions import db
from crm.organizations import queries as org_queries


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str | None
    organization: str | None = None


def match_or_create_contact(
    actor: User | None, person: Person, *, consent: bool, consent_source: str
) -> tuple[Contact, bool]:
    """The contact with this email, untouched (a lead's data wins); or a new one. A new
    contact's organization is linked only when the name matches one we know exactly."""
    contact = contact_ops.find_by_email(person.email) if person.email else None
    if contact is not None:
        return contact, False
    org = org_queries.by_name(person.organization) if person.organization else None
    return contact_ops.find_or_create(
        actor,
        contact_ops.ContactFields(
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            organization_id=org.id if org else None,
            consent_status="granted" if consent else "unknown",
            consent_source=consent_source if consent else None,
        ),
    )


def _consent_from_form(contact: Contact, consent: bool, source: str) -> None:
    """A ticked box on a public form fills in consent we never asked for, and nothing more:
    anyone can type anyone's address, so it never overrides a recorded yes or no."""
    if consent and contact.consent_status is ConsentStatus.UNKNOWN:
        contact_ops.grant_consent(None, contact, source)


def walk_in(actor: User | None, event: Event, person: Person) -> Participation:
    """Someone at the door who did not register: in the CRM and checked in, in one step."""
    contact, _created = match_or_create_contact(
        actor, person, consent=False, consent_source="walk-in"
    )
    existing = db.session.scalar(
        sa.select(Participation).where(
            Participation.event_id == event.id, Participation.contact_id == contact.id
        )
    )
    if existing is not None:
        if existing.status is ParticipationStatus.ATTENDED:
            raise OperationError(f"{contact.full_name} is already checked in.")
        check_in(actor, existing)
        return existing
    participation = Participation(
        event_id=event.id,
        contact_id=contact.id,
        role=ParticipantRole.ATTENDEE,
        status=ParticipationStatus.ATTENDED,
        source="walk-in",
        organization_text=None
        if contact.organization_id
        else clean_text(person.organization, "organization", "Organization", 200),
        checked_in_at=utcnow(),
    )
    audit.add_recorded(
        actor,
        participation,
        "participation",
        summary=f"{contact.full_name} walked in to {event.name}",
    )
    return participation


def public_register(
    event: Event, person: Person, *, consent: bool
) -> tuple[Participation, Outcome]:
    """A registration from the public page, confirmed by email (queued in this transaction;
    registering twice changes nothing and sends nothing). Refuses internal, closed and past
    events."""
    if not event.is_public:
        raise OperationError("This event does not take registrations here.")
    if event.is_past:
        raise OperationError("This event has already taken place; registration is closed.")
    if not event.registration_open:
        raise OperationError("Registration for this event is closed.")
    if not person.email:
        raise OperationError("Give your email address.", field="email")
    source = f"Event registration: {event.name}"[:100]
    contact, created = match_or_create_contact(None, person, consent=consent, consent_source=source)
    # What they typed is kept beside the registration when their record names no organization.
    typed_org = None if contact.organization_id else (person.organization or "").strip() or None
    participation, outcome = register(
        None, event, contact, source="public form", organization_text=typed_org
    )
    if outcome is not Outcome.ALREADY:
        if not created:
            _consent_from_form(contact, consent, source)
        notices.queue_notice(participation)
    return participation, outcome
