"""An erased person's name, email and phone struck from the engagements they took part in."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.operations import strike
from crm.core.personal_data import eraser
from crm.engagements.models import Engagement, engagement_contact
from crm.extensions import db


@eraser
def strike_from_engagements(contact, identifying: list[str]) -> None:
    """The engagements keep counting (reports do not change), but nothing in their free text
    identifies the person any more."""
    engagements = db.session.scalars(
        sa.select(Engagement)
        .join(engagement_contact, engagement_contact.c.engagement_id == Engagement.id)
        .where(engagement_contact.c.contact_id == contact.id)
    )
    for engagement in engagements:
        for attr in ("summary", "heard", "follow_up_note"):
            text = getattr(engagement, attr)
            if text:
                setattr(engagement, attr, strike(text, identifying))
