"""Reminding those invited who have not answered, through the campaign path: a draft campaign
the lead reviews and sends, each person with their own link."""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.campaigns.models import Campaign, CampaignStatus, Purpose
from crm.campaigns.operations import editing as campaign_ops
from crm.campaigns.operations.editing import CampaignFields
from crm.consultations.models import Access, Consultation, Phase
from crm.core.errors import OperationError
from crm.extensions import db


def _literal(text: str) -> str:
    """Text that goes into a campaign template as it is (a title with "{{" is not a field)."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return text
    if "endraw" in text:
        return text.replace("{", "(").replace("}", ")")
    return "{% raw %}" + text + "{% endraw %}"


def reminder_fields(
    consultation: Consultation, sender_name: str, sender_email: str
) -> CampaignFields:
    """A reminder campaign as the lead first sees it: to those invited who have not answered,
    each with their own link (`{{ consultation_url }}`)."""
    title = _literal(consultation.title)
    closes = f"{consultation.closes_on:%-d %B %Y}"
    body = (
        "Dear {{ first_name }},\n\n"
        f"You are invited to comment on {title}, the consultation on version "
        f"{_literal(consultation.standard.version)} of the WEST Principles, and we have not "
        "heard from you yet. Your view matters to us.\n\n"
        f"Your personal link, to answer or come back and change your answers until {closes}:\n"
        "{{ consultation_url }}\n\n"
        "Please keep it to yourself: anyone with this link can change your response.\n\n"
        "— The WEST Principles community\n"
    )
    return CampaignFields(
        name=f"Reminder: {consultation.title}"[:200],
        purpose=Purpose.CONSULTATION,
        segment_id=None,
        consultation_id=consultation.id,
        sender_name=sender_name,
        sender_email=sender_email,
        subject=f"Reminder: your personal link to {title} (closes {closes})",
        body=body,
    )


def draft_reminder(
    actor, consultation: Consultation, *, sender_name: str, sender_email: str
) -> tuple[Campaign, bool]:
    """A draft campaign to those invited who have not answered yet, for the lead to review
    and send through the campaign flow (the worker drains the outbox). A draft reminder that
    is still unsent is reused rather than doubled. Returns (campaign, created)."""
    if consultation.access is not Access.INVITATION:
        raise OperationError(
            "Only a consultation by invitation has a list of people who have not answered."
        )
    if consultation.phase() is Phase.CLOSED:
        raise OperationError(
            f"This consultation closed on {consultation.closes_on:%-d %B %Y}; there is nothing "
            "left to remind anyone of."
        )
    existing = db.session.scalar(
        sa.select(Campaign)
        .where(
            Campaign.consultation_id == consultation.id,
            Campaign.status == CampaignStatus.DRAFT,
        )
        .order_by(Campaign.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    campaign = campaign_ops.create_campaign(
        actor, reminder_fields(consultation, sender_name, sender_email)
    )
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Reminder drafted (campaign {campaign.id})",
    )
    return campaign, True
