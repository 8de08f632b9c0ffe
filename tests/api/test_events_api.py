"""/api/v1/events and their participants, through the event operations (places, the
waitlist, check-in)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.events.models import Event

SOON = (datetime.now() + timedelta(days=7)).replace(microsecond=0, second=0)


def new_event(lead, **extra):
    body = {
        "name": "Dhaka roundtable",
        "kind": "roundtable",
        "hosting": "hosted",
        "starts_local": SOON.isoformat(),
        "ends_local": (SOON + timedelta(hours=2)).isoformat(),
        "timezone": "Asia/Dhaka",
        "capacity": 1,
        **extra,
    }
    return lead.post("/api/v1/events", json=body)


def test_an_event_keeps_its_local_time_and_shows_it_in_utc(api):
    lead = api("lead")
    made = new_event(lead)
    assert made.status_code == 201, made.json
    assert made.json["starts_local"] == SOON.isoformat()
    utc = (SOON - timedelta(hours=6)).isoformat()  # Dhaka is UTC+6
    assert made.json["starts_at"] == f"{utc}+00:00"
    upcoming = lead.get("/api/v1/events").json["items"]
    assert [e["name"] for e in upcoming] == ["Dhaka roundtable"]
    assert lead.get("/api/v1/events?when=past").json["items"] == []
    bad = new_event(lead, timezone="Mars/Olympus")
    assert bad.status_code == 422 and "timezone" in bad.json["errors"]
    backwards = new_event(lead, ends_local=(SOON - timedelta(hours=1)).isoformat())
    assert backwards.status_code == 422 and "ends_local" in backwards.json["errors"]


def test_participants_register_wait_cancel_and_check_in(api, make_contact, db):
    lead = api("lead")
    event_id = new_event(lead).json["id"]
    first, second = make_contact("Ama", "One"), make_contact("Kofi", "Two")
    seated = lead.post(f"/api/v1/events/{event_id}/participants", json={"contact_id": first.id})
    assert seated.status_code == 201 and seated.json["status"] == "registered"
    waiting = lead.post(f"/api/v1/events/{event_id}/participants", json={"contact_id": second.id})
    assert waiting.json["status"] == "waitlisted"  # one place only
    seated_id, waiting_id = seated.json["id"], waiting.json["id"]
    base = f"/api/v1/events/{event_id}/participants"
    assert lead.post(f"{base}/{seated_id}/cancel").json["status"] == "cancelled"
    promoted = {p["id"]: p["status"] for p in lead.get(base).json["items"]}
    assert promoted[waiting_id] == "registered"  # the freed place went to the waitlist
    volunteer = api("volunteer")
    checked = volunteer.post(f"{base}/{waiting_id}/check-in")
    assert checked.status_code == 200 and checked.json["status"] == "attended"
    again = volunteer.post(f"{base}/{waiting_id}/check-in")
    assert again.status_code == 422 and "already checked in" in again.json["detail"]
    undone = volunteer.post(f"{base}/{waiting_id}/undo-check-in")
    assert undone.json["status"] == "registered"
    assert volunteer.post(base, json={"contact_id": first.id}).status_code == 403
    unknown = lead.post(base, json={"contact_id": 987654})
    assert unknown.status_code == 422 and "contact_id" in unknown.json["errors"]
    other_event = new_event(lead, name="Other").json["id"]
    elsewhere = lead.post(f"/api/v1/events/{other_event}/participants/{waiting_id}/cancel")
    assert elsewhere.status_code == 404  # a participation is reached through its own event


def test_an_event_with_participants_is_not_deleted(api, make_contact, db):
    lead = api("lead")
    event_id = new_event(lead).json["id"]
    lead.post(f"/api/v1/events/{event_id}/participants", json={"contact_id": make_contact().id})
    refused = lead.delete(f"/api/v1/events/{event_id}")
    assert refused.status_code == 422
    empty_id = new_event(lead, name="Empty").json["id"]
    assert lead.delete(f"/api/v1/events/{empty_id}").status_code == 204
    assert db.session.scalar(sa.select(Event).where(Event.id == empty_id)) is None
