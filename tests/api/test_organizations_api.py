"""/api/v1/organizations: the list's filters and pages, and changes through the organization
operations (unique names, the audit trail, what refuses a deletion)."""

from __future__ import annotations

import sqlalchemy as sa

from crm.organizations.models import Organization, OrganizationKind


def test_the_list_filters_and_pages_in_name_order(api, make_org):
    make_org("Dhaka Garment Workers", kind=OrganizationKind.WORKER_ORGANIZATION, country="BD")
    make_org("Acme Apparel", country="US")
    make_org("Bright Threads", country="BD")
    lead = api("lead")
    first = lead.get("/api/v1/organizations?limit=2&total=true").json
    assert [o["name"] for o in first["items"]] == ["Acme Apparel", "Bright Threads"]
    assert first["total"] == 3
    second = lead.get(first["next"]).json
    assert [o["name"] for o in second["items"]] == ["Dhaka Garment Workers"]
    assert second["next"] is None
    bd = lead.get("/api/v1/organizations?country=BD&kind=worker_organization").json["items"]
    assert [o["name"] for o in bd] == ["Dhaka Garment Workers"]
    assert [o["name"] for o in lead.get("/api/v1/organizations?q=threads").json["items"]] == [
        "Bright Threads"
    ]
    assert lead.get("/api/v1/organizations?kind=bank").status_code == 422


def test_an_organization_is_created_changed_and_deleted_as_the_pages_do(api, db):
    lead = api("lead")
    made = lead.post(
        "/api/v1/organizations",
        json={"name": "Fair Looms", "kind": "brand", "country": "Viet Nam", "tags": ["Tier 1"]},
    )
    assert made.status_code == 201 and made.json["country"] == "VN"
    org_id, etag = made.json["id"], made.headers["ETag"]
    twin = lead.post("/api/v1/organizations", json={"name": "fair  LOOMS", "kind": "brand"})
    assert twin.status_code == 422 and "name" in twin.json["errors"]
    changed = lead.patch(
        f"/api/v1/organizations/{org_id}", json={"sector": "Textiles"}, headers={"If-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.json["sector"] == "Textiles" and changed.json["tags"] == ["tier 1"]
    stale = lead.patch(
        f"/api/v1/organizations/{org_id}", json={"sector": "Other"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert api("volunteer").delete(f"/api/v1/organizations/{org_id}").status_code == 403
    assert lead.delete(f"/api/v1/organizations/{org_id}").status_code == 204
    assert db.session.scalar(sa.select(Organization).where(Organization.id == org_id)) is None


def test_an_organization_with_contacts_is_not_deleted(api, make_org, make_contact, db):
    org = make_org("Kept Org")
    make_contact("Ama", "Test", organization_id=org.id)
    answer = api("lead").delete(f"/api/v1/organizations/{org.id}")
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    assert db.session.get(Organization, org.id) is not None
