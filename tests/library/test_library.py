from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.library import operations
from crm.library.models import CaseStudy, ReviewStatus
from crm.standards.models import Principle


def case_form(**overrides):
    data = {
        "title": "SMS grievance line in Gazipur",
        "technology": "sms_survey",
        "outcome": "mixed",
        "countries": "Bangladesh",
        "sectors": "garments",
        "workers_reached": "12000",
        "happened_on": "2025-06-01",
        "source_link": "https://research.example.org/gazipur",
        "organizations": "",
        "principle_ids": [],
        "what_happened": "Workers used it, but replies came late.",
        "lessons": "Answer within a week or trust drops.",
        "shareable": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def p_ids(db, *codes):
    return list(db.session.scalars(sa.select(Principle.id).where(Principle.code.in_(codes))))


def test_a_volunteer_submits_and_a_lead_publishes(client, as_role, login, make_user, db):
    volunteer = as_role("volunteer")
    response = client.post("/library/new", data=case_form(principle_ids=p_ids(db, "P3")))
    assert response.status_code == 302
    case = db.session.scalar(sa.select(CaseStudy))
    assert case.status is ReviewStatus.SUBMITTED and case.created_by_id == volunteer.id
    assert case.countries == "BD" and [p.code for p in case.principles] == ["P3"]
    # Not in the library, nor public, before review.
    assert "SMS grievance line" not in client.get("/library/").get_data(as_text=True)
    assert client.get(f"/learn/{case.id}").status_code == 404
    login(make_user("lead"))
    assert "SMS grievance line" in client.get("/library/review").get_data(as_text=True)
    client.post(f"/library/{case.id}/publish", data={"version": case.version})
    db.session.refresh(case)
    assert case.status is ReviewStatus.PUBLISHED
    assert "SMS grievance line" in client.get("/learn/").get_data(as_text=True)
    assert client.get(f"/learn/{case.id}").status_code == 200


def test_a_lead_sends_back_with_a_note_and_the_change_returns_to_review(
    client, as_role, login, make_user, db
):
    contributor = as_role("champion")
    client.post("/library/new", data=case_form())
    case = db.session.scalar(sa.select(CaseStudy))
    lead = make_user("lead")
    with pytest.raises(OperationError, match="is required"):
        operations.send_back(lead, case, "  ")
    operations.send_back(lead, case, "Please add the source")
    db.session.commit()
    login(contributor)
    assert "Please add the source" in client.get(f"/library/{case.id}").get_data(as_text=True)
    client.post(f"/library/{case.id}/edit", data=case_form(version=case.version, lessons="New"))
    db.session.refresh(case)
    assert case.status is ReviewStatus.SUBMITTED and case.lessons == "New"


def test_only_shareable_published_cases_are_public(client, make_user, db):
    lead = make_user("lead")
    shared = operations.contribute(
        lead,
        operations.CaseStudyFields(title="Shared", technology="app", outcome="worked",
                                   what_happened="x", lessons="y", shareable=True),
        publish=True,
    )  # fmt: skip
    private = operations.contribute(
        lead,
        operations.CaseStudyFields(title="Members only", technology="app", outcome="failed",
                                   what_happened="x", lessons="y", shareable=False),
        publish=True,
    )  # fmt: skip
    db.session.commit()
    page = client.get("/learn/").get_data(as_text=True)
    assert "Shared" in page and "Members only" not in page
    assert client.get(f"/learn/{private.id}").status_code == 404
    assert client.get(f"/learn/{shared.id}").status_code == 200


def test_filters(client, as_role, db):
    lead = as_role("lead")

    def add(title, **kw):
        fields = dict(technology="helpline", outcome="worked", what_happened="x", lessons="y")
        fields.update(kw)
        return operations.contribute(
            lead, operations.CaseStudyFields(title=title, **fields), publish=True
        )

    add("Helpline Dhaka", countries=["BD"], principle_ids=p_ids(db, "P5"), sectors="garments")
    add("Wages Hanoi", technology="digital_wages", outcome="failed", countries=["VN"])
    db.session.commit()

    def titles(query):
        page = client.get("/library/?" + query).get_data(as_text=True)
        return {t for t in ("Helpline Dhaka", "Wages Hanoi") if t in page}

    assert titles("outcome=failed") == {"Wages Hanoi"}
    assert titles("technology=helpline") == {"Helpline Dhaka"}
    assert titles("country=BD") == {"Helpline Dhaka"}
    assert titles(f"principle={p_ids(db, 'P5')[0]}") == {"Helpline Dhaka"}
    assert titles("sector=garm") == {"Helpline Dhaka"}
    assert titles("q=hanoi") == {"Wages Hanoi"}
    assert titles("outcome=bogus") == {"Helpline Dhaka", "Wages Hanoi"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"lessons": ""}, "This field is required."),
        ({"countries": "Atlantis"}, "is not a country we know"),
        ({"source_link": "our drive"}, "The source must be a web address"),
        ({"workers_reached": "-3"}, "Give a number of workers."),
        ({"outcome": "great"}, "is not an outcome"),
        ({"organizations": "Nobody Inc"}, "No organization named “Nobody Inc”"),
        # The name as typed after a comma, without the space before it.
        ({"countries": "Bangladesh, Atlantis"}, "“Atlantis” is not a country we know"),
        ({"organizations": "Nobody Inc\n  Somebody Ltd"}, "“Nobody Inc”, “Somebody Ltd”"),
        # A comma is part of a name unless every part names an organization in the CRM.
        ({"organizations": "Acme, Inc."}, "No organization named “Acme, Inc.”"),
        ({"happened_on": "1900-01-01"}, "between 1990 and today"),
    ],
)
def test_bad_case_studies_are_refused(client, as_role, db, overrides, message):
    as_role("volunteer")
    response = client.post("/library/new", data=case_form(**overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseStudy)) == 0


def test_contributors_see_only_their_own_and_volunteers_edit_only_theirs(
    client, as_role, login, make_user, db
):
    other = make_user("org_rep")
    login(other)
    client.post("/library/new", data=case_form(title="Theirs"))
    theirs = db.session.scalar(sa.select(CaseStudy))
    as_role("champion")
    assert client.get(f"/library/{theirs.id}").status_code == 404
    assert client.get(f"/library/{theirs.id}/edit").status_code == 404
    assert client.get("/library/").status_code == 403
    assert "Theirs" not in client.get("/library/mine").get_data(as_text=True)
    as_role("volunteer")
    assert client.get(f"/library/{theirs.id}").status_code == 200  # staff read everything
    assert client.get(f"/library/{theirs.id}/edit").status_code == 403
    assert client.post(f"/library/{theirs.id}/publish").status_code == 403
