"""Events and participation: creating events, registering people within capacity, the waitlist,
cancellations that promote the next person, check-in and walk-ins, and public registration.

Capacity is checked with the event row locked (PostgreSQL: SELECT … FOR UPDATE; SQLite writes
one transaction at a time), so two people can never both take the last place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.contacts import operations as contact_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core import deletion
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice, clean_country, clean_text, clean_website
from crm.events import notices
from crm.events.models import (
    SEATED,
    Event,
    EventKind,
    Hosting,
    ParticipantRole,
    Participation,
    ParticipationStatus,
)
from crm.extensions import db
from crm.organizations import queries as org_queries

MAX_CAPACITY = 100_000
MAX_LENGTH = timedelta(days=31)


@dataclass
class EventFields:
    name: str
    kind: EventKind | str
    hosting: Hosting | str
    starts_local: datetime | None  # wall-clock time at the event, naive
    ends_local: datetime | None
    timezone: str = "UTC"
    venue: str | None = None
    online_url: str | None = None
    country: str | None = None
    capacity: int | None = None
    description: str | None = None
    is_public: bool = False
    registration_open: bool = True


def clean_timezone(name: str | None) -> str:
    name = (name or "").strip() or "UTC"
    if name not in available_timezones() and name != "UTC":
        raise OperationError(
            f"“{name}” is not a time zone we know (e.g. Europe/London, Asia/Dhaka).",
            field="timezone",
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise OperationError(f"“{name}” is not a time zone we know.", field="timezone") from None
    return name


def _apply(event: Event, fields: EventFields) -> None:
    event.name = clean_text(fields.name, "name", "Name", 200, required=True)
    event.kind = clean_choice(EventKind, fields.kind, "a kind of event", field="kind")
    try:
        event.hosting = Hosting(fields.hosting)
    except ValueError:
        raise OperationError("Say whether we host or attend it.", field="hosting") from None
    event.timezone = clean_timezone(fields.timezone)
    if fields.starts_local is None:
        raise OperationError("Give the start date and time.", field="starts_local")
    if fields.ends_local is None:
        raise OperationError("Give the end date and time.", field="ends_local")
    zone = ZoneInfo(event.timezone)
    starts = fields.starts_local.replace(tzinfo=zone)
    ends = fields.ends_local.replace(tzinfo=zone)
    if ends <= starts:
        raise OperationError("The event must end after it starts.", field="ends_local")
    if ends - starts > MAX_LENGTH:
        raise OperationError("An event lasts a month at most; check the dates.", field="ends_local")
    event.starts_at = starts
    event.ends_at = ends
    event.venue = clean_text(fields.venue, "venue", "Place", 300)
    try:
        event.online_url = clean_website(fields.online_url, field="online_url")
    except OperationError:
        raise OperationError(
            "The online link must be a web address (https://…).", field="online_url"
        ) from None
    event.country = clean_country(fields.country)
    if fields.capacity is not None and not (1 <= fields.capacity <= MAX_CAPACITY):
        raise OperationError(
            "Capacity is a number of places (at least 1), or empty for no limit.",
            field="capacity",
        )
    event.description = clean_text(fields.description, "description", "Description", 20_000)
    event.is_public = bool(fields.is_public)
    event.registration_open = bool(fields.registration_open)
    if event.is_public and event.hosting is not Hosting.HOSTED:
        raise OperationError(
            "Only an event we host can take public registrations.", field="is_public"
        )


def create_event(actor: User | None, fields: EventFields) -> Event:
    event = Event()
    _apply(event, fields)
    event.capacity = fields.capacity
    audit.add_recorded(actor, event, "event", summary=f"Created {event.name}")
    return event


def update_event(
    actor: User | None,
    event: Event,
    fields: EventFields,
    *,
    expected_version: int | None = None,
) -> list[Participation]:
    """Save the event; returns anyone promoted from the waitlist by a larger capacity."""
    check_version(event, expected_version)
    _lock(event)  # reloads the row on PostgreSQL: the snapshot is taken after it
    with audit.updating(actor, event, "event"):
        _apply(event, fields)
        seated = seats_taken(event)
        if fields.capacity is not None and fields.capacity < seated:
            raise OperationError(
                f"{seated} people already hold places; cancel some before lowering the "
                f"capacity to {fields.capacity}.",
                field="capacity",
            )
        event.capacity = fields.capacity
    return promote_waitlist(actor, event)


def delete_event(actor: User | None, event: Event) -> None:
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Participation)
        .where(Participation.event_id == event.id)
    )
    if count:
        raise OperationError(
            f"{event.name} has {count} participant{'s' if count != 1 else ''}; close its "
            "registration instead, or remove them first. Nothing was deleted."
        )
    deletion.detach(actor, "event", event.id)
    audit.delete_recorded(actor, event, "event", summary=f"Deleted {event.name}")


# --- places ------------------------------------------------------------------------------------


def _lock(event: Event) -> None:
    """Hold the event row until commit, so capacity checks do not race."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Reloads the row too: its capacity may have changed since it was read.
        db.session.execute(
            sa.select(Event)
            .where(Event.id == event.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )


def seats_taken(event: Event) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Participation)
        .where(Participation.event_id == event.id, Participation.status.in_(SEATED))
    )


def places_left(event: Event) -> int | None:
    if event.capacity is None:
        return None
    return max(0, event.capacity - seats_taken(event))


def _set_status(
    actor: User | None, participation: Participation, status: ParticipationStatus, summary: str
) -> None:
    old = participation.status
    participation.status = status
    participation.status_changed_at = utcnow()
    if status is ParticipationStatus.WAITLISTED:
        participation.waitlisted_at = participation.status_changed_at
    participation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "participation",
        participation.id,
        summary=summary,
        changes={"status": [old.value if old else None, status.value]},
    )


class Outcome(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    ALREADY = "already"  # nothing changed


def register(
    actor: User | None,
    event: Event,
    contact: Contact,
    *,
    role: ParticipantRole | str = ParticipantRole.ATTENDEE,
    source: str = "staff",
    organization_text: str | None = None,
) -> tuple[Participation, Outcome]:
    """A place for `contact` if one is free, else the waitlist. Registering twice changes
    nothing; someone invited or cancelled before registers anew."""
    role = clean_choice(ParticipantRole, role, "a participant role", field="role")
    if contact.erased_at is not None:
        raise OperationError("An erased contact cannot be registered.")
    _lock(event)
    participation = db.session.scalar(
        sa.select(Participation).where(
            Participation.event_id == event.id, Participation.contact_id == contact.id
        )
    )
    if participation is not None and participation.status not in (
        ParticipationStatus.INVITED,
        ParticipationStatus.CANCELLED,
    ):
        return participation, Outcome.ALREADY
    # Speakers, panelists, organizers and sponsors are part of the programme: never waitlisted.
    full = (
        role is ParticipantRole.ATTENDEE
        and event.capacity is not None
        and seats_taken(event) >= event.capacity
    )
    status = ParticipationStatus.WAITLISTED if full else ParticipationStatus.REGISTERED
    if participation is None:
        participation = Participation(
            event_id=event.id,
            contact_id=contact.id,
            role=role,
            status=status,
            source=source,
            organization_text=clean_text(organization_text, "organization", "Organization", 200),
        )
        participation.waitlisted_at = utcnow() if full else None
        audit.add_recorded(
            actor,
            participation,
            "participation",
            summary=f"{contact.full_name} {status.value} for {event.name} ({source})",
        )
    else:
        participation.role = role
        _set_status(actor, participation, status, f"{status.label} for {event.name} ({source})")
    db.session.flush()
    return participation, Outcome(status.value)


def invite(
    actor: User | None, event: Event, contact: Contact, *, role: ParticipantRole | str
) -> Participation:
    role = clean_choice(ParticipantRole, role, "a participant role", field="role")
    existing = db.session.scalar(
        sa.select(Participation).where(
            Participation.event_id == event.id, Participation.contact_id == contact.id
        )
    )
    if existing is not None:
        raise OperationError(
            f"{contact.full_name} is already on the list ({existing.status.label.lower()}).",
            field="contact_ids",
        )
    participation = Participation(
        event_id=event.id,
        contact_id=contact.id,
        role=role,
        status=ParticipationStatus.INVITED,
        source="staff",
    )
    audit.add_recorded(
        actor,
        participation,
        "participation",
        summary=f"{contact.full_name} invited to {event.name}",
    )
    return participation


def add_participants(
    actor: User | None,
    event: Event,
    contact_ids: list[int],
    *,
    role: ParticipantRole | str,
    invite_only: bool,
) -> dict[str, list[Contact]]:
    """Register (or invite) several contacts at once: all of them, or none on an error.
    Returns them grouped by outcome: registered, waitlisted, invited, already."""
    ids = list(dict.fromkeys(contact_ids))  # in the order they were picked: first come first
    if not ids:
        raise OperationError("Pick at least one contact from the suggestions to add.")
    found = {c.id: c for c in db.session.scalars(sa.select(Contact).where(Contact.id.in_(ids)))}
    if len(found) != len(ids):
        raise OperationError("One of the contacts no longer exists.")
    outcomes: dict[str, list[Contact]] = {}
    for contact in (found[i] for i in ids):
        if invite_only:
            invite(actor, event, contact, role=role)
            key = "invited"
        else:
            _participation, outcome = register(actor, event, contact, role=role)
            key = outcome.value
        outcomes.setdefault(key, []).append(contact)
    return outcomes


def promote_waitlist(actor: User | None, event: Event) -> list[Participation]:
    """Fill free places from the waitlist, first come first served, and queue each promoted
    person's email (in this transaction). Once the event has started nobody is promoted (or
    emailed): a place freed then is of no use."""
    if event.starts_at <= utcnow():
        return []
    if event.capacity is None:
        free = None
    else:
        free = event.capacity - seats_taken(event)
        if free <= 0:
            return []
    stmt = (
        sa.select(Participation)
        .where(
            Participation.event_id == event.id,
            Participation.status == ParticipationStatus.WAITLISTED,
        )
        .order_by(Participation.waitlisted_at, Participation.id)
    )
    if free is not None:
        stmt = stmt.limit(free)
    promoted = list(db.session.scalars(stmt))
    for participation in promoted:
        _set_status(
            actor,
            participation,
            ParticipationStatus.REGISTERED,
            f"Promoted from the waitlist of {event.name}",
        )
        notices.queue_notice(participation, promoted=True)
    db.session.flush()
    return promoted


def cancel(actor: User | None, participation: Participation) -> list[Participation]:
    """Cancel a place (or a waitlist entry); returns whoever the freed place went to."""
    event = participation.event
    _lock(event)
    if participation.status is ParticipationStatus.CANCELLED:
        raise OperationError("This registration is already cancelled.")
    if participation.status in (ParticipationStatus.ATTENDED, ParticipationStatus.NO_SHOW):
        raise OperationError(
            f"{participation.contact.full_name} is already marked "
            f"{participation.status.label.lower()}; that cannot be cancelled."
        )
    was_seated = participation.status in SEATED
    _set_status(actor, participation, ParticipationStatus.CANCELLED, f"Cancelled for {event.name}")
    db.session.flush()
    return promote_waitlist(actor, event) if was_seated else []


def check_in(actor: User | None, participation: Participation) -> None:
    """Mark someone as here. People at the door get in even past capacity: they came."""
    if participation.status is ParticipationStatus.ATTENDED:
        raise OperationError(f"{participation.contact.full_name} is already checked in.")
    participation.checked_in_at = utcnow()
    participation.status_before_check_in = participation.status
    _set_status(
        actor,
        participation,
        ParticipationStatus.ATTENDED,
        f"Checked in at {participation.event.name}",
    )
    db.session.flush()


def undo_check_in(actor: User | None, participation: Participation) -> None:
    """Undo a mis-click: back to what they were before (a waitlisted person stays in line)."""
    if participation.status is not ParticipationStatus.ATTENDED:
        raise OperationError("Only someone checked in can be un-checked.")
    previous = participation.status_before_check_in or ParticipationStatus.REGISTERED
    old = participation.status
    participation.status = previous
    participation.status_changed_at = utcnow()
    participation.checked_in_at = None
    participation.status_before_check_in = None
    participation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "participation",
        participation.id,
        summary="Check-in undone (clicked by mistake)",
        changes={"status": [old.value, previous.value]},
    )
    db.session.flush()


def mark_no_show(actor: User | None, participation: Participation) -> None:
    if participation.event.starts_at > utcnow():
        raise OperationError("The event has not started yet: nobody is a no-show so far.")
    if participation.status is not ParticipationStatus.REGISTERED:
        raise OperationError(
            f"Only someone registered can be a no-show, not someone "
            f"{participation.status.label.lower()}."
        )
    _set_status(actor, participation, ParticipationStatus.NO_SHOW, "Did not come")
    db.session.flush()


def change_role(actor: User | None, participation: Participation, role: ParticipantRole | str):
    role = clean_choice(ParticipantRole, role, "a participant role", field="role")
    if role is participation.role:
        return
    old = participation.role
    participation.role = role
    participation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "participation",
        participation.id,
        changes={"role": [old.value, role.value]},
    )
    db.session.flush()


# --- people who are not in the CRM yet -------------------------------------------------------


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
