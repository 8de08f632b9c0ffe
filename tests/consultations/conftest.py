from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.standards.models import Standard, StandardStatus


@pytest.fixture
def current(db):
    return db.session.scalar(sa.select(Standard).where(Standard.status == StandardStatus.CURRENT))


@pytest.fixture
def make_consultation(db, make_user, current):
    from crm.consultations.operations import consultations as consultation_ops

    def make(access="public", segment=None, opens=-1, closes=10, **kw):
        consultation = consultation_ops.create_consultation(
            make_user("lead"),
            consultation_ops.ConsultationFields(
                standard_id=kw.pop("standard_id", current.id),
                title=kw.pop("title", "1.0 review"),
                opens_on=date.today() + timedelta(days=opens),
                closes_on=date.today() + timedelta(days=closes),
                access=access,
                segment_id=segment.id if segment else None,
            ),
        )
        db.session.commit()
        return consultation

    return make


@pytest.fixture
def make_segment(db, make_user):
    from crm.campaigns.operations import saved_segments as segment_ops

    def make(tags, name="Invited"):
        segment = segment_ops.create_segment(
            make_user("lead"),
            segment_ops.SegmentFields(name=name, criteria={"tags": tags, "consent_only": False}),
        )
        db.session.commit()
        return segment

    return make


@pytest.fixture
def answer_form():
    def build(consultation, marks: dict | None = None, **overrides):
        data = {
            "name": "Rina Akter",
            "email": "rina@example.org",
            "organization": "Gazipur Workers Union",
            "organization_kind": "worker_organization",
            "country": "BD",
            "action": "submit",
        }
        principles = consultation.standard.principles
        for key, (mark, comment) in (
            marks or {f"p{principles[0].id}": ("weakness", "Too vague")}
        ).items():
            data[f"mark-{key}"] = mark
            data[f"comment-{key}"] = comment
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return build
