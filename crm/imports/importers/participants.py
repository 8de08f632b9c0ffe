"""Importing event participants: matched to a contact by email (or added by name), registered
through the event's own operation, so capacity and the waitlist apply as on the form."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.events.models import Event, ParticipantRole, Participation, ParticipationStatus
from crm.events.operations import newcomers as newcomer_ops
from crm.events.operations import places as place_ops
from crm.extensions import db
from crm.imports import cell_values
from crm.imports.column_mapping import Field, Spec
from crm.imports.importers.base import RowByRowImporter
from crm.imports.models import ExistingPolicy
from crm.imports.rows import CREATE, FAIL, SKIP, UPDATE, Row

PERSON_FIELDS = [
    Field("email", "Email", synonyms=("e-mail", "email address", "mail", "attendee email")),
    Field("first_name", "First name", synonyms=("first", "given name", "forename")),
    Field("last_name", "Last name", synonyms=("last", "surname", "family name")),
    Field("full_name", "Full name", synonyms=("name", "attendee", "attendee name", "participant")),
    Field(
        "organization",
        "Organization",
        synonyms=("organisation", "company", "employer", "affiliation"),
    ),
]


def _contact_for(row: Row, ctx) -> Contact | None:
    """The contact a row names by email, or a new one from its name and email."""
    email = cell_values.checked(row, "email", cell_values.email)
    if row.action == FAIL:
        return None
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == email)) if email else None
    if contact is not None:
        return contact
    first = cell_values.name(row.values.get("first_name", ""))
    last = cell_values.name(row.values.get("last_name", ""))
    if not first and row.values.get("full_name"):
        first, _, last = cell_values.name(row.values["full_name"]).rpartition(" ")
        first, last = (first, last) if first else (last, "")
    if not first:
        row.fail("email", "no contact with this email, and no name to add them with")
        return None
    contact, created = newcomer_ops.match_or_create_contact(
        ctx.actor,
        newcomer_ops.Person(first, last, email, row.values.get("organization") or None),
        consent=False,
        consent_source="",
    )
    if created:
        ctx.created("contact", [contact.id])
        ctx.extra_created["contacts"] = ctx.extra_created.get("contacts", 0) + 1
    return contact


class ParticipantImporter(RowByRowImporter):
    spec = Spec(
        [
            Field(
                "event",
                "Event",
                required=True,
                synonyms=("event name", "event id", "session", "webinar"),
            ),
            *PERSON_FIELDS,
            Field("role", "Role", synonyms=("participant role", "attendee type", "type")),
            Field("status", "Status", synonyms=("attendance", "registration status", "attended")),
        ],
        one_of=[("email", "first_name", "full_name")],
    )
    table_name = "participation"
    STATUSES = (
        ParticipationStatus.INVITED,
        ParticipationStatus.REGISTERED,
        ParticipationStatus.ATTENDED,
    )
    STATUS_ALIASES = {
        "yes": "attended",
        "present": "attended",
        "checked in": "attended",
        "registrant": "registered",
        "no": "registered",
    }

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.events: dict[str, Event | str] = {}
        self.seen: dict[tuple[int, str], int] = {}  # (event, email) -> line first giving it
        # Places left per event, less those earlier rows of the file take: the preview says
        # who will be waitlisted as register() will decide it.
        self.places: dict[int, int | None] = {}

    def _event(self, row: Row) -> Event | None:
        value = row.values.get("event", "")
        if not value:
            row.fail("event", "Event is empty")
            return None
        if value not in self.events:
            if value.isdigit():
                found = db.session.get(Event, int(value))
                matches = [found] if found else []
            else:
                matches = [
                    e
                    for e in db.session.scalars(
                        sa.select(Event).where(sa.func.lower(Event.name) == value.lower())
                    )
                ]
            self.events[value] = (
                matches[0]
                if len(matches) == 1
                else f"several events are named “{value}”; give the event's number instead"
                if matches
                else f"no event “{value}” (give its name or number)"
            )
        event = self.events[value]
        if isinstance(event, str):
            row.fail("event", event)
            return None
        return event

    def check_row(self, row: Row) -> None:
        row.cleaned["event"] = self._event(row)
        row.cleaned["role"] = (
            cell_values.choice(row, "role", "Role", ParticipantRole) or ParticipantRole.ATTENDEE
        )
        status = cell_values.choice(
            row, "status", "Status", ParticipationStatus, self.STATUS_ALIASES
        )
        if status is not None and status not in self.STATUSES:
            row.fail(
                "status", f"an import can set invited, registered or attended, not {status.value}"
            )
        row.cleaned["status"] = status or ParticipationStatus.REGISTERED
        email = cell_values.checked(row, "email", cell_values.email)
        if not email and not (row.values.get("first_name") or row.values.get("full_name")):
            row.fail("email", "give an email or a name")
        if row.action == FAIL:
            return
        event = row.cleaned["event"]
        if email:
            first = self.seen.setdefault((event.id, email), row.line)
            if first != row.line:
                row.action, row.note = SKIP, f"the same person as line {first} of this file"
                return
        existing = None
        if email:
            existing = db.session.scalar(
                sa.select(Participation)
                .join(Contact)
                .where(Participation.event_id == event.id, Contact.email == email)
            )
        if existing is not None and existing.status not in (
            ParticipationStatus.INVITED,
            ParticipationStatus.CANCELLED,
        ):
            row.record_id = existing.id
            row.note = f"already on the list ({existing.status.label.lower()})"
            wants_change = (
                row.cleaned["status"] is ParticipationStatus.ATTENDED
                and existing.status is not ParticipationStatus.ATTENDED
            )
            row.action = (
                UPDATE if wants_change and self.ctx.policy is not ExistingPolicy.SKIP else SKIP
            )
        else:
            row.action = CREATE
            self._take_place(row, event)

    def _take_place(self, row: Row, event: Event) -> None:
        """Count the place a new row takes, and say when it will go on the waitlist instead."""
        status = row.cleaned["status"]
        if status is ParticipationStatus.INVITED:
            return
        if event.id not in self.places:
            self.places[event.id] = place_ops.places_left(event)
        left = self.places[event.id]
        if left is None:
            return
        # As register() decides: attendees wait when it is full, the programme never does,
        # and someone marked attended was there (checked in past capacity).
        if (
            left <= 0
            and status is ParticipationStatus.REGISTERED
            and row.cleaned["role"] is ParticipantRole.ATTENDEE
        ):
            row.note = "the event is full: will go on the waitlist"
            return
        self.places[event.id] = left - 1

    def write_row(self, row: Row) -> None:
        event: Event = row.cleaned["event"]
        status = row.cleaned["status"]
        if row.action == UPDATE:
            participation = db.session.get(Participation, row.target_id)
            assert participation is not None, "the participation the check matched"
            before = {"status": [participation.status.value, "attended"]}
            place_ops.check_in(self.ctx.actor, participation)
            self.ctx.updated("participation", participation.id, before)
            return
        contact = _contact_for(row, self.ctx)
        if contact is None:
            raise OperationError(row.reason or "no contact")
        if status is ParticipationStatus.INVITED:
            participation = place_ops.invite(
                self.ctx.actor, event, contact, role=row.cleaned["role"]
            )
        else:
            participation, outcome = place_ops.register(
                self.ctx.actor, event, contact, role=row.cleaned["role"], source="import"
            )
            if outcome is place_ops.Outcome.ALREADY:
                row.action, row.note = SKIP, "already on the list"
                return
            if status is ParticipationStatus.ATTENDED:
                place_ops.check_in(self.ctx.actor, participation)
        row.record_id = participation.id
        self.ctx.created("participation", [participation.id])
