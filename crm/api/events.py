"""`/api/v1/events` and their participants: events as the event pages keep them, and the
participant actions the pages have (register, cancel, check in and undo), through the same
operations (places, the waitlist, the audit trail)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import abort
from flask_login import current_user
from marshmallow import Schema, fields, validate

from crm.api.blueprint import api_requires, bp
from crm.api.conventions import (
    PageArgs,
    answer,
    changed,
    count_cap,
    created,
    deleted,
    merged,
    page_answer,
    page_schema,
    writable,
)
from crm.api.idempotency import idempotent
from crm.contacts.models import Contact
from crm.core.access import Permission
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.pagination import SortOption, paginate
from crm.events import queries
from crm.events.models import (
    Event,
    EventKind,
    Hosting,
    ParticipantRole,
    Participation,
    ParticipationStatus,
)
from crm.events.operations import events as event_ops
from crm.events.operations import places
from crm.extensions import db

KIND = "event"
PARTICIPATION = "participation"
SOONEST = SortOption("Soonest first", (Event.starts_at, Event.id))
LATEST = SortOption("Latest first", (Event.starts_at, Event.id), descending=True)
_ID = fields.Integer(strict=True, validate=validate.Range(1, 2**31 - 1))
_LOCAL = {
    "format": "local-date-time",
    "description": "YYYY-MM-DDThh:mm[:ss], the time where the event happens (`timezone`)",
}


class EventSchema(Schema):
    """An event: its times are given as the wall clock where it happens (`starts_local`,
    `ends_local`, naive) in its `timezone`; `starts_at` and `ends_at` are the same in UTC."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in EventKind]))
    hosting = fields.String(required=True, validate=validate.OneOf([h.value for h in Hosting]))
    # The wall clock at the event, with no offset (RFC 3339's date-time needs one).
    starts_local = fields.NaiveDateTime(required=True, metadata=_LOCAL)
    ends_local = fields.NaiveDateTime(required=True, metadata=_LOCAL)
    timezone = fields.String(load_default="UTC", validate=validate.Length(max=64))
    starts_at = fields.AwareDateTime(dump_only=True)
    ends_at = fields.AwareDateTime(dump_only=True)
    venue = fields.String(allow_none=True, validate=validate.Length(max=300))
    online_url = fields.String(allow_none=True, validate=validate.Length(max=500))
    country = fields.String(allow_none=True)
    capacity = fields.Integer(
        allow_none=True, strict=True, metadata={"description": "Places; null: no limit"}
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    is_public = fields.Boolean(load_default=False)
    registration_open = fields.Boolean(load_default=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "Changes with each save"})


class EventChangesSchema(EventSchema):
    """A change to an event: only the fields sent change (used with partial=True)."""


class EventListArgs(PageArgs):
    when = fields.String(
        load_default="upcoming",
        validate=validate.OneOf(["upcoming", "past"]),
        metadata={"description": "Upcoming (soonest first) or past (latest first)"},
    )


EventPageSchema = page_schema(EventSchema, "EventPage")


class ParticipationSchema(Schema):
    id = fields.Integer(dump_only=True)
    event_id = fields.Integer(dump_only=True)
    contact_id = _ID
    contact_name = fields.String(dump_only=True)
    role = fields.String(
        load_default=ParticipantRole.ATTENDEE.value,
        validate=validate.OneOf([r.value for r in ParticipantRole]),
    )
    status = fields.String(
        dump_only=True, metadata={"enum": [s.value for s in ParticipationStatus]}
    )
    checked_in_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)


class RegisterSchema(Schema):
    contact_id = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1))
    role = fields.String(
        load_default=ParticipantRole.ATTENDEE.value,
        validate=validate.OneOf([r.value for r in ParticipantRole]),
    )


class ParticipantListSchema(Schema):
    items = fields.List(fields.Nested(ParticipationSchema))


class ParticipantListArgs(Schema):
    status = fields.String(
        load_default="", validate=validate.OneOf(["", *[s.value for s in ParticipationStatus]])
    )


_WRITABLE = writable(EventSchema)


def _local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _dump(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "kind": str(event.kind),
        "hosting": str(event.hosting),
        "starts_local": _local(event.starts_at, event.timezone),
        "ends_local": _local(event.ends_at, event.timezone),
        "timezone": event.timezone,
        "starts_at": event.starts_at.astimezone(UTC),
        "ends_at": event.ends_at.astimezone(UTC),
        "venue": event.venue,
        "online_url": event.online_url,
        "country": event.country,
        "capacity": event.capacity,
        "description": event.description,
        "is_public": event.is_public,
        "registration_open": event.registration_open,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
        "version": event.version,
    }


def _dump_participation(p: Participation) -> dict[str, Any]:
    return {
        "id": p.id,
        "event_id": p.event_id,
        "contact_id": p.contact_id,
        "contact_name": p.contact.full_name,
        "role": str(p.role),
        "status": str(p.status),
        "checked_in_at": p.checked_in_at,
        "version": p.version,
    }


def _fields(data: dict[str, Any]) -> event_ops.EventFields:
    return event_ops.EventFields(
        name=data["name"],
        kind=data["kind"],
        hosting=data["hosting"],
        starts_local=data["starts_local"],
        ends_local=data["ends_local"],
        timezone=data.get("timezone") or "UTC",
        venue=data.get("venue"),
        online_url=data.get("online_url"),
        country=data.get("country"),
        capacity=data.get("capacity"),
        description=data.get("description"),
        is_public=bool(data.get("is_public")),
        registration_open=bool(data.get("registration_open", True)),
    )


def _load(event_id: int) -> Event:
    return db.session.get(Event, event_id) or abort(404)


def _participation(event_id: int, participation_id: int) -> Participation:
    found = db.session.get(Participation, participation_id)
    if found is None or found.event_id != event_id:
        abort(404)
    return found


@bp.route("/events")
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_VIEW)
@bp.arguments(EventListArgs, location="query")
@bp.response(200, EventPageSchema)
def list_events(args: dict[str, Any]):
    """Upcoming events soonest first (those under way included), or past ones latest first."""
    now = utcnow()
    upcoming = args["when"] == "upcoming"
    stmt = sa.select(Event).where(Event.ends_at >= now if upcoming else Event.ends_at < now)
    page = paginate(
        stmt,
        SOONEST if upcoming else LATEST,
        after=args["after"],
        page_size=args["limit"],
        count_cap=count_cap(),
        count=args["total"],
    )
    items = [_dump(e) for e in page.items]
    return page_answer(page, items, "api_v1.list_events", args)


@bp.route("/events/<int:event_id>")
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_VIEW)
@bp.response(200, EventSchema)
def get_event(event_id: int):
    """One event, with its ETag."""
    return answer(KIND, _load(event_id), _dump)


@bp.route("/events", methods=["POST"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_EDIT)
@idempotent
@bp.arguments(EventSchema)
@bp.response(201, EventSchema)
def create_event(data: dict[str, Any]):
    """A new event, checked as the event form checks one."""
    return created(KIND, lambda: event_ops.create_event(current_user, _fields(data)), _dump)


@bp.route("/events/<int:event_id>", methods=["PATCH"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_EDIT)
@bp.arguments(EventChangesSchema(partial=True))
@bp.response(200, EventSchema)
def update_event(data: dict[str, Any], event_id: int):
    """Change the fields sent; a larger capacity seats people from the waitlist."""
    event = _load(event_id)
    values = _fields(merged(_dump(event), data, _WRITABLE))

    def save(version: int | None) -> Event:
        event_ops.update_event(current_user, event, values, expected_version=version)
        return event

    return changed(KIND, event, save, _dump)


@bp.route("/events/<int:event_id>", methods=["DELETE"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_EDIT)
@bp.response(204)
def delete_event(event_id: int):
    """Delete an event nobody is on the list of."""
    event = _load(event_id)
    return deleted(KIND, event, lambda: event_ops.delete_event(current_user, event))


@bp.route("/events/<int:event_id>/participants")
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_VIEW)
@bp.arguments(ParticipantListArgs, location="query")
@bp.response(200, ParticipantListSchema)
def list_participants(args: dict[str, Any], event_id: int):
    """The event's participants by name (an event's list is hundreds, not millions)."""
    event = _load(event_id)
    rows = queries.participants(event, args["status"])
    return {"items": [_dump_participation(p) for p in rows]}


@bp.route("/events/<int:event_id>/participants", methods=["POST"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_EDIT)
@idempotent
@bp.arguments(RegisterSchema)
@bp.response(201, ParticipationSchema)
def register(data: dict[str, Any], event_id: int):
    """Register a contact: a place if one is free, else the waitlist (speakers and other roles
    of the programme are never waitlisted). Registering twice changes nothing."""
    event = _load(event_id)

    def register_them() -> Participation:
        contact = db.session.get(Contact, data["contact_id"])
        if contact is None:
            raise OperationError("That contact does not exist.", field="contact_id")
        participation, _outcome = places.register(
            current_user, event, contact, role=data["role"], source="api"
        )
        return participation

    return created(PARTICIPATION, register_them, _dump_participation)


def _participant_action(event_id: int, participation_id: int, action) -> Any:
    participation = _participation(event_id, participation_id)

    def act(_version: int | None) -> Participation:
        action(current_user, participation)
        return participation

    return changed(PARTICIPATION, participation, act, _dump_participation)


@bp.route("/events/<int:event_id>/participants/<int:participation_id>/cancel", methods=["POST"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_EDIT)
@bp.response(200, ParticipationSchema)
def cancel(event_id: int, participation_id: int):
    """Cancel a place or a waitlist entry; the freed place goes to the waitlist's first."""
    return _participant_action(event_id, participation_id, places.cancel)


@bp.route("/events/<int:event_id>/participants/<int:participation_id>/check-in", methods=["POST"])
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_CHECK_IN)
@bp.response(200, ParticipationSchema)
def check_in(event_id: int, participation_id: int):
    """Mark someone as here (even past capacity: they came)."""
    return _participant_action(event_id, participation_id, places.check_in)


@bp.route(
    "/events/<int:event_id>/participants/<int:participation_id>/undo-check-in",
    methods=["POST"],
)
@bp.doc(tags=["Events"])
@api_requires(Permission.EVENTS_CHECK_IN)
@bp.response(200, ParticipationSchema)
def undo_check_in(event_id: int, participation_id: int):
    """Undo a check-in made by mistake."""
    return _participant_action(event_id, participation_id, places.undo_check_in)
