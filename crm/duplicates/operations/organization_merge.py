"""Merging two organizations.

The same tag or case study on both is kept once; when both have a live pledge for the same
standard version the merge is refused (each holds a commitment someone made; a lead decides
which goes), and the message says which.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crm.duplicates.models import DuplicateKind
from crm.duplicates.operations.merging import (
    ORGANIZATION_FIELDS,
    Choice,
    Conflicts,
    MergeTrail,
    Moved,
    check_pair,
    repoint,
    retarget_tasks,
    union,
    values_after_merge,
)
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind
from crm.organizations.operations import name_key
from crm.pledges.models import Pledge, PledgeStatus


def organization_conflicts(survivor: Organization, other: Organization) -> Conflicts:
    refusals: list[str] = []
    live = [s for s in PledgeStatus if s is not PledgeStatus.WITHDRAWN]
    clashes = db.session.scalars(
        sa.select(Pledge).where(
            Pledge.organization_id == other.id,
            Pledge.status.in_(live),
            Pledge.standard_id.in_(
                sa.select(Pledge.standard_id).where(
                    Pledge.organization_id == survivor.id, Pledge.status.in_(live)
                )
            ),
        )
    ).all()
    for pledge in clashes:
        refusals.append(
            f"Both have a live pledge for standard {pledge.standard.version}; an organization "
            "holds one pledge per version. Withdraw one of the two pledges first."
        )
    return Conflicts(refusals, [])


def merge_organizations(
    actor: Any,
    survivor: Organization,
    other: Organization,
    choices: dict[str, Choice] | None = None,
    *,
    expected_versions: tuple[int | None, int | None] = (None, None),
) -> Moved:
    """Merge `other` into `survivor`; `other` is deleted."""
    check_pair(survivor, other, "organization", expected_versions)
    conflicts = organization_conflicts(survivor, other)
    values = values_after_merge(survivor, other, ORGANIZATION_FIELDS, choices, conflicts.refusals)
    other_id, survivor_id, other_label = other.id, survivor.id, other.name
    trail = MergeTrail.start(DuplicateKind.ORGANIZATION, survivor, other, other_label)
    db.session.flush()

    moved = Moved(counts={}, notes=[])
    moved.counts["contacts"] = repoint("contact", "organization_id", other_id, survivor_id)
    moved.counts["engagements"] = repoint("engagement", "organization_id", other_id, survivor_id)
    moved.counts["pledges"] = repoint("pledge", "organization_id", other_id, survivor_id)
    moved.counts["referrals"] = repoint(
        "endorsement", "referred_organization_id", other_id, survivor_id
    )
    moved.counts["case studies"] = union(
        "case_study_organization", "organization_id", "case_study_id", other_id, survivor_id
    )
    union("organization_tag", "organization_id", "tag_id", other_id, survivor_id)
    moved.counts["representative accounts"] = repoint(
        "user", "organization_id", other_id, survivor_id
    )
    moved.counts["tasks"] = retarget_tasks("organization", other_id, survivor_id)

    trail.delete_other(actor, Organization, summary=f"Merged into {survivor.name} (#{survivor_id})")
    survivor = db.session.get_one(Organization, survivor_id)
    for name, value in values.items():
        setattr(survivor, name, value)
    survivor.kind = OrganizationKind(survivor.kind)
    survivor.name_key = name_key(survivor.name)
    trail.record_survivor(actor, survivor, moved, derived=("name_key",))
    return moved
