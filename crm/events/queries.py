"""Reading events: lists, participants, per-event figures, attendee exports and timelines."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from crm.contacts.models import Contact
from crm.core.countries import country_name
from crm.core.db import utcnow
from crm.core.timeline import TimelineItem, timeline_source
from crm.events.models import Event, Participation, ParticipationStatus
from crm.extensions import db
from crm.organizations.models import KIND_LABELS, Organization

STATUS_ORDER = list(ParticipationStatus)


def upcoming_and_past(limit: int = 200) -> tuple[list[Event], list[Event]]:
    now = utcnow()
    upcoming = db.session.scalars(
        sa.select(Event)
        .where(Event.ends_at >= now)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    ).all()
    past = db.session.scalars(
        sa.select(Event)
        .where(Event.ends_at < now)
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(limit)
    ).all()
    return list(upcoming), list(past)


def status_counts(event_ids: list[int]) -> dict[int, dict[ParticipationStatus, int]]:
    counts: dict[int, dict[ParticipationStatus, int]] = {i: {} for i in event_ids}
    if not event_ids:
        return counts
    rows = db.session.execute(
        sa.select(Participation.event_id, Participation.status, sa.func.count())
        .where(Participation.event_id.in_(event_ids))
        .group_by(Participation.event_id, Participation.status)
    )
    for event_id, status, n in rows:
        counts[event_id][status] = n
    return counts


def participants(event: Event, status: str = "") -> list[Participation]:
    stmt = (
        sa.select(Participation)
        .join(Contact, Contact.id == Participation.contact_id)
        .where(Participation.event_id == event.id)
        .options(selectinload(Participation.contact).selectinload(Contact.organization))
        .order_by(Contact.sort_name, Participation.id)
    )
    if status:
        stmt = stmt.where(Participation.status == status)
    return list(db.session.scalars(stmt))


def waitlist(event: Event) -> list[Participation]:
    return list(
        db.session.scalars(
            sa.select(Participation)
            .where(
                Participation.event_id == event.id,
                Participation.status == ParticipationStatus.WAITLISTED,
            )
            .options(selectinload(Participation.contact))
            .order_by(Participation.waitlisted_at, Participation.id)
        )
    )


@dataclass
class EventFigures:
    counts: dict[ParticipationStatus, int]
    registered: int  # everyone who signed up and did not cancel: registered, attended, no-show
    attended: int
    attendance_rate: float | None  # attended / registered, once the event has started
    by_kind: pd.DataFrame
    by_country: pd.DataFrame


def figures(event: Event) -> EventFigures:
    frame = pd.read_sql_query(
        sa.select(
            Participation.status.label("status"),
            Organization.kind.label("kind"),
            # A person's own country, else their organization's.
            sa.func.coalesce(Contact.country, Organization.country).label("country"),
        )
        .join(Contact, Contact.id == Participation.contact_id)
        .outerjoin(Organization, Organization.id == Contact.organization_id)
        .where(Participation.event_id == event.id),
        db.session.connection(),
    )
    counts = {s: int((frame["status"] == s.value).sum()) for s in ParticipationStatus}
    signed_up = (
        counts[ParticipationStatus.REGISTERED]
        + counts[ParticipationStatus.ATTENDED]
        + counts[ParticipationStatus.NO_SHOW]
    )
    attended = counts[ParticipationStatus.ATTENDED]
    started = event.starts_at <= utcnow()
    rate = attended / signed_up if started and signed_up else None
    return EventFigures(
        counts=counts,
        registered=signed_up,
        attended=attended,
        attendance_rate=rate,
        by_kind=_breakdown(frame, "kind", lambda v: KIND_LABELS.get(v, v) if v else "Unknown"),
        by_country=_breakdown(frame, "country", lambda v: country_name(v) if v else "Unknown"),
    )


def _breakdown(frame: pd.DataFrame, column: str, label) -> pd.DataFrame:
    """Registered and attended per value of `column`, with the attendance rate."""
    signed = frame[frame["status"].isin(["registered", "attended", "no_show"])].copy()
    if signed.empty:
        return pd.DataFrame(columns=["group", "registered", "attended", "rate"])
    signed["group"] = [label(v if isinstance(v, str) else None) for v in signed[column]]
    signed["is_attended"] = signed["status"] == "attended"
    table = signed.groupby("group").agg(
        registered=("status", "size"), attended=("is_attended", "sum")
    )
    table["rate"] = table["attended"] / table["registered"]
    return table.sort_values(["registered", "attended"], ascending=False).reset_index()


EXPORT_COLUMNS = [
    "First name",
    "Last name",
    "Email",
    "Organization",
    "Organization kind",
    "Country",
    "Role",
    "Status",
    "Registered via",
    "Checked in at (UTC)",
]


def attendee_frame(event: Event) -> pd.DataFrame:
    rows = []
    for p in participants(event):
        c = p.contact
        org = c.organization
        rows.append(
            [
                c.first_name,
                c.last_name,
                c.email or "",
                org.name if org else (p.organization_text or ""),
                org.kind.label if org else "",
                country_name(c.country) if c.country else "",
                p.role.label,
                p.status.label,
                p.source,
                p.checked_in_at.strftime("%Y-%m-%d %H:%M") if p.checked_in_at else "",
            ]
        )
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS)


# --- timelines -------------------------------------------------------------------------------


def _item(p: Participation, who: str | None = None) -> TimelineItem:
    event = p.event
    title = f"{event.name}: {p.role.label.lower()}, {p.status.label.lower()}"
    return TimelineItem(
        when=event.starts_at,
        kind=f"Event · {event.kind.label}",
        title=title if who is None else f"{who} at {title}",
        url=url_for("events.detail", event_id=event.id),
        icon="calendar-event",
    )


@timeline_source("contact")
def contact_participation(contact_id: int, limit: int) -> list[TimelineItem]:
    stmt = (
        sa.select(Participation)
        .join(Event, Event.id == Participation.event_id)
        .where(Participation.contact_id == contact_id)
        .options(selectinload(Participation.event))
        .order_by(Event.starts_at.desc())
        .limit(limit)
    )
    return [_item(p) for p in db.session.scalars(stmt)]


@timeline_source("organization")
def organization_participation(organization_id: int, limit: int) -> list[TimelineItem]:
    """Events the organization's people took part in (cancellations left out)."""
    stmt = (
        sa.select(Participation)
        .join(Event, Event.id == Participation.event_id)
        .join(Contact, Contact.id == Participation.contact_id)
        .where(
            Contact.organization_id == organization_id,
            Participation.status != ParticipationStatus.CANCELLED,
        )
        .options(selectinload(Participation.event), selectinload(Participation.contact))
        .order_by(Event.starts_at.desc())
        .limit(limit)
    )
    return [_item(p, who=p.contact.full_name) for p in db.session.scalars(stmt)]
