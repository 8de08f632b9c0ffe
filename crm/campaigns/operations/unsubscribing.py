"""Unsubscribing: the link in a message withdraws consent on every record holding the
address, and the preference page chooses the kinds of email still wanted.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.campaigns.models import OutboxMessage, Purpose, TopicOptOut
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.extensions import db


def unsubscribe(message: OutboxMessage, source: str) -> bool:
    """The person clicked the link: consent withdrawn with time and source. True if it changed."""
    now = utcnow()
    if message.unsubscribed_at is None:
        message.unsubscribed_at = now
    return withdraw_address(message.email, source, contact_id=message.contact_id)


def withdraw_address(email: str, source: str, *, contact_id: int | None = None) -> bool:
    """The address unsubscribed: every record holding it (and the one a message went to)."""
    now = utcnow()
    holders = list(
        db.session.scalars(
            sa.select(Contact).where(
                sa.or_(
                    Contact.id == (contact_id or 0),
                    sa.func.lower(Contact.email) == email.strip().lower(),
                ),
                Contact.erased_at.is_(None),
                Contact.consent_status != ConsentStatus.WITHDRAWN,
            )
        )
    )
    for contact in holders:
        old = contact.consent_status.value
        contact.consent_status = ConsentStatus.WITHDRAWN
        contact.consent_source = source[:100]
        contact.consent_at = now
        contact.touch(None)
        audit.record(
            None,
            AuditAction.UPDATE,
            "contact",
            contact.id,
            summary=f"Unsubscribed: {source}"[:300],
            changes={"consent_status": [old, ConsentStatus.WITHDRAWN.value]},
        )
    db.session.flush()
    return bool(holders)


def choose_topics(message: OutboxMessage, wanted: list[str]) -> list[Purpose]:
    """The person's preference page: the kinds of email they still want. Returns the ones
    they no longer want."""
    try:
        keep = {Purpose(w) for w in wanted}
    except ValueError:
        raise OperationError("That is not one of our kinds of email.", field="topics") from None
    contact = message.contact
    if contact is None or contact.erased_at is not None:
        raise OperationError("We no longer hold your details, so there is nothing to change.")
    before = set(
        db.session.scalars(sa.select(TopicOptOut.topic).where(TopicOptOut.contact_id == contact.id))
    )
    after = set(Purpose) - keep
    for topic in before - after:
        db.session.execute(
            sa.delete(TopicOptOut).where(
                TopicOptOut.contact_id == contact.id, TopicOptOut.topic == topic
            )
        )
    for topic in sorted(after - before):
        db.session.add(TopicOptOut(contact_id=contact.id, topic=topic))
    if before != after:
        audit.record(
            None,
            AuditAction.UPDATE,
            "contact",
            contact.id,
            summary="Email topics chosen on the preference page",
            changes={
                "topics not wanted": [
                    ", ".join(sorted(t.label for t in before)) or "none",
                    ", ".join(sorted(t.label for t in after)) or "none",
                ]
            },
        )
    db.session.flush()
    return sorted(after, key=list(Purpose).index)
