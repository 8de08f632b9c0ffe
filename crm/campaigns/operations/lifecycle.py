"""What scheduling and sending share: a campaign's status change with its audit entry, and
the checks before a campaign may go out (someone to send to, a consultation still open).
"""

from __future__ import annotations

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.campaigns.models import Campaign, CampaignStatus
from crm.consultations.models import Access, Phase
from crm.core.errors import OperationError
from crm.extensions import db


def check_consultation_url(campaign: Campaign, text: str) -> None:
    if "consultation_url" in text and campaign.consultation_id is None:
        raise OperationError(
            "The message links to a consultation (consultation_url): choose the consultation.",
            field="consultation_id",
        )


def set_status(actor, campaign: Campaign, status: CampaignStatus, summary: str) -> None:
    old = campaign.status
    campaign.status = status
    campaign.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "campaign",
        campaign.id,
        summary=summary,
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()


def ready(campaign: Campaign) -> None:
    """Refuses a campaign with nobody to go to, or one whose consultation is gone or over."""
    check_consultation_url(campaign, campaign.body + campaign.subject)
    consultation = campaign.consultation
    if consultation is not None:
        if consultation.phase() is Phase.CLOSED:
            raise OperationError(
                f"{consultation.title} closed on {consultation.closes_on:%-d %B %Y}: its links "
                "no longer take answers, so it is not sent."
            )
        if campaign.segment is None and consultation.access is not Access.INVITATION:
            raise OperationError(
                "A public consultation has no list of invited people: choose a segment.",
                field="segment_id",
            )
    if campaign.segment is None and consultation is None:
        raise OperationError("Choose who receives it (a segment) first.", field="segment_id")
