"""A champion's profile and endorsements in a contact's data export, and wiped on erasure."""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.champions.queries import champion_for_contact
from crm.contacts.operations import strike
from crm.core.personal_data import deletion_blocker, eraser, exporter
from crm.extensions import db


def blank_audit(object_type: str, ids: list[int]) -> None:
    """Audit entries about the erased person's records keep that a change happened, not what."""
    if ids:
        db.session.execute(
            sa.update(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id.in_(ids))
            .values(changes=None, summary="(erased)")
        )


@deletion_blocker
def champion_blocker(contact) -> str | None:
    champion = champion_for_contact(contact.id)
    if champion is None:
        return None
    return f"they are in the champion pipeline ({champion.stage.label.lower()})"


@exporter
def champion_export(contact) -> dict:
    champion = champion_for_contact(contact.id)
    if champion is None:
        return {}
    return {
        "champion": {
            "stage": champion.stage.value,
            "stage_since": champion.stage_since.isoformat(),
            "region": champion.region.value if champion.region else None,
            "audience_reach": champion.audience_reach,
            "channels": champion.channel_list,
            "about": champion.bio,
            "next_step": champion.next_step,
            "stage_history": [
                {
                    "at": m.at.isoformat(),
                    "from": m.from_stage.value if m.from_stage else None,
                    "to": m.to_stage.value,
                    "note": m.note,
                }
                for m in champion.moves
            ],
            "endorsements": [
                {
                    "kind": e.kind.value,
                    "date": e.made_on.isoformat(),
                    "title": e.title,
                    "link": e.link,
                    "audience_reach": e.audience_reach,
                    "principles": [p.code for p in e.principles],
                    "notes": e.notes,
                    "status": e.status.value,
                    "rejection_reason": e.rejection_reason,
                }
                for e in champion.endorsements
            ],
        }
    }


@eraser
def champion_erase(contact, identifying: list[str]) -> None:
    """Profile text goes; endorsements stay countable (kind, date, reach) without the person."""
    champion = champion_for_contact(contact.id)
    if champion is None:
        return
    champion.bio = None
    champion.channels = None
    champion.next_step = None
    for move in champion.moves:
        if move.note:
            move.note = strike(move.note, identifying)
    for endorsement in champion.endorsements:
        endorsement.title = strike(endorsement.title, identifying)
        endorsement.notes = strike(endorsement.notes, identifying) if endorsement.notes else None
        endorsement.link = None  # a link to their own post identifies them
    blank_audit("champion", [champion.id])
    blank_audit("endorsement", [e.id for e in champion.endorsements])
