"""The team's side: setting up, draft texts, reading per principle, themes, addressed, who has
not answered, the summary and its downloads, publishing the next version, permissions."""

from __future__ import annotations

import io
from datetime import date, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from crm.consultations.models import Answer, Consultation, Recommendation
from crm.consultations.operations import comments as comment_ops
from crm.consultations.operations import consultations as consultation_ops
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import publishing as publish_ops
from crm.consultations.operations import responses as response_ops
from crm.core.errors import OperationError
from crm.standards.models import Standard, StandardStatus


def answer(consultation, email, marks, *, named=False, name="Rina Akter", org="Union A",
           kind="worker_organization", country="BD"):  # fmt: skip
    from crm.contacts import operations as contact_ops

    respondent = response_ops.Respondent(
        name=name, email=email, organization=org, organization_kind=kind, country=country,
        named=named,
    )  # fmt: skip
    response, _contact, _outcome = response_ops.respond_public(
        consultation,
        respondent,
        [
            response_ops.AnswerFields(principle_id=p, mark=m, comment=c)
            for p, (m, c) in marks.items()
        ],
        submit=True,
    )
    assert contact_ops  # matched or created by email
    return response


def test_setting_up_refuses_bad_input(make_user, current, db, make_segment):
    lead = make_user("lead")
    base = dict(standard_id=current.id, title="2.0 draft", opens_on=date.today(),
                closes_on=date.today() + timedelta(days=30), access="public")  # fmt: skip
    cases = [
        ({"title": " "}, "Title is required"),
        ({"standard_id": 987654}, "Choose the version"),
        ({"closes_on": date.today() - timedelta(days=1)}, "cannot close before it opens"),
        ({"opens_on": None}, "Give the day it opens"),
        ({"access": "secret"}, "public or by invitation"),
        ({"access": "invitation"}, "Choose the segment"),
    ]
    for overrides, message in cases:
        with pytest.raises(OperationError, match=message):
            consultation_ops.create_consultation(
                lead, consultation_ops.ConsultationFields(**{**base, **overrides})
            )
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consultation)) == 0


def test_a_lead_creates_a_consultation_through_the_page(client, as_role, current, db):
    as_role("lead")
    response = client.post(
        "/consultations/new",
        data={"title": "1.0 review", "standard_id": current.id, "access": "public",
              "opens_on": date.today().isoformat(),
              "closes_on": (date.today() + timedelta(days=20)).isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    consultation = db.session.scalar(sa.select(Consultation))
    assert consultation.title == "1.0 review" and consultation.is_open
    bad = client.post(
        "/consultations/new",
        data={"title": "x", "standard_id": current.id, "access": "invitation",
              "opens_on": date.today().isoformat(), "closes_on": date.today().isoformat()},
    )  # fmt: skip
    assert bad.status_code == 422 and "Choose the segment" in bad.get_data(as_text=True)


def test_draft_texts_link_to_a_principle_of_the_version_or_propose_a_new_one(
    make_consultation, make_user, db
):
    consultation = make_consultation()
    lead = make_user("lead")
    p1 = consultation.standard.principles[0]
    rec = draft_ops.add_recommendation(
        lead, consultation, draft_ops.RecommendationFields(text="Say who", principle_id=p1.id)
    )
    new = draft_ops.add_recommendation(
        lead, consultation,
        draft_ops.RecommendationFields(text="Data rights", new_code="P9", new_title="Data"),
    )  # fmt: skip
    assert rec.label == "Recommendation on P1" and new.label == "New principle P9 · Data"
    db.session.commit()
    for fields, message in [
        (draft_ops.RecommendationFields(text="x", new_code="P1", new_title="T"), "already"),
        (draft_ops.RecommendationFields(text="x", new_code="P9", new_title="T"), "already"),
        (draft_ops.RecommendationFields(text="x", new_code="", new_title="T"), "Code is required"),
        (draft_ops.RecommendationFields(text=" ", principle_id=p1.id), "Text is required"),
        (draft_ops.RecommendationFields(text="x", principle_id=987654), "Choose a principle"),
    ]:
        with pytest.raises(OperationError, match=message):
            draft_ops.add_recommendation(lead, consultation, fields)
        db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recommendation)) == 2


def test_leads_read_per_principle_tag_themes_and_mark_addressed(
    client, as_role, login, make_user, db, make_consultation
):
    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]
    answer(consultation, "a@example.org", {p1.id: ("weakness", "Too vague"),
                                           p2.id: ("strength", "Clear")})  # fmt: skip
    db.session.commit()
    a1 = db.session.scalar(sa.select(Answer).where(Answer.principle_id == p1.id))
    volunteer = as_role("volunteer")
    page = client.get(f"/consultations/{consultation.id}/comments?principle={p1.id}")
    body = page.get_data(as_text=True)
    assert "Too vague" in body and "Clear" not in body
    assert "Respondent 1" in body and "Rina" not in body  # not named without consent
    client.post(
        f"/consultations/answers/{a1.id}/themes", data={"themes": "Clarity, grievance, clarity"}
    )
    db.session.refresh(a1)
    assert a1.theme_list == ["clarity", "grievance"]
    # Volunteers tag, but only leads mark comments addressed.
    assert (
        client.post(f"/consultations/answers/{a1.id}/addressed", data={"note": "x"}).status_code
        == 403
    )
    login(make_user("lead"))
    refused = client.post(f"/consultations/answers/{a1.id}/addressed", data={"note": " "})
    assert refused.status_code == 302
    db.session.refresh(a1)
    assert a1.addressed_at is None
    client.post(f"/consultations/answers/{a1.id}/addressed", data={"note": "P1 now names who"})
    db.session.refresh(a1)
    assert a1.addressed_note == "P1 now names who" and a1.addressed_at is not None
    assert volunteer  # used above
    open_only = client.get(f"/consultations/{consultation.id}/comments?open=1").get_data(
        as_text=True
    )
    assert "Too vague" not in open_only and "Clear" in open_only
    client.post(f"/consultations/answers/{a1.id}/addressed", data={"reopen": "1"})
    db.session.refresh(a1)
    assert a1.addressed_at is None
    with pytest.raises(OperationError, match="at most 50"):
        comment_ops.set_themes(None, a1, "x" * 51)


def test_summary_counts_splits_and_top_themes(client, as_role, db, make_consultation):
    from crm.consultations import queries

    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]
    r1 = answer(
        consultation, "a@example.org", {p1.id: ("weakness", "Vague"), p2.id: ("strength", "Ok")}
    )
    answer(
        consultation, "b@example.org", {p1.id: ("weakness", "Unclear")}, kind="brand", country="VN"
    )
    answer(
        consultation, "c@example.org", {p1.id: ("opportunity", "SMS")}, kind="brand", country="VN"
    )
    comment_ops.set_themes(None, r1.answers[0], "clarity")
    db.session.commit()
    summary = queries.summary(consultation)
    assert summary.responses == 3
    assert dict(summary.by_kind) == {"Brand or retailer": 2, "Worker organization or union": 1} or (
        sorted(n for _k, n in summary.by_kind) == [1, 2]
    )
    assert dict(summary.by_country) == {"Viet Nam": 2, "Bangladesh": 1}
    split = {s.label: s for _k, _i, s in summary.items}[p1.label]
    assert split.counts == {"weakness": 2, "opportunity": 1} and split.total == 3
    assert summary.themes == [("clarity", 1)]
    as_role("volunteer")
    page = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    assert "clarity" in page and 'id="response-count">3<' in page


def test_downloads_anonymize_unless_named_and_cannot_run_formulas(
    client, as_role, db, make_consultation
):
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    answer(consultation, "named@example.org", {p1.id: ("weakness", "=HYPERLINK(\"x\")")},
           named=True, name="Named Person", org="Open Org")  # fmt: skip
    answer(consultation, "anon@example.org", {p1.id: ("strength", "Good")},
           name="Hidden Person", org="Secret Org")  # fmt: skip
    db.session.commit()
    as_role("volunteer")
    assert client.get(f"/consultations/{consultation.id}/comments.csv").status_code == 403
    as_role("lead")
    csv = client.get(f"/consultations/{consultation.id}/comments.csv").get_data(as_text=True)
    assert "Named Person" in csv and "Open Org" in csv
    assert "Hidden Person" not in csv and "Secret Org" not in csv and "Respondent 2" in csv
    assert "anon@example.org" not in csv and "named@example.org" not in csv
    assert "'=HYPERLINK" in csv
    xlsx = client.get(f"/consultations/{consultation.id}/comments.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    flat = [v for row in values for v in row if v]
    assert "Hidden Person" not in flat and "Secret Org" not in flat and "Named Person" in flat
    formula = next(c for row in sheet.iter_rows() for c in row if c.value == '=HYPERLINK("x")')
    assert formula.data_type == "s"


def test_who_has_not_answered_and_their_personal_links(
    client, as_role, db, make_consultation, make_segment, make_contact, outbox
):
    from crm.contacts.models import ConsentStatus
    from crm.tags.operations import tags_from_names

    people = [
        make_contact("Ans", email="ans@example.org", consent_status=ConsentStatus.GRANTED),
        make_contact("Wait", email="wait@example.org", consent_status=ConsentStatus.GRANTED),
        make_contact("Quiet", email="quiet@example.org"),
    ]
    for person in people:
        person.tags = tags_from_names(["advisory"])
    db.session.commit()
    consultation = make_consultation(access="invitation", segment=make_segment(["advisory"]))
    response_ops.respond(
        consultation, people[0],
        [response_ops.AnswerFields(principle_id=consultation.standard.principles[0].id,
                                 mark="strength", comment="ok")],
        submit=True,
    )  # fmt: skip
    db.session.commit()
    as_role("lead")
    page = client.get(f"/consultations/{consultation.id}/not-answered").get_data(as_text=True)
    assert "Wait" in page and "Quiet" in page and "Ans " not in page
    csv = client.get(f"/consultations/{consultation.id}/not-answered.csv").get_data(as_text=True)
    assert "wait@example.org" in csv and f"/c/{consultation.id}/r/" in csv
    assert "ans@example.org" not in csv
    # Nothing is mailed from here any more: "Remind them" drafts a campaign (tests/campaigns/
    # test_consultation_reminders.py follows it through the outbox).
    assert client.post(f"/consultations/{consultation.id}/send-links").status_code == 404
    assert outbox() == []
    assert 'data-testid="remind"' in page
    as_role("volunteer")
    assert client.get(f"/consultations/{consultation.id}/not-answered").status_code == 403


def _with_texts(db, standard):
    for principle in standard.principles:
        principle.text = principle.text or f"The text of {principle.code}."
    db.session.commit()


def _close(db, consultation):
    consultation.opens_on = date.today() - timedelta(days=30)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()


def test_publishing_the_next_version_from_the_accepted_draft(
    client, login, make_user, db, make_consultation, current
):
    _with_texts(db, current)
    consultation = make_consultation()
    lead = make_user("lead")
    p1 = consultation.standard.principles[0]
    rec = draft_ops.add_recommendation(
        lead, consultation, draft_ops.RecommendationFields(text="New P1 text", principle_id=p1.id)
    )
    new = draft_ops.add_recommendation(
        lead, consultation,
        draft_ops.RecommendationFields(text="Data rights", new_code="P9", new_title="Data"),
    )  # fmt: skip
    draft_ops.add_recommendation(
        lead, consultation, draft_ops.RecommendationFields(text="Rejected", new_code="P10",
                                                            new_title="No")
    )  # fmt: skip
    db.session.commit()
    fields = publish_ops.PublishFields(version="2.0", title="WEST Principles 2.0")
    with pytest.raises(OperationError, match="once the consultation has closed"):
        publish_ops.publish_version(lead, consultation, fields)
    _close(db, consultation)
    with pytest.raises(OperationError, match="No draft text is accepted"):
        publish_ops.publish_version(lead, consultation, fields)
    draft_ops.set_accepted(lead, rec, True)
    draft_ops.set_accepted(lead, new, True)
    db.session.commit()
    with pytest.raises(OperationError, match="higher number"):
        publish_ops.publish_version(lead, consultation, publish_ops.PublishFields("0.9", "Old"))
    db.session.rollback()
    # Only an admin changes the standard.
    login(lead)
    assert client.post(f"/consultations/{consultation.id}/publish", data={}).status_code == 403
    login(make_user("admin"))
    response = client.post(
        f"/consultations/{consultation.id}/publish",
        data={"new_version": "2.0", "title": "WEST Principles 2.0", "make_current": "y"},
    )
    assert response.status_code == 302
    standard = db.session.scalar(sa.select(Standard).where(Standard.version == "2.0"))
    assert standard.status is StandardStatus.CURRENT
    db.session.refresh(current)
    assert current.status is StandardStatus.RETIRED
    texts = {p.code: p.text for p in standard.principles}
    assert texts["P1"] == "New P1 text" and texts["P9"] == "Data rights" and "P10" not in texts
    assert len(standard.principles) == len(current.principles) + 1
    db.session.refresh(consultation)
    assert consultation.published_standard_id == standard.id
    with pytest.raises(OperationError, match="already published"):
        publish_ops.publish_version(lead, consultation, fields)
    with pytest.raises(OperationError, match="no longer changes"):
        draft_ops.set_accepted(lead, rec, False)


def test_a_pledge_moves_to_the_published_version(make_user, db, make_consultation, make_org,
                                                 current):  # fmt: skip
    from crm.pledges.models import Pledge, PledgeStatus
    from crm.pledges.operations import lifecycle as pledge_ops

    lead = make_user("admin")
    org = make_org("Mover")
    pledge = Pledge(organization_id=org.id, standard_id=current.id, status=PledgeStatus.ACTIVE,
                    signed_on=date.today(), activated_on=date.today())  # fmt: skip
    db.session.add(pledge)
    _with_texts(db, current)
    consultation = make_consultation()
    rec = draft_ops.add_recommendation(
        lead, consultation,
        draft_ops.RecommendationFields(text="New", principle_id=current.principles[0].id),
    )  # fmt: skip
    draft_ops.set_accepted(lead, rec, True)
    _close(db, consultation)
    new = publish_ops.publish_version(
        lead, consultation, publish_ops.PublishFields("2.0", "Two", make_current=True)
    )
    pledge_ops.move_to_version(lead, pledge, new)
    assert pledge.standard_id == new.id


def test_pages_render_for_each_staff_role(client, as_role, db, make_consultation):
    consultation = make_consultation()
    for role in ("lead", "volunteer"):
        as_role(role)
        assert client.get("/consultations/").status_code == 200
        assert client.get(f"/consultations/{consultation.id}").status_code == 200
        assert client.get(f"/consultations/{consultation.id}/comments").status_code == 200
    as_role("viewer")
    assert client.get("/consultations/").status_code == 403
    as_role("champion")
    assert client.get(f"/consultations/{consultation.id}").status_code == 403


def test_the_version_is_fixed_once_there_are_draft_texts_or_answers(
    make_consultation, make_user, db, current
):
    from crm.standards import operations as standard_ops

    consultation = make_consultation()
    lead = make_user("lead")
    draft = standard_ops.supersede(lead, current, "2.0", "Two")
    draft_ops.add_recommendation(
        lead, consultation,
        draft_ops.RecommendationFields(text="x", principle_id=current.principles[0].id),
    )  # fmt: skip
    db.session.commit()
    fields = consultation_ops.ConsultationFields(
        standard_id=draft.id, title="2.0 draft", opens_on=consultation.opens_on,
        closes_on=consultation.closes_on, access="public",
    )  # fmt: skip
    with pytest.raises(OperationError, match="draft texts refer"):
        consultation_ops.update_consultation(lead, consultation, fields)
    db.session.rollback()
    db.session.refresh(consultation)
    assert consultation.standard_id == current.id and consultation.title == "1.0 review"


def test_editing_through_the_page_and_a_stale_form_is_refused(
    client, as_role, db, make_consultation, current
):
    consultation = make_consultation()
    as_role("lead")
    assert client.get(f"/consultations/{consultation.id}/edit").status_code == 200
    data = {"title": "1.0 review, extended", "standard_id": current.id, "access": "public",
            "opens_on": consultation.opens_on.isoformat(),
            "closes_on": (consultation.closes_on + timedelta(days=7)).isoformat(),
            "version": consultation.version}  # fmt: skip
    assert client.post(f"/consultations/{consultation.id}/edit", data=data).status_code == 302
    db.session.refresh(consultation)
    assert consultation.title == "1.0 review, extended"
    stale = client.post(f"/consultations/{consultation.id}/edit", data={**data, "title": "Old"})
    assert stale.status_code == 409
    db.session.refresh(consultation)
    assert consultation.title == "1.0 review, extended"


def test_a_consultation_nobody_answered_can_be_deleted_and_one_with_answers_cannot(
    client, as_role, db, make_consultation, answer_form
):
    from crm.consultations.models import Consultation

    as_role("lead")
    unused_id = make_consultation().id
    page = client.get(f"/consultations/{unused_id}").get_data(as_text=True)
    assert f"/consultations/{unused_id}/delete" in page
    response = client.post(f"/consultations/{unused_id}/delete")
    assert response.headers["Location"].endswith("/consultations/")
    db.session.expire_all()
    assert db.session.get(Consultation, unused_id) is None

    answered = make_consultation()
    client.post(f"/c/{answered.id}", data=answer_form(answered))
    assert f"/consultations/{answered.id}/delete" not in client.get(
        f"/consultations/{answered.id}"
    ).get_data(as_text=True)
    response = client.post(f"/consultations/{answered.id}/delete", follow_redirects=True)
    assert "people have answered it" in response.get_data(as_text=True)
    assert db.session.get(Consultation, answered.id) is not None


def test_volunteers_cannot_delete_a_consultation(client, as_role, db, make_consultation):
    consultation = make_consultation()
    as_role("volunteer")
    assert client.post(f"/consultations/{consultation.id}/delete").status_code == 403


def test_comments_come_a_page_at_a_time_and_filter_by_a_whole_theme(
    client, as_role, db, make_consultation, monkeypatch
):
    from crm.consultations import queries

    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    for n in range(7):
        answer(consultation, f"r{n}@example.org", {p1.id: ("weakness", f"Comment number {n}")})
    db.session.commit()
    answers = db.session.scalars(sa.select(Answer).order_by(Answer.id)).all()
    comment_ops.set_themes(None, answers[0], "digital wages, grievance")
    comment_ops.set_themes(None, answers[1], "wages")
    db.session.commit()

    first = queries.comments_page(consultation, per_page=3)
    assert (first.total, first.pages, len(first.answers)) == (7, 3, 3)
    last = queries.comments_page(consultation, page=99, per_page=3)  # past the end: the last
    assert last.page == 3 and [a.comment for a in last.answers] == ["Comment number 6"]
    wages = queries.comments_page(consultation, theme="Wages")
    assert [a.comment for a in wages.answers] == ["Comment number 1"]  # not "digital wages"
    assert queries.comments_page(consultation, theme="%").total == 0

    as_role("volunteer")
    url = f"/consultations/{consultation.id}/comments"
    body = client.get(url, query_string={"theme": "digital wages"}).get_data(as_text=True)
    assert "Comment number 0" in body and "Comment number 1" not in body
    assert "1 comment" in body
    everything = client.get(url).get_data(as_text=True)
    assert "7 comments" in everything and "Comment number 6" in everything
    monkeypatch.setattr(queries, "COMMENTS_PER_PAGE", 5)
    second = client.get(url, query_string={"page": 2, "principle": p1.id}).get_data(as_text=True)
    assert "Page 2 of 2" in second and "6–7 shown" in second
    assert "Comment number 5" in second and "Comment number 4" not in second
    assert f"principle={p1.id}" in second  # the filters stay on the page links


def test_the_consultation_form_names_every_problem_at_once(client, as_role, current, db):
    as_role("lead")
    today = date.today()
    both = client.post(
        "/consultations/new",
        data={"title": "1.0 review", "standard_id": current.id, "access": "invitation",
              "opens_on": today.isoformat(), "closes_on": (today - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    page = both.get_data(as_text=True)
    assert both.status_code == 422
    assert "It cannot close before it opens." in page
    assert "Choose the segment of contacts who are invited." in page
    # The form's own refusal (no title) and the consultation's come together too.
    three = client.post(
        "/consultations/new",
        data={"title": "", "standard_id": current.id, "access": "invitation",
              "opens_on": today.isoformat(), "closes_on": (today - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    page = three.get_data(as_text=True)
    assert three.status_code == 422 and "Give a title." in page
    assert "It cannot close before it opens." in page and "Choose the segment" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consultation)) == 0
