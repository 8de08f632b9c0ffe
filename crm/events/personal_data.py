"""Event registrations in a contact's data export, and wiped on erasure."""

from __future__ import annotations

import sqlalchemy as sa

from crm.champions.personal_data import blank_audit
from crm.core.personal_data import deletion_blocker, eraser, exporter
from crm.events.models import Participation
from crm.extensions import db


def _of(contact) -> list[Participation]:
    return list(
        db.session.scalars(sa.select(Participation).where(Participation.contact_id == contact.id))
    )


@exporter
def participation_export(contact) -> dict:
    return {
        "events": [
            {
                "event": p.event.name,
                "starts_at": p.event.starts_at.isoformat(),
                "role": p.role.value,
                "status": p.status.value,
                "registered_via": p.source,
                "organization_as_typed": p.organization_text,
                "checked_in_at": p.checked_in_at.isoformat() if p.checked_in_at else None,
            }
            for p in _of(contact)
        ]
    }


@eraser
def participation_erase(contact, identifying: list[str]) -> None:
    """Attendance still counts in event figures; what they typed about themselves goes."""
    participations = _of(contact)
    for participation in participations:
        participation.organization_text = None
    blank_audit("participation", [p.id for p in participations])


@deletion_blocker
def participation_blocker(contact) -> str | None:
    count = len(_of(contact))
    if not count:
        return None
    return f"they took part in {count} event{'s' if count != 1 else ''}"
