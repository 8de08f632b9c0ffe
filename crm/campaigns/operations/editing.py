"""A campaign's draft: creating it, editing its fields (purpose, segment, event or
consultation, sender, subject and message) and deleting one never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

from crm.audit import operations as audit
from crm.campaigns import rendering
from crm.campaigns.models import Campaign, CampaignStatus, Purpose, Segment
from crm.campaigns.operations.lifecycle import check_consultation_url
from crm.consultations.models import Access, Consultation
from crm.core.errors import OperationError
from crm.core.validation import clean_text, normalize_email
from crm.events.models import Event
from crm.extensions import db


@dataclass
class CampaignFields:
    name: str
    purpose: Purpose | str
    segment_id: int | str | None  # the ids as picked in a form (a string) or given (an int)
    sender_name: str
    sender_email: str
    subject: str
    body: str
    reply_to: str | None = None
    event_id: int | str | None = None
    # A consultation reminder: {{ consultation_url }} is each person's own link, and with no
    # segment it goes to those invited who have not answered.
    consultation_id: int | str | None = None


@overload
def _email(value: str | None, field_name: str, label: str, *, required: Literal[True]) -> str: ...
@overload
def _email(value: str | None, field_name: str, label: str, *, required: bool) -> str | None: ...
def _email(value: str | None, field_name: str, label: str, *, required: bool) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise OperationError(f"{label} is required.", field=field_name)
        return None
    try:
        return normalize_email(value)
    except OperationError as exc:
        raise OperationError(f"{label}: {exc.message}", field=field_name) from None


def _apply_campaign(campaign: Campaign, fields: CampaignFields) -> None:
    if not campaign.editable:
        raise OperationError(
            f"This campaign is {campaign.status.label.lower()}, so it can no longer be changed."
        )
    campaign.name = clean_text(fields.name, "name", "Name", 200, required=True)
    try:
        campaign.purpose = Purpose(fields.purpose)
    except ValueError:
        raise OperationError("Choose the campaign's purpose.", field="purpose") from None
    if fields.segment_id in (None, ""):
        campaign.segment_id = None
    else:
        segment = db.session.get(Segment, _int(fields.segment_id, "segment_id"))
        if segment is None:
            raise OperationError("That segment does not exist.", field="segment_id")
        campaign.segment_id = segment.id
    if fields.event_id in (None, ""):
        campaign.event_id = None
    else:
        event = db.session.get(Event, _int(fields.event_id, "event_id"))
        if event is None:
            raise OperationError("That event does not exist.", field="event_id")
        campaign.event_id = event.id
    _apply_consultation(campaign, fields.consultation_id)
    campaign.sender_name = clean_text(
        fields.sender_name, "sender_name", "Sender name", 100, required=True
    )
    campaign.sender_email = _email(
        fields.sender_email, "sender_email", "Sender address", required=True
    )
    campaign.reply_to = _email(fields.reply_to, "reply_to", "Reply-to address", required=False)
    subject = clean_text(fields.subject, "subject", "Subject", 300, required=True)
    if "\n" in subject or "\r" in subject:
        raise OperationError("The subject must be one line.", field="subject")
    body = (fields.body or "").replace("\r\n", "\n")
    if not body.strip():
        raise OperationError("Write the message.", field="body")
    if len(body) > 100_000:
        raise OperationError("The message is too long (100,000 characters at most).", field="body")
    rendering.check(subject, "subject", "Subject")
    rendering.check(body, "body", "Message")
    if "event_url" in body + subject and campaign.event_id is None:
        raise OperationError("The message links to the event: choose the event.", field="event_id")
    check_consultation_url(campaign, body + subject)
    campaign.subject = subject
    campaign.body = body


def _apply_consultation(campaign: Campaign, consultation_id) -> None:
    if consultation_id in (None, ""):
        campaign.consultation_id = None
        return
    consultation = db.session.get(Consultation, _int(consultation_id, "consultation_id"))
    if consultation is None:
        raise OperationError("That consultation does not exist.", field="consultation_id")
    if consultation.access is Access.INVITATION and campaign.segment_id is not None:
        raise OperationError(
            "A consultation by invitation is answered only by those it invited: leave the "
            "segment empty, and the campaign goes to those of them who have not answered.",
            field="segment_id",
        )
    campaign.consultation_id = consultation.id


def _int(value, field_name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise OperationError("Pick one from the list.", field=field_name) from None


def create_campaign(actor, fields: CampaignFields) -> Campaign:
    campaign = Campaign(status=CampaignStatus.DRAFT)
    _apply_campaign(campaign, fields)
    audit.add_recorded(actor, campaign, "campaign", summary=f"Created {campaign.name}")
    return campaign


def update_campaign(
    actor, campaign: Campaign, fields: CampaignFields, *, expected_version: int | None = None
) -> None:
    with audit.updating(actor, campaign, "campaign", expected_version=expected_version):
        _apply_campaign(campaign, fields)


def delete_campaign(actor, campaign: Campaign) -> None:
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED) or (
        campaign.queued_at is not None
    ):
        raise OperationError("Only a draft that was never sent can be deleted.")
    audit.delete_recorded(actor, campaign, "campaign", summary=f"Deleted {campaign.name}")
