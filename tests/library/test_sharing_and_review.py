"""The public page's search and filters
never reach what is not shared; a contributor's change to a published case study goes back to
a lead before it is shared again; every kind of member's contribution waits for review; who
may not contribute."""

from __future__ import annotations

import sqlalchemy as sa

from crm.library import operations
from crm.library.models import CaseStudy, ReviewStatus
from crm.standards.models import Principle
from tests.library.test_library import case_form


def p_id(db, code):
    return db.session.scalar(sa.select(Principle.id).where(Principle.code == code))


def add(lead, title, *, publish=True, **kw):
    fields = dict(technology="helpline", outcome="worked", what_happened="x", lessons="y",
                  shareable=True)  # fmt: skip
    fields.update(kw)
    return operations.contribute(
        lead, operations.CaseStudyFields(title=title, **fields), publish=publish
    )


def test_the_public_page_filters_and_searches_shared_case_studies_only(client, make_user, db):
    lead = make_user("lead")
    p5 = p_id(db, "P5")
    common = dict(countries=["BD"], principle_ids=[p5], sectors="garments", outcome="mixed",
                  technology="sms_survey")  # fmt: skip
    add(lead, "Shared Gazipur line", **common)
    add(lead, "Unshared Gazipur line", shareable=False, **common)
    add(lead, "Pending Gazipur line", publish=False, **common)
    add(lead, "Shared Hanoi wages", technology="digital_wages", outcome="failed", countries=["VN"])
    db.session.commit()

    def titles(query):
        page = client.get("/learn/?" + query).get_data(as_text=True)
        return {t for t in ("Shared Gazipur line", "Unshared Gazipur line",
                            "Pending Gazipur line", "Shared Hanoi wages") if t in page}  # fmt: skip

    assert titles("") == {"Shared Gazipur line", "Shared Hanoi wages"}
    for query in ("q=gazipur", f"principle={p5}", "outcome=mixed", "technology=sms_survey",
                  "country=BD", "sector=garm"):  # fmt: skip
        assert titles(query) == {"Shared Gazipur line"}, query
    assert titles("outcome=failed&country=VN") == {"Shared Hanoi wages"}
    assert titles("q=unshared") == set() and titles("q=pending") == set()


def test_a_contributors_change_to_a_published_case_is_reviewed_before_it_is_shared_again(
    client, as_role, login, make_user, db
):
    volunteer = as_role("volunteer")
    client.post("/library/new", data=case_form(title="Helpline in Dhaka"))
    case = db.session.scalar(sa.select(CaseStudy))
    lead = make_user("lead")
    operations.publish(lead, case)
    db.session.commit()
    assert client.get(f"/learn/{case.id}").status_code == 200
    login(volunteer)
    response = client.post(
        f"/library/{case.id}/edit",
        data=case_form(title="Helpline in Dhaka", lessons="A new, unreviewed lesson",
                       version=case.version),
    )  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.status is ReviewStatus.SUBMITTED
    assert client.get(f"/learn/{case.id}").status_code == 404
    assert "A new, unreviewed lesson" not in client.get("/learn/").get_data(as_text=True)
    login(lead)
    assert "Helpline in Dhaka" in client.get("/library/review").get_data(as_text=True)
    client.post(f"/library/{case.id}/publish", data={"version": case.version})
    db.session.refresh(case)
    assert case.status is ReviewStatus.PUBLISHED
    assert "A new, unreviewed lesson" in client.get(f"/learn/{case.id}").get_data(as_text=True)


def test_a_leads_own_edit_keeps_a_published_case_published(client, as_role, db):
    lead = as_role("lead")
    case = add(lead, "Lead's case")
    db.session.commit()
    client.post(
        f"/library/{case.id}/edit",
        data=case_form(title="Lead's case", lessons="Edited", version=case.version),
    )
    db.session.refresh(case)
    assert case.status is ReviewStatus.PUBLISHED and case.lessons == "Edited"


def test_every_kind_of_member_contributes_for_review(client, as_role, db):
    for role in ("volunteer", "champion", "org_rep"):
        user = as_role(role)
        response = client.post("/library/new", data=case_form(title=f"By a {role}"))
        assert response.status_code == 302, role
        case = db.session.scalar(sa.select(CaseStudy).where(CaseStudy.title == f"By a {role}"))
        assert case.status is ReviewStatus.SUBMITTED and case.created_by_id == user.id
        assert client.get(f"/learn/{case.id}").status_code == 404
        # Nobody but a lead (or an admin) publishes, their own included.
        assert client.post(f"/library/{case.id}/publish").status_code == 403
        db.session.refresh(case)
        assert case.status is ReviewStatus.SUBMITTED


def test_viewers_neither_read_nor_contribute(client, as_role, db):
    as_role("viewer")
    assert client.get("/library/").status_code == 403
    assert client.get("/library/new").status_code == 403
    assert client.post("/library/new", data=case_form()).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseStudy)) == 0
