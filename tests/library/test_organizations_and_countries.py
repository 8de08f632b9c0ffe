"""Organizations named one per line, kept as typed for contributors; countries shown by name."""

from __future__ import annotations

import sqlalchemy as sa

from crm.library.models import CaseStudy
from tests.library.test_library import case_form


def only_case(db) -> CaseStudy:
    return db.session.scalar(sa.select(CaseStudy))


def test_names_with_commas_and_several_per_line(client, as_role, make_org, db):
    acme, lotus, atlas = make_org("Acme, Inc."), make_org("Lotus Ltd"), make_org("Atlas Apparel")
    as_role("volunteer")
    response = client.post(
        "/library/new", data=case_form(organizations="Acme, Inc.\nLotus Ltd, Atlas Apparel")
    )
    assert response.status_code == 302
    case = only_case(db)
    assert {o.id for o in case.organizations} == {acme.id, lotus.id, atlas.id}
    assert case.unlinked_organizations is None
    page = client.get(f"/library/{case.id}/edit").get_data(as_text=True)
    assert "Acme, Inc.\nAtlas Apparel\nLotus Ltd</textarea>" in page  # one per line


def test_a_contributor_s_unknown_organizations_wait_for_a_lead(
    client, as_role, login, make_user, make_org, db
):
    make_org("Lotus Ltd")
    champion = as_role("champion")
    response = client.post(
        "/library/new", data=case_form(organizations="Lotus Ltd\nNewco, S.A.\nnewco, s.a.")
    )
    assert response.status_code == 302  # not refused: nothing tells them what the CRM holds
    case = only_case(db)
    assert [o.name for o in case.organizations] == ["Lotus Ltd"]
    assert case.unlinked_organizations == "Newco, S.A."
    page = client.get(f"/library/{case.id}").get_data(as_text=True)
    assert "Lotus Ltd" in page and "Newco, S.A." in page and "Not in the CRM" not in page
    # A lead sees what is not linked, saves the case study without touching it...
    lead = make_user("lead")
    login(lead)
    page = client.get(f"/library/{case.id}").get_data(as_text=True)
    assert "Not in the CRM: Newco, S.A." in page
    form = case_form(organizations="Lotus Ltd\nNewco, S.A.", version=case.version)
    assert client.post(f"/library/{case.id}/edit", data=form).status_code == 302
    db.session.refresh(case)
    assert case.unlinked_organizations == "Newco, S.A."
    # ...but may not add a new unknown name; once the organization exists, it links.
    form = case_form(organizations="Newco, S.A.\nOther Co", version=case.version)
    response = client.post(f"/library/{case.id}/edit", data=form)
    assert response.status_code == 422
    assert "No organization named “Other Co”" in response.get_data(as_text=True)
    newco = make_org("Newco, S.A.")
    form = case_form(organizations="Lotus Ltd\nNewco, S.A.", version=case.version)
    assert client.post(f"/library/{case.id}/edit", data=form).status_code == 302
    db.session.refresh(case)
    assert newco in case.organizations and case.unlinked_organizations is None
    assert champion.id == case.created_by_id


def test_the_edit_form_shows_country_names_and_takes_them_back(client, as_role, db):
    as_role("lead")
    client.post("/library/new", data=case_form(countries="KE, Korea, Republic of; VN"))
    case = only_case(db)
    assert case.countries == "KE,KR,VN"
    page = client.get(f"/library/{case.id}/edit").get_data(as_text=True)
    assert 'value="Kenya, Korea, Republic of, Viet Nam"' in page
    form = case_form(countries="Kenya, Korea, Republic of, Viet Nam", version=case.version)
    assert client.post(f"/library/{case.id}/edit", data=form).status_code == 302
    db.session.refresh(case)
    assert case.countries == "KE,KR,VN"


def test_technology_and_outcome_start_blank_and_must_be_chosen(client, as_role, db):
    as_role("champion")
    page = client.get("/library/new").get_data(as_text=True)
    for name in ("technology", "outcome"):
        select = page[page.index(f'<select class="form-select" id="{name}"') :]
        first = select[: select.index("</option>")]
        assert first.endswith("— choose —") and 'value=""' in first
    response = client.post("/library/new", data=case_form(technology="", outcome=""))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Choose the kind of technology." in text and "Choose whether it worked." in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseStudy)) == 0


def test_search_looks_at_organizations_and_sectors_and_takes_wildcards_literally(
    client, as_role, make_org, db
):
    as_role("lead")
    make_org("Lotus Knitwear")
    client.post(
        "/library/new", data=case_form(title="Grievance app", organizations="Lotus Knitwear")
    )
    client.post("/library/new", data=case_form(title="Wage cards", sectors="tea_estates"))
    client.post("/library/new", data=case_form(title="Radio show", sectors="fishing 100%"))

    def titles(query: str) -> set[str]:
        page = client.get("/library/?" + query).get_data(as_text=True)
        return {t for t in ("Grievance app", "Wage cards", "Radio show") if t in page}

    assert titles("q=lotus") == {"Grievance app"}
    assert titles("q=fishing") == {"Radio show"}
    assert titles("q=_") == {"Wage cards"}
    assert titles("q=%25") == {"Radio show"}
    assert titles("q=a%25e") == set()
    assert titles("sector=_") == {"Wage cards"}
