"""Places at an event: registering people within capacity, invitations, the waitlist,
cancellations that promote the next person, check-in, no-shows and roles.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.validation import clean_choice, clean_text
from crm.events import notices
from crm.events.models import SEATED, Event, ParticipantRole, Participation, ParticipationStatus
from crm.events.operations.event_lock import lock
from crm.extensions import db


def seats_taken(event: Event) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(Participation)
        .where(Participation.event_id == event.id, Participation.status.in_(SEATED))
    ).scalar_one()


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
    lock(event)
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
    lock(event)
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
