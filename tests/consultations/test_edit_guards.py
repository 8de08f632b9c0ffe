"""What no longer changes on a consultation: who answers and the version once anyone has
answered (a saved draft counts), the dates once a version was published from it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.consultations.models import Access, Consultation
from crm.consultations.operations import consultations as consultation_ops
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import publishing as publish_ops
from crm.consultations.operations import responses as response_ops
from crm.core.errors import OperationError
from crm.standards.models import Standard


def fields_of(consultation, **overrides):
    values = dict(
        standard_id=consultation.standard_id, title=consultation.title,
        opens_on=consultation.opens_on, closes_on=consultation.closes_on,
        access=consultation.access.value, segment_id=consultation.segment_id,
    )  # fmt: skip
    values.update(overrides)
    return consultation_ops.ConsultationFields(**values)


@pytest.fixture
def segment(db, make_contact, make_segment):
    from crm.tags.operations import tags_from_names

    make_contact("Invited", email="invited@example.org").tags = tags_from_names(["advisory"])
    db.session.commit()
    return make_segment(["advisory"])


def save_draft(consultation, email="draft@example.org"):
    """A response saved, not submitted."""
    response_ops.respond_public(
        consultation,
        response_ops.Respondent(name="Draft Person", email=email),
        [response_ops.AnswerFields(principle_id=consultation.standard.principles[0].id,
                                 mark="weakness", comment="Half written")],
        submit=False,
    )  # fmt: skip


def test_who_answers_changes_freely_until_someone_answers(
    make_consultation, segment, make_user, db
):
    consultation = make_consultation()
    lead = make_user("lead")
    consultation_ops.update_consultation(
        lead, consultation, fields_of(consultation, access="invitation", segment_id=segment.id)
    )
    db.session.commit()
    assert consultation.access is Access.INVITATION
    consultation_ops.update_consultation(
        lead, consultation, fields_of(consultation, access="public")
    )
    db.session.commit()
    assert consultation.access is Access.PUBLIC and consultation.segment_id is None


def test_a_saved_draft_fixes_who_answers_and_the_version(
    make_consultation, segment, make_user, db, current
):
    from crm.standards import operations as standard_ops

    consultation = make_consultation()
    lead = make_user("lead")
    save_draft(consultation)
    db.session.commit()
    with pytest.raises(OperationError, match="who answers cannot change") as refused:
        consultation_ops.update_consultation(
            lead, consultation, fields_of(consultation, access="invitation", segment_id=segment.id)
        )
    assert refused.value.field == "access" and "“Public”" in refused.value.message
    assert "saved drafts count too" in refused.value.message
    db.session.rollback()
    draft = standard_ops.supersede(make_user("admin"), current, "2.0", "Two")
    db.session.commit()
    with pytest.raises(OperationError, match="the version cannot change") as refused:
        consultation_ops.update_consultation(lead, consultation, fields_of(consultation,
                                                                     standard_id=draft.id))  # fmt: skip
    assert refused.value.field == "standard_id"
    db.session.rollback()
    db.session.refresh(consultation)
    assert consultation.access is Access.PUBLIC and consultation.standard_id == current.id
    # Everything else still changes, dates included.
    later = consultation.closes_on + timedelta(days=7)
    consultation_ops.update_consultation(
        lead, consultation, fields_of(consultation, title="1.0 review, longer", closes_on=later)
    )
    db.session.commit()
    assert consultation.closes_on == later and consultation.title == "1.0 review, longer"


def test_the_edit_page_says_why_who_answers_cannot_change(
    client, as_role, db, make_consultation, segment
):
    consultation = make_consultation()
    save_draft(consultation)
    db.session.commit()
    as_role("lead")
    page = client.get(f"/consultations/{consultation.id}/edit").get_data(as_text=True)
    assert "People have answered, so who answers no longer changes." in page
    response = client.post(
        f"/consultations/{consultation.id}/edit",
        data={"title": consultation.title, "standard_id": consultation.standard_id,
              "access": "invitation", "segment_id": segment.id,
              "opens_on": consultation.opens_on.isoformat(),
              "closes_on": consultation.closes_on.isoformat(),
              "version": consultation.version},
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "so who answers cannot" in body and "Nothing was saved yet" in body
    db.session.expire_all()
    assert db.session.get(Consultation, consultation.id).access is Access.PUBLIC


def published(db, make_consultation, make_user, current):
    """A closed consultation version 2.0 was published from."""
    for principle in current.principles:
        principle.text = principle.text or f"The text of {principle.code}."
    consultation = make_consultation(opens=-30, closes=-1)
    admin = make_user("admin")
    rec = draft_ops.add_recommendation(
        admin, consultation,
        draft_ops.RecommendationFields(text="New P1", principle_id=current.principles[0].id),
    )  # fmt: skip
    draft_ops.set_accepted(admin, rec, True)
    publish_ops.publish_version(admin, consultation, publish_ops.PublishFields("2.0", "Two"))
    db.session.commit()
    return consultation


def test_once_published_it_cannot_be_reopened_and_its_dates_stay(
    make_consultation, make_user, db, current
):
    consultation = published(db, make_consultation, make_user, current)
    lead = make_user("lead")
    opens, closes = consultation.opens_on, consultation.closes_on
    for overrides, field in [
        ({"closes_on": date.today() + timedelta(days=10)}, "closes_on"),  # reopened
        ({"closes_on": closes - timedelta(days=1)}, "closes_on"),
        ({"opens_on": opens - timedelta(days=1)}, "opens_on"),
    ]:
        with pytest.raises(OperationError, match="Version 2.0 was published") as refused:
            consultation_ops.update_consultation(
                lead, consultation, fields_of(consultation, **overrides)
            )
        assert refused.value.field == field and "dates no longer change" in refused.value.message
        db.session.rollback()
    with pytest.raises(OperationError, match="cannot be reopened"):
        consultation_ops.update_consultation(
            lead, consultation, fields_of(consultation, closes_on=date.today() + timedelta(days=3))
        )
    db.session.rollback()
    db.session.refresh(consultation)
    assert (consultation.opens_on, consultation.closes_on) == (opens, closes)
    assert not consultation.is_open
    # The title and introduction still change.
    consultation_ops.update_consultation(
        lead, consultation, fields_of(consultation, title="2.0 draft")
    )
    db.session.commit()
    assert consultation.title == "2.0 draft"


def test_the_edit_page_refuses_reopening_a_published_consultation(
    client, as_role, db, make_consultation, make_user, current
):
    consultation = published(db, make_consultation, make_user, current)
    as_role("lead")
    page = client.get(f"/consultations/{consultation.id}/edit").get_data(as_text=True)
    assert "Version 2.0 was published from it, so its dates no longer change." in page
    response = client.post(
        f"/consultations/{consultation.id}/edit",
        data={"title": consultation.title, "standard_id": consultation.standard_id,
              "access": "public", "opens_on": consultation.opens_on.isoformat(),
              "closes_on": (date.today() + timedelta(days=14)).isoformat(),
              "version": consultation.version},
    )  # fmt: skip
    assert response.status_code == 422
    assert "so it cannot be reopened" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Consultation, consultation.id).phase().value == "closed"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Standard)) == 2


def test_someone_who_started_answering_keeps_their_link_when_the_segment_changes(
    make_consultation, segment, make_segment, make_user, db
):
    """A lead narrowing the segment (or a tag removed) must not lock out a draft in progress;
    someone who never started is out as soon as they leave the segment."""
    from crm.contacts.models import Contact

    consultation = make_consultation(access="invitation", segment=segment)
    invited = db.session.scalar(sa.select(Contact).where(Contact.email == "invited@example.org"))
    principle = consultation.standard.principles[0]
    response_ops.respond(
        consultation, invited,
        [response_ops.AnswerFields(principle_id=principle.id, mark="strength", comment="Started")],
        submit=False,
    )  # fmt: skip
    db.session.commit()
    from crm.tags.operations import tags_from_names

    tags_from_names(["someone-else"])
    db.session.commit()
    other = make_segment(["someone-else"], name="Narrower")
    consultation_ops.update_consultation(
        make_user("lead"), consultation, fields_of(consultation, segment_id=other.id)
    )
    db.session.commit()
    assert link_ops.is_invited(consultation, invited)
    response, outcome = response_ops.respond(
        consultation, invited,
        [response_ops.AnswerFields(principle_id=principle.id, mark="strength", comment="Finished")],
        submit=True,
    )  # fmt: skip
    db.session.commit()
    assert outcome is response_ops.Outcome.SUBMITTED and response.submitted_at is not None

    newcomer = Contact(first_name="New", last_name="Person", email="new@example.org")
    db.session.add(newcomer)
    db.session.commit()
    assert not link_ops.is_invited(consultation, newcomer)
    with pytest.raises(OperationError, match="not for this consultation"):
        response_ops.respond(consultation, newcomer, [], submit=False)
