"""Editing and deleting draft texts (recommendations): free until someone answers; once
answered, not deleted, and not edited while the consultation is open; never after a version
is published from it. Every change is in the audit trail."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.consultations import queries
from crm.consultations.models import Recommendation
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import publishing as publish_ops
from crm.consultations.operations import responses as response_ops
from crm.core.errors import OperationError


def add(lead, consultation, **fields):
    fields.setdefault("text", "Say who answers")
    rec = draft_ops.add_recommendation(lead, consultation, draft_ops.RecommendationFields(**fields))
    return rec


def answer_rec(consultation, rec, email="r@example.org", submit=True):
    response_ops.respond_public(
        consultation,
        response_ops.Respondent(name="Rina Akter", email=email),
        [response_ops.AnswerFields(recommendation_id=rec.id, mark="weakness", comment="Unclear")],
        submit=submit,
    )


def close(db, consultation):
    consultation.opens_on = date.today() - timedelta(days=30)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()


def trail(db, consultation, starts):
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == "consultation", AuditEntry.object_id == consultation.id,
               AuditEntry.summary.startswith(starts))
        .order_by(AuditEntry.id)
    ).all()  # fmt: skip


def form_of(rec, **overrides):
    data = {"principle_id": rec.principle_id or "", "new_code": rec.new_code or "",
            "new_title": rec.new_title or "", "text": rec.text, "version": rec.version}  # fmt: skip
    data.update(overrides)
    return data


def test_a_lead_edits_a_draft_text_nobody_answered(client, as_role, db, make_consultation):
    consultation = make_consultation()
    lead = as_role("lead")
    p1, p2 = consultation.standard.principles[:2]
    rec = add(lead, consultation, principle_id=p1.id)
    new = add(lead, consultation, text="Data rights", new_code="P9", new_title="Data")
    db.session.commit()
    detail = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    assert f"/consultations/recommendations/{rec.id}/edit" in detail
    assert f"/consultations/recommendations/{rec.id}/delete" in detail
    page = client.get(f"/consultations/recommendations/{rec.id}/edit").get_data(as_text=True)
    assert "Say who answers" in page and f'<option selected value="{p1.id}">' in page
    assert "nobody has answered it yet" in page

    response = client.post(
        f"/consultations/recommendations/{rec.id}/edit",
        data=form_of(rec, principle_id=p2.id, text="Say who answers, and how"),
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("#draft")
    db.session.refresh(rec)
    assert (rec.principle_id, rec.text) == (p2.id, "Say who answers, and how")
    [entry] = trail(db, consultation, "Edited draft text")
    assert entry.actor_id == lead.id and entry.summary == "Edited draft text: Recommendation on P2"
    assert entry.changes == {
        "about": ["Recommendation on P1", "Recommendation on P2"],
        "text": ["Say who answers", "Say who answers, and how"],
    }
    # A new principle keeps its own code; it cannot take another's.
    ok = client.post(f"/consultations/recommendations/{new.id}/edit",
                     data=form_of(new, new_title="Data and consent"))  # fmt: skip
    assert ok.status_code == 302
    taken = client.post(f"/consultations/recommendations/{new.id}/edit",
                        data=form_of(new, new_code="P1"))  # fmt: skip
    assert taken.status_code == 422 and "already a principle" in taken.get_data(as_text=True)
    # A form loaded before someone else's save is refused, not saved over it.
    db.session.refresh(new)
    stale = client.post(f"/consultations/recommendations/{new.id}/edit",
                        data=form_of(new, text="Old tab", version=new.version - 1))  # fmt: skip
    assert stale.status_code == 409
    db.session.refresh(new)
    assert new.text == "Data rights" and new.new_title == "Data and consent"
    # The form still has what was typed, and saving it again replaces the other save.
    again = re.search(r'name="version" type="hidden" value="(\d+)"', stale.get_data(as_text=True))
    assert "Old tab" in stale.get_data(as_text=True) and int(again.group(1)) == new.version
    # Saving without a change records nothing.
    draft_ops.update_recommendation(lead, new, draft_ops.RecommendationFields(
        text=new.text, new_code=new.new_code, new_title=new.new_title))  # fmt: skip
    assert len(trail(db, consultation, "Edited draft text")) == 2


def test_a_lead_deletes_a_draft_text_nobody_answered(client, as_role, db, make_consultation):
    consultation = make_consultation()
    lead = as_role("lead")
    rec = add(lead, consultation, text="Workers own their data", new_code="P9", new_title="Data")
    db.session.commit()
    rec_id = rec.id
    response = client.post(f"/consultations/recommendations/{rec_id}/delete")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Recommendation, rec_id) is None
    [entry] = trail(db, consultation, "Deleted draft text")
    assert entry.summary == "Deleted draft text: New principle P9 · Data"
    assert entry.changes == {"text": ["Workers own their data", None]}
    assert entry.actor_id == lead.id


def test_an_answered_draft_text_is_not_deleted_and_waits_for_the_close_to_change(
    client, as_role, db, make_consultation
):
    consultation = make_consultation()
    lead = as_role("lead")
    rec = add(lead, consultation, text="Data rights", new_code="P9", new_title="Data")
    db.session.commit()
    answer_rec(consultation, rec, submit=False)  # a saved draft counts
    db.session.commit()
    assert queries.answers_on(rec) == 1

    detail = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    assert f"/consultations/recommendations/{rec.id}/delete" not in detail
    assert f"/consultations/recommendations/{rec.id}/edit" not in detail
    assert (
        "People have answered it, so it cannot be deleted; it can be edited once the consultation has closed."
        in detail
    )
    refused = client.post(f"/consultations/recommendations/{rec.id}/delete", follow_redirects=True)
    body = refused.get_data(as_text=True)
    assert "cannot be deleted: 1 answer is about it and would be lost" in body
    assert "edit it once the consultation has closed" in body and "Nothing was deleted" in body
    page = client.get(f"/consultations/recommendations/{rec.id}/edit").get_data(as_text=True)
    assert (
        'data-testid="locked"' in page and "does not change while the consultation is open" in page
    )
    edit = client.post(
        f"/consultations/recommendations/{rec.id}/edit", data=form_of(rec, text="Other")
    )
    assert edit.status_code == 422 and "1 answer is about it" in edit.get_data(as_text=True)
    db.session.expire_all()
    rec = db.session.get(Recommendation, rec.id)
    assert rec.text == "Data rights"

    # Closed: the draft is revised from what people said; still not deleted.
    close(db, consultation)
    detail = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    assert f"/consultations/recommendations/{rec.id}/edit" in detail
    assert "People have answered it, so it cannot be deleted: edit it instead." in detail
    with pytest.raises(OperationError, match="To change it, edit it instead"):
        draft_ops.delete_recommendation(lead, rec)
    db.session.rollback()
    page = client.get(f"/consultations/recommendations/{rec.id}/edit").get_data(as_text=True)
    assert "1 answer was given on the present wording" in page
    saved = client.post(f"/consultations/recommendations/{rec.id}/edit",
                        data=form_of(rec, text="Workers own and control their data"))  # fmt: skip
    assert saved.status_code == 302
    db.session.refresh(rec)
    assert rec.text == "Workers own and control their data"
    [entry] = trail(db, consultation, "Edited draft text")
    assert entry.summary == "Edited draft text: New principle P9 · Data (after 1 answer)"
    assert entry.changes["text"] == ["Data rights", "Workers own and control their data"]
    assert queries.answers_on(rec) == 1  # the answers stay with it


def test_before_it_opens_an_answered_text_can_be_edited(make_consultation, make_user, db):
    consultation = make_consultation()
    lead = make_user("lead")
    rec = add(lead, consultation, text="Data rights", new_code="P9", new_title="Data")
    db.session.commit()
    answer_rec(consultation, rec)
    db.session.commit()
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(OperationError, match="while the consultation is open"):
        draft_ops.update_recommendation(
            lead, rec, draft_ops.RecommendationFields("x", new_code="P9", new_title="Data")
        )
    db.session.rollback()
    draft_ops.update_recommendation(
        lead, rec, draft_ops.RecommendationFields("x", new_code="P9", new_title="Data"),
        today=date.today() - timedelta(days=5),  # not yet open on that day
    )  # fmt: skip
    assert rec.text == "x" and tomorrow  # the phase is by day


def test_only_those_who_manage_consultations_edit_or_delete_draft_texts(
    app, client, as_role, db, make_consultation, make_user
):
    consultation = make_consultation()
    rec = add(make_user("lead"), consultation, new_code="P9", new_title="Data")
    db.session.commit()
    as_role("volunteer")
    assert client.get(f"/consultations/recommendations/{rec.id}/edit").status_code == 403
    assert client.post(f"/consultations/recommendations/{rec.id}/edit",
                       data=form_of(rec, text="x")).status_code == 403  # fmt: skip
    assert client.post(f"/consultations/recommendations/{rec.id}/delete").status_code == 403
    as_role("lead")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/consultations/recommendations/{rec.id}/delete").status_code == 400
        forged = client.post(f"/consultations/recommendations/{rec.id}/edit",
                             data=form_of(rec, text="x", csrf_token="forged"))  # fmt: skip
        assert forged.status_code in (400, 422)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    rec = db.session.get(Recommendation, rec.id)
    assert rec is not None and rec.text == "Say who answers"
    assert client.get("/consultations/recommendations/987654/edit").status_code == 404


def test_once_published_draft_texts_neither_change_nor_go(
    make_consultation, make_user, db, current
):
    for principle in current.principles:
        principle.text = principle.text or f"The text of {principle.code}."
    consultation = make_consultation()
    admin = make_user("admin")
    rec = add(admin, consultation, principle_id=current.principles[0].id)
    other = add(admin, consultation, text="Unused", new_code="P9", new_title="Data")
    draft_ops.set_accepted(admin, rec, True)
    close(db, consultation)
    publish_ops.publish_version(admin, consultation, publish_ops.PublishFields("2.0", "Two"))
    db.session.commit()
    with pytest.raises(OperationError, match="no longer changes"):
        draft_ops.update_recommendation(
            admin, rec, draft_ops.RecommendationFields("x", principle_id=rec.principle_id)
        )
    db.session.rollback()
    with pytest.raises(OperationError, match="no longer changes"):
        draft_ops.delete_recommendation(admin, other)
    db.session.rollback()
    assert (
        draft_ops.draft_text_locked(rec)
        == "A version was published from this draft; it no longer changes."
    )


def test_an_accepted_text_whose_principle_was_removed_is_fixed_through_its_edit_link(
    client, login, db, make_consultation, make_user, current
):
    """Consulting on a draft version whose principle is then removed: publishing says to use
    the Edit link, the publish page has it, and after the edit the version is published."""
    from crm.standards import operations as standard_ops

    for principle in current.principles:
        principle.text = principle.text or f"The text of {principle.code}."
    admin = make_user("admin")
    draft = standard_ops.supersede(admin, current, "1.5", "One and a half")
    db.session.commit()
    consultation = make_consultation(standard_id=draft.id)
    rec = add(admin, consultation, text="Better P8", principle_id=draft.principles[-1].id)
    draft_ops.set_accepted(admin, rec, True)
    standard_ops.remove_principle(admin, draft.principles[-1])
    close(db, consultation)
    db.session.refresh(rec)
    assert rec.principle_id is None and rec.label == "Draft text whose principle was removed"
    with pytest.raises(OperationError, match="1 accepted draft text no longer belongs") as refused:
        publish_ops.publish_version(admin, consultation, publish_ops.PublishFields("2.0", "Two"))
    assert "use the Edit link beside it" in refused.value.message
    db.session.rollback()
    login(admin)
    page = client.get(f"/consultations/{consultation.id}/publish").get_data(as_text=True)
    assert f"/consultations/recommendations/{rec.id}/edit" in page
    posted = client.post(f"/consultations/{consultation.id}/publish",
                         data={"new_version": "2.0", "title": "Two"})  # fmt: skip
    assert "use the Edit link beside it" in posted.get_data(as_text=True)
    client.post(f"/consultations/recommendations/{rec.id}/edit",
                data=form_of(rec, new_code="P9", new_title="Grievances"))  # fmt: skip
    published = client.post(f"/consultations/{consultation.id}/publish",
                            data={"new_version": "2.0", "title": "Two"})  # fmt: skip
    assert published.status_code == 302
