"""The migration seeds codes and titles only: an admin can still write the missing texts of a
version pledges already use, and nothing else of it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.pledges.models import Pledge
from crm.standards import operations
from crm.standards.models import Principle, Standard, StandardStatus


@pytest.fixture
def used_standard(db, make_org):
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    db.session.add(Pledge(organization_id=make_org().id, standard_id=standard.id, status="active"))
    db.session.flush()
    return standard


def test_a_missing_text_can_be_written_on_a_version_in_use(client, as_role, used_standard, db):
    as_role("admin")
    p1 = used_standard.principles[0]
    page = client.get(f"/standards/{used_standard.id}").get_data(as_text=True)
    assert "Write it" in page
    response = client.post(
        f"/standards/{used_standard.id}/principles/{p1.id}/edit",
        data={
            "code": p1.code,
            "title": p1.title,
            "text": "Technology serves workers' interests from the start.",
            "version": str(operations.principle_fingerprint(p1)),
        },
    )
    assert response.status_code == 302
    db.session.refresh(p1)
    assert p1.text == "Technology serves workers' interests from the start."


def test_on_a_version_in_use_nothing_else_changes(used_standard, db):
    p1, p2 = used_standard.principles[:2]
    with pytest.raises(OperationError, match="only the missing text"):
        operations.update_principle(
            None, p1, operations.PrincipleFields(code=p1.code, title="Renamed", text="Some text")
        )
    p2.text = "Already written."
    db.session.flush()
    with pytest.raises(OperationError, match="is in use"):
        operations.update_principle(
            None, p2, operations.PrincipleFields(code=p2.code, title=p2.title, text="Rewritten.")
        )
    assert db.session.get(Principle, p1.id).title != "Renamed"


def test_consultation_answers_freeze_the_version_they_answer(db):
    from datetime import date

    from crm.consultations.models import Answer, Consultation, Response
    from crm.standards.queries import usage_of

    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    consultation = Consultation(standard_id=standard.id, title="1.0 review", access="public",
                                opens_on=date.today(), closes_on=date.today())  # fmt: skip
    db.session.add(consultation)
    db.session.flush()
    response = Response(consultation_id=consultation.id, source="public", name="R")
    response.answers.append(Answer(principle_id=standard.principles[0].id, comment="Good"))
    db.session.add(response)
    db.session.flush()
    usage = usage_of(standard)
    assert usage.in_use and "1 consultation answer" in usage.label
    with pytest.raises(OperationError, match="is in use"):
        operations.remove_principle(None, standard.principles[0])
