"""The event itself: creating, editing (capacity, dates and time zone) and deleting it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.auth.models import User
from crm.core import deletion
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice, clean_country, clean_text, clean_website
from crm.events.models import Event, EventKind, Hosting, Participation
from crm.events.operations.event_lock import lock
from crm.events.operations.places import promote_waitlist, seats_taken
from crm.extensions import db

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
    lock(event)  # reloads the row on PostgreSQL: the snapshot is taken after it
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
