"""/api/v1/engagements and /api/v1/tags: the log through the engagement operations."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.engagements.models import Engagement


def test_an_engagement_is_logged_listed_followed_up_and_deleted(api, make_contact, db):
    contact = make_contact("Kofi", "Abdi")
    lead = api("lead")
    today = date.today()
    logged = lead.post(
        "/api/v1/engagements",
        json={
            "kind": "listening_session",
            "occurred_on": today.isoformat(),
            "summary": "Listening session in Dhaka",
            "heard": "Workers want the grievance app in Bengali.",
            "contact_ids": [contact.id],
            "follow_up_on": (today + timedelta(days=3)).isoformat(),
            "follow_up_owner_id": lead.user.id,
        },
    )
    assert logged.status_code == 201, logged.json
    engagement_id = logged.json["id"]
    assert logged.json["contact_ids"] == [contact.id]
    listed = lead.get("/api/v1/engagements?open=true&q=bengali").json["items"]
    assert [e["id"] for e in listed] == [engagement_id]
    done = lead.post(f"/api/v1/engagements/{engagement_id}/follow-up-done")
    assert done.status_code == 200 and done.json["follow_up_done_at"] is not None
    assert lead.get("/api/v1/engagements?open=true").json["items"] == []
    again = lead.post(f"/api/v1/engagements/{engagement_id}/follow-up-done")
    assert again.status_code == 422 and "already done" in again.json["detail"]
    moved = lead.patch(f"/api/v1/engagements/{engagement_id}", json={"kind": "workshop"})
    assert moved.status_code == 200 and moved.json["summary"] == "Listening session in Dhaka"
    assert api("volunteer").delete(f"/api/v1/engagements/{engagement_id}").status_code == 403
    assert lead.delete(f"/api/v1/engagements/{engagement_id}").status_code == 204
    assert db.session.scalar(sa.select(Engagement).where(Engagement.id == engagement_id)) is None


def test_an_engagement_with_nobody_or_an_odd_date_is_refused(api, make_contact):
    lead = api("lead")
    nobody = lead.post(
        "/api/v1/engagements",
        json={"kind": "call", "occurred_on": date.today().isoformat(), "summary": "Call"},
    )
    assert nobody.status_code == 422 and "contact_ids" in nobody.json["errors"]
    contact = make_contact("Ama", "Test")
    odd = lead.post(
        "/api/v1/engagements",
        json={"kind": "call", "occurred_on": "1066-10-14", "summary": "Call",
              "contact_ids": [contact.id]},
    )  # fmt: skip
    assert odd.status_code == 422 and "occurred_on" in odd.json["errors"]
    bad_kind = lead.post(
        "/api/v1/engagements",
        json={"kind": "party", "occurred_on": "2026-01-01", "summary": "x"},
    )
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json["errors"]["json"]


def test_the_tags_in_use_are_listed(api, make_contact, db):
    lead = api("lead")
    lead.post("/api/v1/contacts", json={"first_name": "A", "tags": ["Dhaka 2027", "Brands"]})
    assert lead.get("/api/v1/tags").json == {"items": ["brands", "dhaka 2027"]}
    assert api("champion").get("/api/v1/tags").status_code == 403
