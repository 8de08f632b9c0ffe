"""Two leads tagging the same comment: the second save, made from a page that showed older
themes, is refused and says what the themes are now; nothing is overwritten."""

from __future__ import annotations

import re

import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.auth.sessions import start as start_session
from crm.consultations.models import Answer
from crm.consultations.operations import comments as comment_ops
from crm.consultations.operations import responses as response_ops
from crm.core.errors import ConflictError


def one_comment(db, consultation):
    response_ops.respond_public(
        consultation,
        response_ops.Respondent(name="Rina Akter", email="rina@example.org"),
        [response_ops.AnswerFields(principle_id=consultation.standard.principles[0].id,
                                 mark="weakness", comment="Too vague")],
        submit=True,
    )  # fmt: skip
    db.session.commit()
    return db.session.scalar(sa.select(Answer))


def seen_on(page: str, answer_id: int) -> str:
    form = page[page.index(f"/consultations/answers/{answer_id}/themes") :]
    return re.search(r'name="seen" value="([^"]*)"', form).group(1)


def test_the_second_of_two_leads_tagging_at_once_is_refused(app, db, make_consultation, make_user):
    consultation = make_consultation()
    answer = one_comment(db, consultation)
    url = f"/consultations/{consultation.id}/comments"
    first, second = app.test_client(), app.test_client()  # two leads, two browsers
    for client in (first, second):
        with client.session_transaction() as session:
            session["_user_id"] = start_session(make_user("lead"))
            session["_fresh"] = True
    page_a = first.get(url).get_data(as_text=True)
    page_b = second.get(url).get_data(as_text=True)
    assert seen_on(page_a, answer.id) == seen_on(page_b, answer.id) == ""

    saved = first.post(
        f"/consultations/answers/{answer.id}/themes",
        data={"themes": "Clarity, scope", "seen": seen_on(page_a, answer.id)},
        follow_redirects=True,
    )
    assert "Themes saved." in saved.get_data(as_text=True)
    refused = second.post(
        f"/consultations/answers/{answer.id}/themes",
        data={"themes": "wages", "seen": seen_on(page_b, answer.id)},
        follow_redirects=True,
    )
    body = refused.get_data(as_text=True)
    assert (
        "Someone else changed the themes of this comment meanwhile: now clarity, scope. "
        "Your change was not saved. You had typed: wages."
    ) in body
    # The page it lands on shows the current themes, ready to change from there.
    assert 'value="clarity, scope"' in body and seen_on(body, answer.id) == "clarity,scope"
    db.session.refresh(answer)
    assert answer.theme_list == ["clarity", "scope"]
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.summary == f"Themes of comment {answer.id}")
    ).all()
    assert [e.changes for e in entries] == [{"themes": [None, "clarity,scope"]}]

    # From the fresh page, the second lead's change goes through.
    again = second.post(
        f"/consultations/answers/{answer.id}/themes",
        data={"themes": "clarity, scope, wages", "seen": seen_on(body, answer.id)},
        follow_redirects=True,
    )
    assert "Themes saved." in again.get_data(as_text=True)
    db.session.refresh(answer)
    assert answer.theme_list == ["clarity", "scope", "wages"]


def test_the_check_is_in_the_operation(db, make_consultation, make_user):
    import pytest

    consultation = make_consultation()
    answer = one_comment(db, consultation)
    lead = make_user("lead")
    comment_ops.set_themes(lead, answer, "grievance", seen="")
    db.session.commit()
    with pytest.raises(ConflictError, match="now grievance. Your change was not saved."):
        comment_ops.set_themes(lead, answer, "", seen="")
    db.session.rollback()
    # Clearing the themes, from what is there now, works; a stale clear says "no themes".
    comment_ops.set_themes(lead, answer, "", seen="grievance")
    db.session.commit()
    db.session.refresh(answer)
    assert answer.themes is None
    with pytest.raises(ConflictError, match="now no themes"):
        comment_ops.set_themes(lead, answer, "x", seen="grievance")
    db.session.rollback()
    # A caller that saw nothing (a script, the CLI) sets the themes as before.
    comment_ops.set_themes(lead, answer, "Access")
    db.session.commit()
    db.session.refresh(answer)
    assert answer.themes == "access"
