"""Campaign email in a contact's data export; wiped from the outbox and events on erasure.

The suppression list keeps a bounced or reported address even after erasure: it exists so
that address is never mailed again.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from crm.campaigns.models import Campaign, DeliveryEvent, OutboxMessage
from crm.champions.personal_data import blank_audit
from crm.core.personal_data import eraser, exporter
from crm.extensions import db


def _messages(contact) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.contact_id == contact.id)
            .order_by(OutboxMessage.id)
        )
    )


@exporter
def campaign_export(contact) -> dict:
    messages = _messages(contact)
    events = (
        db.session.scalars(
            sa.select(DeliveryEvent)
            .where(DeliveryEvent.message_id.in_([m.id for m in messages]))
            .order_by(DeliveryEvent.at)
        ).all()
        if messages
        else []
    )
    by_message: dict[int | None, list] = {}
    for event in events:
        by_message.setdefault(event.message_id, []).append(
            {"event": event.kind.value, "at": event.at.isoformat(), "link": event.url}
        )
    return {
        "campaign_emails": [
            {
                "campaign": m.campaign.name,
                "to": m.email,
                "status": m.status.value,
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "unsubscribed_at": m.unsubscribed_at.isoformat() if m.unsubscribed_at else None,
                "events": by_message.get(m.id, []),
            }
            for m in messages
        ]
    }


@eraser
def campaign_erase(contact, identifying: list[str]) -> None:
    """Counts stay (a message was sent, opened); the address and name go."""
    messages = _messages(contact)
    for message in messages:
        digest = hashlib.sha256(message.email.encode()).hexdigest()[:16]
        erased = f"erased-{digest}@invalid"
        db.session.execute(
            sa.update(DeliveryEvent)
            .where(DeliveryEvent.message_id == message.id)
            .values(email=erased)
        )
        message.email = erased
    # The "who was left out" list of each campaign names people: take this one out.
    campaigns = db.session.scalars(sa.select(Campaign).where(Campaign.left_out.is_not(None)))
    for campaign in campaigns:
        people = (campaign.left_out or {}).get("people") or []
        kept = [p for p in people if p.get("id") != contact.id]
        if len(kept) != len(people):
            campaign.left_out = {**(campaign.left_out or {}), "people": kept}
    blank_audit("outbox_message", [m.id for m in messages])
    db.session.flush()
