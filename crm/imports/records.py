"""Importing event participants, endorsements and pledges.

These files are hundreds of rows, not hundreds of thousands, and each row goes through the
domain's own operation (capacity and waitlist, verification, the pledge lifecycle), one
savepoint per row so a refused row leaves nothing behind.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.champions import operations as champion_ops
from crm.champions.models import Champion, Endorsement, EndorsementKind
from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.events import operations as event_ops
from crm.events.models import Event, ParticipantRole, Participation, ParticipationStatus
from crm.extensions import db
from crm.imports import cleaning
from crm.imports.engine import CREATE, FAIL, SKIP, UPDATE, Importer, Row
from crm.imports.fields import Field, Spec
from crm.imports.models import ExistingPolicy
from crm.organizations.models import Organization
from crm.organizations.operations import name_key
from crm.pledges import operations as pledge_ops
from crm.standards.models import Principle, Standard, StandardStatus

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
    email = cleaning.checked(row, "email", cleaning.email)
    if row.action == FAIL:
        return None
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == email)) if email else None
    if contact is not None:
        return contact
    first = cleaning.name(row.values.get("first_name", ""))
    last = cleaning.name(row.values.get("last_name", ""))
    if not first and row.values.get("full_name"):
        first, _, last = cleaning.name(row.values["full_name"]).rpartition(" ")
        first, last = (first, last) if first else (last, "")
    if not first:
        row.fail("email", "no contact with this email, and no name to add them with")
        return None
    contact, created = event_ops.match_or_create_contact(
        ctx.actor,
        event_ops.Person(first, last, email, row.values.get("organization") or None),
        consent=False,
        consent_source="",
    )
    if created:
        ctx.created("contact", [contact.id])
        ctx.extra_created["contacts"] = ctx.extra_created.get("contacts", 0) + 1
    return contact


class _PerRow(Importer):
    """Checks are light; the operation, in a savepoint per row, has the last word."""

    def check(self, rows: list[Row]) -> None:
        for row in rows:
            if row.action != FAIL:
                self.check_row(row)

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            try:
                with db.session.begin_nested():
                    self.write_row(row)
            except OperationError as error:
                row.fail("row", error.message.rstrip("."))

    def check_row(self, row: Row) -> None:
        raise NotImplementedError

    def write_row(self, row: Row) -> None:
        raise NotImplementedError


class ParticipantImporter(_PerRow):
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
            cleaning.choice(row, "role", "Role", ParticipantRole) or ParticipantRole.ATTENDEE
        )
        status = cleaning.choice(row, "status", "Status", ParticipationStatus, self.STATUS_ALIASES)
        if status is not None and status not in self.STATUSES:
            row.fail(
                "status", f"an import can set invited, registered or attended, not {status.value}"
            )
        row.cleaned["status"] = status or ParticipationStatus.REGISTERED
        email = cleaning.checked(row, "email", cleaning.email)
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
            self.places[event.id] = event_ops.places_left(event)
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
            participation = db.session.get(Participation, row.record_id)
            before = {"status": [participation.status.value, "attended"]}
            event_ops.check_in(self.ctx.actor, participation)
            self.ctx.updated("participation", participation.id, before)
            return
        contact = _contact_for(row, self.ctx)
        if contact is None:
            raise OperationError(row.reason or "no contact")
        if status is ParticipationStatus.INVITED:
            participation = event_ops.invite(
                self.ctx.actor, event, contact, role=row.cleaned["role"]
            )
        else:
            participation, outcome = event_ops.register(
                self.ctx.actor, event, contact, role=row.cleaned["role"], source="import"
            )
            if outcome is event_ops.Outcome.ALREADY:
                row.action, row.note = SKIP, "already on the list"
                return
            if status is ParticipationStatus.ATTENDED:
                event_ops.check_in(self.ctx.actor, participation)
        row.record_id = participation.id
        self.ctx.created("participation", [participation.id])


class EndorsementImporter(_PerRow):
    spec = Spec(
        [
            Field(
                "champion",
                "Champion email",
                required=True,
                synonyms=("champion", "email", "e-mail", "by"),
            ),
            Field("kind", "Kind", required=True, synonyms=("type", "endorsement type", "channel")),
            Field(
                "made_on",
                "Date",
                required=True,
                synonyms=("made on", "when", "published", "date made"),
            ),
            Field(
                "title",
                "Title",
                required=True,
                synonyms=("headline", "what", "subject", "description"),
            ),
            Field("link", "Link", synonyms=("url", "web link")),
            Field(
                "audience_reach",
                "Audience reach",
                synonyms=("reach", "audience", "views", "followers"),
            ),
            Field(
                "principles", "Principles", synonyms=("principle", "principles referenced", "codes")
            ),
            Field(
                "referred_organization",
                "Referred organization",
                synonyms=("referral", "referred org"),
            ),
            Field("notes", "Notes", synonyms=("note", "comments")),
        ]
    )
    table_name = "endorsement"
    KIND_ALIASES = {
        "statement": "statement",
        "social": "post",
        "social post": "post",
        "blog": "article",
        "speech": "talk",
        "presentation": "talk",
        "interview": "media",
        "press": "media",
    }

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        standard = db.session.scalar(
            sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
        )
        self.principles = (
            {
                p.code.lower(): p.id
                for p in db.session.scalars(
                    sa.select(Principle).where(Principle.standard_id == standard.id)
                )
            }
            if standard
            else {}
        )

    def check_row(self, row: Row) -> None:
        c = row.cleaned
        email = cleaning.checked(row, "champion", cleaning.email)
        champion = None
        if email:
            champion = db.session.scalar(
                sa.select(Champion).join(Contact).where(Contact.email == email)
            )
            if champion is None:
                row.fail("champion", f"{email} is not a champion in the pipeline")
        c["champion"] = champion
        c["kind"] = cleaning.choice(row, "kind", "Kind", EndorsementKind, self.KIND_ALIASES)
        c["made_on"] = made_on = cleaning.a_date(row, "made_on", "Date")
        # The endorsement form's rules, so a row the operation would refuse shows in the
        # preview: nothing in the future (recorded once it happened), nothing mistyped.
        if made_on and made_on > date.today() + timedelta(days=1):
            row.fail("made_on", f"Date {made_on:%Y-%m-%d} is in the future; record an "
                     "endorsement once it has happened")  # fmt: skip
        elif made_on and made_on < champion_ops.EARLIEST:
            row.fail("made_on", f"Date {made_on:%Y-%m-%d} looks mistyped")
        c["title"] = cleaning.text(row, "title", "Title", 300, required=True)
        c["reach"] = cleaning.whole_number(
            row, "audience_reach", "Audience reach", most=champion_ops.MAX_REACH
        )
        codes = [
            p.strip().lower()
            for p in row.values.get("principles", "").replace(";", ",").split(",")
            if p.strip()
        ]
        unknown = [code.upper() for code in codes if code not in self.principles]
        if unknown:
            row.fail("principles", f"no principle {', '.join(unknown)} in the current version")
        c["principle_ids"] = [self.principles[code] for code in codes if code in self.principles]
        if row.action == FAIL:
            return
        existing = db.session.scalar(
            sa.select(Endorsement.id).where(
                Endorsement.champion_id == champion.id,
                Endorsement.kind == c["kind"],
                Endorsement.made_on == c["made_on"],
                sa.func.lower(Endorsement.title) == c["title"].lower(),
            )
        )
        if existing:
            row.record_id, row.action, row.note = existing, SKIP, f"already recorded (#{existing})"
        else:
            row.action = CREATE

    def write_row(self, row: Row) -> None:
        c = row.cleaned
        endorsement = champion_ops.record_endorsement(
            self.ctx.actor,
            c["champion"],
            champion_ops.EndorsementFields(
                kind=c["kind"],
                made_on=c["made_on"],
                title=c["title"],
                link=row.values.get("link") or None,
                audience_reach=c["reach"],
                principle_ids=c["principle_ids"],
                notes=row.values.get("notes") or None,
                referred_organization=row.values.get("referred_organization") or None,
            ),
            verified=True,  # recorded by staff, as a lead's own entries are
        )
        row.record_id = endorsement.id
        self.ctx.created("endorsement", [endorsement.id])


class PledgeImporter(_PerRow):
    spec = Spec(
        [
            Field(
                "organization",
                "Organization",
                required=True,
                synonyms=("organisation", "company", "signatory organization"),
            ),
            Field("version", "Version", synonyms=("standard", "standard version")),
            Field(
                "signatory",
                "Signatory email",
                synonyms=("signatory", "signed by", "email", "contact email"),
            ),
            Field(
                "signed_on", "Signed on", synonyms=("signed", "date signed", "signing date", "date")
            ),
            Field(
                "listed",
                "Listed publicly",
                synonyms=("listed", "public", "show in directory", "publish"),
            ),
        ]
    )
    table_name = "pledge"

    def check_row(self, row: Row) -> None:
        c = row.cleaned
        name = cleaning.text(row, "organization", "Organization", 200, required=True)
        org = (
            db.session.scalar(
                sa.select(Organization).where(Organization.name_key == name_key(name))
            )
            if name
            else None
        )
        if name and org is None:
            row.fail("organization", f"no organization “{name}”; import or add it first")
        version = row.values.get("version", "")
        query = (
            sa.select(Standard).where(Standard.version == version)
            if version
            else sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
        )
        standard = db.session.scalar(query)
        if standard is None:
            row.fail(
                "version",
                f"no standard version “{version}”" if version else "no standard version is current",
            )
        email = cleaning.checked(row, "signatory", cleaning.email)
        signatory = (
            db.session.scalar(sa.select(Contact).where(Contact.email == email)) if email else None
        )
        if email and signatory is None:
            row.fail("signatory", f"no contact with the email {email}")
        c.update(
            org=org,
            standard=standard,
            signatory=signatory,
            signed_on=cleaning.a_date(row, "signed_on", "Signed on"),
            listed=cleaning.yes_no(row, "listed"),
        )
        if row.action == FAIL:
            return
        live = pledge_ops.live_pledge(org.id)
        if live is not None:
            row.record_id, row.action = live.id, SKIP
            row.note = f"already has a pledge ({live.status.label.lower()})"
        else:
            row.action = CREATE

    def write_row(self, row: Row) -> None:
        c = row.cleaned
        pledge = pledge_ops.create_pledge(
            self.ctx.actor,
            c["org"],
            c["standard"],
            signatory_id=c["signatory"].id if c["signatory"] else None,
            signed_on=c["signed_on"],
            listed=bool(c["listed"]),
            source="import",
        )
        row.record_id = pledge.id
        self.ctx.created("pledge", [pledge.id])
