from __future__ import annotations

import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.organizations.models import Organization


def org_form(**overrides):
    data = {
        "name": "Golden Thread Garments",
        "kind": "supplier",
        "sector": "Apparel & textiles",
        "country": "BD",
        "website": "goldenthread.example",
        "tags": "Pilot, asia, pilot",
        "notes": "",
    }
    data.update(overrides)
    return data


def count(db):
    return db.session.scalar(sa.select(sa.func.count()).select_from(Organization))


def test_create_organization(client, as_role, db):
    user = as_role("volunteer")
    response = client.post("/organizations/new", data=org_form())
    assert response.status_code == 302
    org = db.session.scalar(sa.select(Organization))
    assert org.name == "Golden Thread Garments"
    assert org.website == "https://goldenthread.example"
    assert [t.name for t in org.tags] == ["asia", "pilot"]
    assert org.created_by_id == user.id and org.updated_by_id == user.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Golden Thread Garments" in page and "Bangladesh" in page
    assert "Created Golden Thread Garments" in page  # audit trail on the record


def test_country_accepts_names_and_codes(client, as_role, db):
    as_role("lead")
    client.post("/organizations/new", data=org_form(country="Kenya"))
    assert db.session.scalar(sa.select(Organization.country)) == "KE"


def test_bad_input_shows_inline_errors_keeps_input_and_saves_nothing(client, as_role, db, make_org):
    as_role("lead")
    make_org("Existing Brand")
    before = count(db)
    cases = [
        (org_form(name="x" * 201), "Field cannot be longer than 200 characters"),
        (org_form(name=""), "This field is required"),
        (org_form(country="Atlantis"), "not a country we know"),
        (org_form(website="not a website"), "not a website address"),
        (org_form(kind="spaceship"), "Not a valid choice"),
        (org_form(name="existing brand"), "already exists"),
    ]
    for data, message in cases:
        response = client.post("/organizations/new", data=data)
        text = response.get_data(as_text=True)
        assert response.status_code == 422, (data, response.status_code)
        assert message in text, (message, text[:3000])
        assert "Please correct the highlighted fields" in text
        assert 'value="Apparel &amp; textiles"' in text  # what the user typed is still there
    assert count(db) == before


def test_edit_records_field_changes_in_the_audit_trail(client, as_role, make_org, db):
    as_role("lead")
    org = make_org("Bluebird Apparel", country="GB")
    response = client.post(
        f"/organizations/{org.id}/edit",
        data=org_form(name="Bluebird Apparel Group", country="GB", version=org.version),
    )
    assert response.status_code == 302
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_id == org.id, AuditEntry.action == "update")
    ).one()
    assert entry.changes["name"] == ["Bluebird Apparel", "Bluebird Apparel Group"]
    assert "country" not in entry.changes  # unchanged fields are not listed
    page = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert "Bluebird Apparel Group" in page and "<del" in page


def test_two_people_editing_the_later_save_is_refused(client, as_role, make_org, db, app):
    as_role("lead")
    org = make_org("Summit Retail")
    loaded_version = org.version
    # Someone else saves first.
    first = client.post(
        f"/organizations/{org.id}/edit",
        data=org_form(name="Summit Retail Ltd", version=loaded_version),
    )
    assert first.status_code == 302
    # The second person's form still carries the old version.
    second = client.post(
        f"/organizations/{org.id}/edit",
        data=org_form(name="Summit Retail PLC", version=loaded_version),
    )
    text = second.get_data(as_text=True)
    assert second.status_code == 409
    assert "Someone else saved this record" in text
    assert 'value="Summit Retail PLC"' in text  # their edit is not lost from the form
    assert db.session.get(Organization, org.id).name == "Summit Retail Ltd"


def test_deleting_an_organization_with_contacts_is_refused(
    client, as_role, make_org, make_contact, db
):
    as_role("lead")
    org = make_org("Has People")
    make_contact(organization_id=org.id)
    response = client.post(f"/organizations/{org.id}/delete", follow_redirects=True)
    assert "still has 1 contact" in response.get_data(as_text=True)
    assert db.session.get(Organization, org.id) is not None


def test_delete_organization(client, as_role, make_org, db):
    as_role("lead")
    org_id = make_org("Short Lived").id
    assert client.post(f"/organizations/{org_id}/delete").status_code == 302
    assert db.session.scalar(sa.select(Organization).where(Organization.id == org_id)) is None
    deleted = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "delete", AuditEntry.object_id == org_id)
    )
    assert deleted.summary == "Deleted Short Lived"


def test_volunteer_cannot_delete(client, as_role, make_org):
    as_role("volunteer")
    org = make_org()
    assert client.post(f"/organizations/{org.id}/delete").status_code == 403


def test_list_search_filters_and_sort(client, as_role, make_org):
    as_role("volunteer")
    make_org("Lotus Knitwear", kind="supplier", country="VN")
    make_org("Fair Labour Foundation", kind="ngo", country="NL")
    make_org("Lotus Foods", kind="brand", country="GB")

    def names(**params):
        text = client.get("/organizations/", query_string=params).get_data(as_text=True)
        return [n for n in ("Lotus Knitwear", "Fair Labour Foundation", "Lotus Foods") if n in text]

    assert names(q="lotus") == ["Lotus Knitwear", "Lotus Foods"]
    assert names(q="labour") == ["Fair Labour Foundation"]
    assert names(q="lo") == ["Lotus Knitwear", "Lotus Foods"]  # short: prefix
    assert names(kind="ngo") == ["Fair Labour Foundation"]
    assert names(country="VN") == ["Lotus Knitwear"]
    text = client.get("/organizations/", query_string={"sort": "name_desc"}).get_data(as_text=True)
    assert text.index("Lotus Knitwear") < text.index("Lotus Foods") < text.index("Fair Labour")


def test_lookup_returns_json(client, as_role, make_org):
    as_role("volunteer")
    make_org("Meridian Electronics")
    data = client.get("/organizations/lookup?q=meridian").get_json()
    assert [d["label"] for d in data] == ["Meridian Electronics"]


def test_a_search_that_folds_to_no_text_lists_them_all(client, as_role, make_org):
    as_role("volunteer")
    make_org("Lotus Knitwear")
    response = client.get("/organizations/", query_string={"q": "\u0301"})  # a lone accent
    assert response.status_code == 200
    assert "Lotus Knitwear" in response.get_data(as_text=True)
