"""Creating, changing and deleting organizations."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.auth.models import User
from crm.core import deletion
from crm.core.errors import OperationError
from crm.core.text import fold
from crm.core.validation import clean_choice, clean_country, clean_text, clean_website
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind
from crm.tags.operations import tags_from_names


@dataclass
class OrganizationFields:
    name: str
    kind: OrganizationKind | str
    sector: str | None = None
    country: str | None = None
    website: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)


def name_key(name: str) -> str:
    """Folded name: sorting, search and duplicate checks ignore case, accents and spacing."""
    return fold(name)


def _apply(org: Organization, fields: OrganizationFields) -> None:
    org.name = clean_text(fields.name, "name", "Name", 200, required=True)
    org.kind = clean_choice(OrganizationKind, fields.kind, "an organization kind", field="kind")
    org.name_key = name_key(org.name)
    org.sector = clean_text(fields.sector, "sector", "Sector", 100)
    org.country = clean_country(fields.country)
    org.website = clean_website(fields.website)
    org.notes = clean_text(fields.notes, "notes", "Notes", 10_000)
    duplicate = db.session.scalar(
        sa.select(Organization.id).where(
            Organization.name_key == org.name_key, Organization.id != (org.id or 0)
        )
    )
    if duplicate:
        raise OperationError(f"An organization named “{org.name}” already exists.", field="name")


def create_organization(actor, fields: OrganizationFields) -> Organization:
    org = Organization()
    _apply(org, fields)
    org.tags = tags_from_names(fields.tags)
    audit.add_recorded(actor, org, "organization", summary=f"Created {org.name}")
    return org


def update_organization(
    actor, org: Organization, fields: OrganizationFields, *, expected_version: int | None = None
) -> Organization:
    with audit.updating(actor, org, "organization", expected_version=expected_version) as extra:
        old_tags = org.tag_names
        _apply(org, fields)
        org.tags = tags_from_names(fields.tags)
        if org.tag_names != old_tags:
            extra["tags"] = [old_tags, org.tag_names]
    return org


def delete_organization(actor, org: Organization) -> None:
    # Its contacts and pledges refuse it (registered by those domains, which stand on this one).
    reasons = deletion.blockers("organization", org)
    if reasons:
        raise OperationError(reasons[0])
    accounts = db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(User.organization_id == org.id)
    )
    if accounts:
        raise OperationError(
            f"{org.name} has {accounts} representative account{'s' if accounts != 1 else ''}; "
            "unlink or remove them first. Nothing was deleted."
        )
    deletion.detach(actor, "organization", org.id)
    audit.delete_recorded(actor, org, "organization", summary=f"Deleted {org.name}")
