"""The public pledge form: a pledge signed today, its organization and signatory matched or
created, awaiting a lead's confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from crm.contacts import operations as contact_ops
from crm.core.locks import serialize_on
from crm.organizations import operations as org_ops
from crm.organizations import queries as org_queries
from crm.pledges.models import Pledge
from crm.pledges.operations.lifecycle import create_pledge, live_pledge
from crm.standards.models import Standard


class Outcome(StrEnum):
    RECEIVED = "received"
    ALREADY = "already"


@dataclass
class PublicPledge:
    organization: str
    kind: str
    country: str | None
    website: str | None
    first_name: str
    last_name: str
    email: str
    title: str | None
    listed: bool


def public_pledge(submission: PublicPledge, standard: Standard) -> tuple[Pledge, Outcome]:
    """A pledge from the public page: signed today, awaiting a lead's confirmation.

    The organization and the signatory are matched (by exact name, by email) or created; what
    the team already recorded about either is never changed.
    """
    serialize_on(f"organization:{org_ops.name_key(submission.organization)}")
    organization = org_queries.by_name(submission.organization)
    if organization is None:
        organization = org_ops.create_organization(
            None,
            org_ops.OrganizationFields(
                name=submission.organization,
                kind=submission.kind,
                country=submission.country,
                website=submission.website,
            ),
        )
    existing = live_pledge(organization.id)  # to this version or an earlier one
    if existing is not None:
        return existing, Outcome.ALREADY
    contact, _created = contact_ops.find_or_create(
        None,
        contact_ops.ContactFields(
            first_name=submission.first_name,
            last_name=submission.last_name,
            email=submission.email,
            title=submission.title,
            organization_id=organization.id,
            country=submission.country,
        ),
    )
    pledge = create_pledge(
        None,
        organization,
        standard,
        signatory_id=contact.id,
        signed_on=date.today(),
        listed=submission.listed,
        source="public form",
    )
    return pledge, Outcome.RECEIVED
