"""Answers on draft recommendations
(on a principle, and proposing a new one) from the form to the summary and the downloads; the
summary's counts by kind and country, hand-computed, with drafts left out; forged posts to an
invitation consultation's public address; a closed consultation's personal link."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import sqlalchemy as sa

from crm.consultations import queries
from crm.consultations.models import Answer, Response
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import responses as response_ops
from crm.contacts.models import Contact


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def with_drafts(make_consultation, make_user, db):
    consultation = make_consultation()
    lead = make_user("lead")
    p1 = consultation.standard.principles[0]
    on_p1 = draft_ops.add_recommendation(
        lead, consultation, draft_ops.RecommendationFields(text="Name who answers", principle_id=p1.id)
    )  # fmt: skip
    new = draft_ops.add_recommendation(
        lead, consultation,
        draft_ops.RecommendationFields(text="Workers own their data", new_code="P9", new_title="Data"),
    )  # fmt: skip
    db.session.commit()
    return consultation, on_p1, new


def test_the_public_answers_draft_recommendations_and_they_reach_summary_and_downloads(
    client, as_role, db, make_consultation, make_user, answer_form
):
    consultation, on_p1, new = with_drafts(make_consultation, make_user, db)
    page = client.get(f"/c/{consultation.id}").get_data(as_text=True)
    assert f'name="mark-r{on_p1.id}"' in page and f'name="mark-r{new.id}"' in page
    assert "Proposed new principle P9 · Data" in page and "Workers own their data" in page
    p1 = consultation.standard.principles[0]
    marks = {
        f"p{p1.id}": ("weakness", "P1 is vague"),
        f"r{on_p1.id}": ("strength", "Naming who answers helps"),
        f"r{new.id}": ("recommendation", "Add consent for data"),
    }
    response = client.post(f"/c/{consultation.id}", data=answer_form(consultation, marks))
    assert "result=public" in response.headers["Location"]
    stored = db.session.scalar(sa.select(Response))
    by_rec = {a.recommendation_id: a for a in stored.answers if a.recommendation_id}
    assert by_rec[on_p1.id].mark.value == "strength" and by_rec[on_p1.id].principle_id is None
    assert by_rec[new.id].comment == "Add consent for data"
    assert len(stored.answers) == 3

    summary = queries.summary(consultation)
    splits = {(kind, int(item)): split for kind, item, split in summary.items}
    assert splits[("r", on_p1.id)].counts == {"strength": 1}
    assert splits[("r", new.id)].counts == {"recommendation": 1}
    assert splits[("p", p1.id)].counts == {"weakness": 1}
    assert splits[("r", new.id)].comments == 1 and splits[("r", new.id)].open == 1

    as_role("lead")
    one = client.get(f"/consultations/{consultation.id}/comments?recommendation={new.id}")
    body = one.get_data(as_text=True)
    assert "Add consent for data" in body
    assert "P1 is vague" not in body and "Naming who answers helps" not in body
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/consultations/{consultation.id}/comments.csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    items = {r["Comment"]: r["Principle or recommendation"] for r in rows}
    assert items == {
        "P1 is vague": p1.label,
        "Naming who answers helps": "Recommendation on P1",
        "Add consent for data": "New principle P9 · Data",
    }
    book = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/consultations/{consultation.id}/comments.xlsx").data)
    )
    sheet = book.active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    values = [dict(zip(header, (c.value for c in row), strict=True))
              for row in sheet.iter_rows(min_row=2)]  # fmt: skip
    assert {v["Comment"]: v["Principle or recommendation"] for v in values} == items
    assert {v["Respondent"] for v in values} == {"Respondent 1"}


def test_an_answer_on_another_consultations_draft_text_is_ignored_or_refused(
    client, db, make_consultation, make_user, make_contact, answer_form
):
    """A forged field for a draft text of another consultation stores nothing for it."""
    import pytest

    from crm.core.errors import OperationError

    consultation = make_consultation()
    other, foreign, _new = with_drafts(make_consultation, make_user, db)
    assert other.id != consultation.id
    p1 = consultation.standard.principles[0]
    marks = {f"p{p1.id}": ("weakness", "Mine"), f"r{foreign.id}": ("strength", "Forged")}
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, marks))
    assert [a.comment for a in db.session.scalars(sa.select(Answer))] == ["Mine"]
    with pytest.raises(OperationError, match="not in this consultation"):
        response_ops.respond(
            consultation,
            make_contact(email="direct@example.org"),
            [response_ops.AnswerFields(recommendation_id=foreign.id, mark="strength")],
            submit=True,
        )


def test_summary_counts_by_kind_and_country_by_hand_and_drafts_are_left_out(
    db, make_consultation, make_contact
):
    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]

    def public(email, kind, country, marks, submit=True):
        return response_ops.respond_public(
            consultation,
            response_ops.Respondent(name="Some One", email=email, organization_kind=kind,
                                  country=country),
            [response_ops.AnswerFields(principle_id=p, mark=m, comment=c) for p, m, c in marks],
            submit=submit,
        )  # fmt: skip

    public("a@example.org", "brand", "VN", [(p1.id, "weakness", "a"), (p2.id, "strength", "")])
    public("b@example.org", "brand", "BD", [(p1.id, "weakness", "b")])
    public("c@example.org", "ngo", "BD", [(p1.id, "opportunity", "")])
    public("d@example.org", None, None, [(p2.id, "recommendation", "d")])
    # A saved draft is not a response yet: it counts as a draft only.
    public("e@example.org", "supplier", "KE", [(p1.id, "strength", "e")], submit=False)
    db.session.commit()
    summary = queries.summary(consultation)
    assert (summary.responses, summary.drafts) == (4, 1)
    assert dict(summary.by_kind) == {"Brand / retailer": 2, "NGO": 1, "Not given": 1}
    assert dict(summary.by_country) == {"Bangladesh": 2, "Viet Nam": 1, "Not given": 1}
    splits = {(kind, int(item)): split for kind, item, split in summary.items}
    first, second = splits[("p", p1.id)], splits[("p", p2.id)]
    assert (first.counts, first.total, first.comments) == ({"weakness": 2, "opportunity": 1}, 3, 2)
    assert (second.counts, second.total, second.comments) == (
        {"strength": 1, "recommendation": 1},
        2,
        1,
    )
    # The download holds submitted answers only.
    frame = queries.comments_frame(consultation)
    assert "e" not in set(frame["Comment"]) and len(frame) == 5


def test_a_forged_post_to_an_invitation_consultations_public_address_stores_nothing(
    client, db, make_consultation, make_segment, make_contact, answer_form
):
    from crm.tags.operations import tags_from_names

    invited = make_contact("Ina", email="ina@example.org")
    invited.tags = tags_from_names(["advisory"])
    db.session.commit()
    consultation = make_consultation(access="invitation", segment=make_segment(["advisory"]))
    response = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert response.status_code == 404
    assert count(db, Response) == 0 and count(db, Contact) == 1
    import pytest

    from crm.core.errors import OperationError

    with pytest.raises(OperationError, match="by invitation"):
        response_ops.respond_public(
            consultation,
            response_ops.Respondent(name="X Y", email="x@example.org"),
            [response_ops.AnswerFields(principle_id=consultation.standard.principles[0].id,
                                     mark="strength")],
            submit=True,
        )  # fmt: skip


def test_a_closed_consultation_shows_the_saved_answers_page_without_a_form(
    client, db, make_consultation, make_contact
):
    contact = make_contact(email="late@example.org")
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    response_ops.respond(
        consultation, contact,
        [response_ops.AnswerFields(principle_id=p1.id, mark="strength", comment="Kept")],
        submit=False,
    )  # fmt: skip
    db.session.commit()
    with client.application.test_request_context():
        token = link_ops.personal_token(consultation, contact)
    consultation.opens_on = date.today() - timedelta(days=20)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()
    page = client.get(f"/c/{consultation.id}/r/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "answers are no longer taken" in body
    assert "response-form" not in body
    # The dates read as past, not as if it were still open.
    assert "Was open" in body and "</i> Open " not in body
    import pytest

    from crm.core.errors import OperationError

    with pytest.raises(OperationError, match="closed"):
        response_ops.respond(
            consultation, contact,
            [response_ops.AnswerFields(principle_id=p1.id, mark="weakness", comment="Late")],
            submit=True,
        )  # fmt: skip
    db.session.rollback()
    answer = db.session.scalar(sa.select(Answer))
    assert (answer.mark.value, answer.comment) == ("strength", "Kept")
    assert db.session.scalar(sa.select(Response.submitted_at)) is None


def test_the_comments_filter_offers_the_draft_texts_and_shows_the_one_chosen(
    client, db, make_consultation, make_user, as_role
):
    import re

    consultation, on_p1, new = with_drafts(make_consultation, make_user, db)
    as_role("lead")
    page = client.get(f"/consultations/{consultation.id}/comments?recommendation={new.id}")
    body = page.get_data(as_text=True)
    select = re.search(r'<select[^>]*id="item".*?</select>', body, re.S).group(0)
    values = re.findall(r'<option value="([pr]?\d*)"', select)
    principles = [f"p{p.id}" for p in consultation.standard.principles]
    # Each principle, its draft texts right after it, the proposed new principles last.
    assert values == ["", principles[0], f"r{on_p1.id}", *principles[1:], f"r{new.id}"]
    assert "Recommendation on P1: Name who answers" in select
    assert '<optgroup label="Proposed new principles">' in select
    assert re.search(rf'<option value="r{new.id}" selected>', select)
    assert select.count("selected") == 1
    # The list's own choice filters the same way.
    chosen = client.get(f"/consultations/{consultation.id}/comments?item=r{on_p1.id}")
    assert re.search(rf'<option value="r{on_p1.id}" selected>', chosen.get_data(as_text=True))


def test_the_summary_shows_proposed_new_principles_as_their_own_rows(
    client, db, make_consultation, make_user, as_role
):
    import re

    consultation, on_p1, new = with_drafts(make_consultation, make_user, db)
    as_role("lead")
    body = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    table = re.search(r"<tbody>(.*?)</tbody>", body[body.index("Per principle and") :], re.S)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", table.group(1), re.S)

    def row(text):
        return next(r for r in rows if text in r)

    on_p1_row, new_row = row("Recommendation on P1"), row("New principle P9 · Data")
    assert 'class="recommendation-row"' in on_p1_row and "bi-arrow-return-right" in on_p1_row
    assert "recommendation-row" not in new_row and "bi-arrow-return-right" not in new_row
    heading = rows.index(row("Proposed new principles"))
    assert rows.index(row(">P8")) < heading == rows.index(new_row) - 1
