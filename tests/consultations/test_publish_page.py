"""Publishing the next version, as the team sees it: the line leads see where the Publish
button is for an administrator, and the publish page's preview of the new version."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.consultations import queries


def close(db, consultation):
    consultation.opens_on = date.today() - timedelta(days=30)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()


HINT_OPEN = (
    "An administrator publishes version 2.0 from the accepted drafts once the consultation is "
    "closed."
)
HINT_CLOSED = (
    "The consultation is closed: an administrator publishes version 2.0 from the accepted drafts."
)


def test_leads_see_who_publishes_where_the_publish_button_would_be(
    client, as_role, db, make_consultation
):
    consultation = make_consultation()
    url = f"/consultations/{consultation.id}"
    publish = f"/consultations/{consultation.id}/publish"
    as_role("lead")
    page = client.get(url).get_data(as_text=True)
    assert HINT_OPEN in page and publish not in page
    as_role("volunteer")  # does not manage the consultation: no line
    assert 'data-testid="publish-hint"' not in client.get(url).get_data(as_text=True)
    as_role("admin")
    page = client.get(url).get_data(as_text=True)
    assert (
        "You can publish version 2.0 from the accepted drafts once the consultation has closed"
        in page
    )
    assert publish not in page

    close(db, consultation)
    as_role("lead")
    page = client.get(url).get_data(as_text=True)
    assert HINT_CLOSED in page and publish not in page
    assert client.get(publish).status_code == 403  # publishing stays with administrators
    as_role("admin")
    page = client.get(url).get_data(as_text=True)
    assert publish in page and 'data-testid="publish-hint"' not in page
    form = client.get(publish).get_data(as_text=True)
    assert 'name="new_version"' in form and 'value="2.0"' in form  # the suggestion, changeable


def test_the_suggested_version_skips_numbers_already_used(
    db, make_consultation, make_user, current
):
    from crm.standards import operations as standard_ops

    consultation = make_consultation()
    assert queries.suggested_version(consultation) == "2.0"
    standard_ops.supersede(make_user("admin"), current, "2.0", "Two, drafted by hand")
    db.session.commit()
    assert queries.suggested_version(consultation) == "3.0"


def with_texts(db, standard):
    for principle in standard.principles:
        principle.text = principle.text or f"The text of {principle.code}."
    db.session.commit()


def test_the_publish_page_shows_what_will_be_published(
    client, as_role, db, make_consultation, make_user, current
):
    from markupsafe import escape

    from crm.consultations.operations import drafts as draft_ops
    from crm.consultations.operations import publishing as publish_ops
    from crm.standards.models import Standard

    with_texts(db, current)
    consultation = make_consultation()
    lead = make_user("lead")
    ps = {p.code: p for p in current.principles}

    def add(**fields):
        return draft_ops.add_recommendation(
            lead, consultation, draft_ops.RecommendationFields(**fields)
        )

    p3 = add(text="Agree with worker representatives what is collected.", principle_id=ps["P3"].id)
    p9 = add(text="Workers can see and correct their data.", new_code="P9", new_title="Data Rights")
    add(text="Not accepted: stays out.", principle_id=ps["P5"].id)
    for rec in (p3, p9):
        draft_ops.set_accepted(lead, rec, True)
    close(db, consultation)
    as_role("admin")
    page = client.get(f"/consultations/{consultation.id}/publish").get_data(as_text=True)
    plan = page[page.index('data-testid="plan"') :]
    assert "1 with new wording · 1 new · 7 unchanged" in plan
    assert escape("Agree with worker representatives what is collected.") in plan
    assert "Workers can see and correct their data." in plan and "P9 · Data Rights" in plan
    assert "Not accepted: stays out." not in plan
    assert "Wording in version 1.0" in plan and "The text of P3." in plan  # the earlier wording
    assert "The text of P5." in plan  # unchanged principles are shown as they will be
    assert plan.index("P1 · ") < plan.index("P3 · ") < plan.index("P8 · ") < plan.index("P9 · ")
    assert f"/consultations/recommendations/{p3.id}/edit" in plan

    # What is published is what the page showed.
    response = client.post(
        f"/consultations/{consultation.id}/publish",
        data={"new_version": "2.0", "title": "WEST Principles 2.0"},
    )
    assert response.status_code == 302
    standard = db.session.scalar(sa.select(Standard).where(Standard.version == "2.0"))
    shown = publish_ops.publish_plan(consultation)
    assert [(p.code, p.title, p.text) for p in standard.principles] == [
        (p.code, p.title, p.text) for p in shown.principles
    ]
    after = client.get(f"/consultations/{consultation.id}/publish").get_data(as_text=True)
    assert "Version 2.0 was already" in after
    assert "Edit this draft text" not in after


def test_two_accepted_texts_on_one_principle_are_flagged_and_not_published(
    client, as_role, db, make_consultation, make_user, current
):
    import pytest

    from crm.consultations.operations import drafts as draft_ops
    from crm.consultations.operations import publishing as publish_ops
    from crm.core.errors import OperationError

    with_texts(db, current)
    consultation = make_consultation()
    lead = make_user("lead")
    p1 = current.principles[0]
    first, second = (
        draft_ops.add_recommendation(
            lead, consultation, draft_ops.RecommendationFields(text=t, principle_id=p1.id)
        )
        for t in ("First wording", "Second wording")
    )
    for rec in (first, second):
        draft_ops.set_accepted(lead, rec, True)
    close(db, consultation)
    as_role("admin")
    page = client.get(f"/consultations/{consultation.id}/publish").get_data(as_text=True)
    problems = page[page.index('data-testid="plan-problems"') :]
    assert "P1 has 2 accepted draft texts" in problems
    assert f"/consultations/recommendations/{first.id}/edit" in problems
    assert f"/consultations/recommendations/{second.id}/edit" in problems
    with pytest.raises(OperationError, match="P1 has 2 accepted draft texts"):
        publish_ops.publish_version(lead, consultation, publish_ops.PublishFields("2.0", "Two"))
    db.session.rollback()
    draft_ops.set_accepted(lead, first, False)
    standard = publish_ops.publish_version(
        lead, consultation, publish_ops.PublishFields("2.0", "Two")
    )
    assert standard.principles[0].text == "Second wording"


def test_the_publish_page_says_up_front_when_the_version_cannot_become_current(
    client, as_role, db, make_consultation, make_user, current
):
    """Principles without text: "make it current" would fail after submit, so the page says so
    and offers publishing as a draft only."""
    from crm.consultations.operations import drafts as draft_ops
    from crm.standards.models import Standard, StandardStatus

    for principle in current.principles:
        principle.text = "The text of P1." if principle.code == "P1" else None
    db.session.commit()
    consultation = make_consultation()
    lead = make_user("lead")
    p2 = current.principles[1]
    rec = draft_ops.add_recommendation(
        lead, consultation, draft_ops.RecommendationFields(text="P2 at last.", principle_id=p2.id)
    )
    draft_ops.set_accepted(lead, rec, True)
    close(db, consultation)
    as_role("admin")
    page = client.get(f"/consultations/{consultation.id}/publish").get_data(as_text=True)
    assert (
        "Version 2.0 can become current only once every principle has its text: P3–P8 have none "
        "yet. Publish it as a draft, write them on the standard's page, then make it current."
    ) in page
    assert 'name="make_current"' not in page
    # P2 had no text in version 1.0: said, not an empty fold.
    assert "Wording in version 1.0: (no text)" in page
    response = client.post(
        f"/consultations/{consultation.id}/publish",
        data={"new_version": "2.0", "title": "WEST Principles 2.0"},
    )
    assert response.status_code == 302
    standard = db.session.scalar(sa.select(Standard).where(Standard.version == "2.0"))
    assert standard.status is StandardStatus.DRAFT


def test_the_missing_texts_are_named_as_a_run_or_one_by_one():
    from crm.consultations.operations.publishing import PlannedPrinciple, PublishPlan

    def phrase(texts):
        principles = [PlannedPrinciple(code=f"P{i}", title="T", text=t) for i, t in
                      enumerate(texts, 1)]  # fmt: skip
        return PublishPlan(principles, [], [], {}).without_text_phrase

    assert phrase(["a", None, "c"]) == "P2"
    assert phrase(["a", None, None]) == "P2 and P3"
    assert phrase([None, None, None, "d"]) == "P1–P3"
    assert phrase([None, "b", None, "d", None]) == "P1, P3 and P5"
