"""Saved segments: creating, editing and deleting one (a segment in use by a campaign is
kept). What a segment's criteria mean is `crm.campaigns.segments`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.campaigns import segments
from crm.campaigns.models import Campaign, Segment
from crm.core.errors import OperationError
from crm.core.validation import clean_text
from crm.extensions import db


@dataclass
class SegmentFields:
    name: str
    description: str | None = None
    criteria: segments.Criteria | dict = field(default_factory=segments.Criteria)


def _apply_segment(segment: Segment, fields: SegmentFields) -> None:
    segment.name = clean_text(fields.name, "name", "Name", 200, required=True)
    segment.description = clean_text(fields.description, "description", "Description", 500)
    segment.criteria = segments.clean_criteria(fields.criteria).as_dict()


def create_segment(actor, fields: SegmentFields) -> Segment:
    segment = Segment()
    _apply_segment(segment, fields)
    audit.add_recorded(actor, segment, "segment", summary=f"Created {segment.name}")
    return segment


def update_segment(
    actor, segment: Segment, fields: SegmentFields, *, expected_version: int | None = None
) -> None:
    with audit.updating(actor, segment, "segment", expected_version=expected_version):
        _apply_segment(segment, fields)


def delete_segment(actor, segment: Segment) -> None:
    used = db.session.scalar(
        sa.select(sa.func.count()).select_from(Campaign).where(Campaign.segment_id == segment.id)
    )
    if used:
        raise OperationError(
            f"{used} campaign{'s use' if used != 1 else ' uses'} this segment, so it is kept."
        )
    audit.delete_recorded(actor, segment, "segment", summary=f"Deleted {segment.name}")
