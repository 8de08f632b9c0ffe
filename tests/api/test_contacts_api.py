"""/api/v1/contacts: the list's filters and pages, a record's ETag, and changes through the
contact operations (the same checks, audit trail and permissions as the pages)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.contacts.models import Contact
from crm.core.db import utcnow


def test_the_list_pages_through_every_contact_in_name_order(api, make_contact):
    for name in ("Chidi", "Ama", "Bui", "Dara", "Eka"):
        make_contact(name, "Test")
    lead = api("lead")
    first = lead.get("/api/v1/contacts?limit=2&total=true")
    assert first.status_code == 200
    assert [c["first_name"] for c in first.json["items"]] == ["Ama", "Bui"]
    assert first.json["total"] == 5 and first.json["total_is_capped"] is False
    assert first.headers["Link"] == f'<{first.json["next"]}>; rel="next"'
    names, url = [], "/api/v1/contacts?limit=2"
    while url:
        page = lead.get(url).json
        names += [c["first_name"] for c in page["items"]]
        assert page["total"] is None  # not asked for: not counted
        url = page["next"]
    assert names == ["Ama", "Bui", "Chidi", "Dara", "Eka"]


def test_the_list_filters_as_the_contact_list_does(api, make_contact, make_org, db):
    org = make_org("Dhaka Garment Workers")
    make_contact("Rahima", "Akter", country="BD", organization_id=org.id, email="r@example.org")
    make_contact("Lucia", "Gomez", country="GT")
    lead = api("lead")
    assert [c["last_name"] for c in lead.get("/api/v1/contacts?country=BD").json["items"]] == [
        "Akter"
    ]
    found = lead.get("/api/v1/contacts?q=rahima").json["items"]
    assert [c["email"] for c in found] == ["r@example.org"]
    assert (
        lead.get(f"/api/v1/contacts?organization_id={org.id}").json["items"][0]["first_name"]
        == "Rahima"
    )
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert lead.get("/api/v1/contacts", query_string={"updated_since": later}).json["items"] == []


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "limit=x", "sort=evil", "kind=x", "owner=99999999999999",
     "updated_since=yesterday", "organization_id=-1", "total=maybe"],
)  # fmt: skip
def test_odd_list_arguments_are_refused_with_the_field_named(api, query):
    answer = api("lead").get(f"/api/v1/contacts?{query}")
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert query.split("=")[0] in answer.json["errors"]["query"]


def test_a_mangled_cursor_starts_from_the_first_page(api, make_contact):
    make_contact("Ama", "Test")
    answer = api("lead").get("/api/v1/contacts?after=%%%not-a-cursor")
    assert answer.status_code == 200 and answer.json["items"][0]["first_name"] == "Ama"


def test_a_contact_is_created_with_the_forms_checks_and_audited_as_its_user(api, db):
    lead = api("lead")
    made = lead.post(
        "/api/v1/contacts",
        json={"first_name": "Nasrin", "last_name": "Sultana", "email": "NASRIN@example.org",
              "country": "Bangladesh", "languages": ["Bengali", "en"], "tags": ["Dhaka 2027"]},
    )  # fmt: skip
    assert made.status_code == 201
    body = made.json
    assert body["email"] == "nasrin@example.org" and body["country"] == "BD"
    assert body["languages"] == ["bn", "en"] and body["tags"] == ["dhaka 2027"]
    assert made.headers["ETag"] == f'"contact-{body["id"]}-v1"'
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "contact"))
    assert entry.actor_id == lead.user.id and entry.summary == "Created Nasrin Sultana"
    assert entry.actor_label == f"{lead.user.email} (via API, token test)"
    again = lead.post(
        "/api/v1/contacts", json={"first_name": "Other", "email": "nasrin@example.org"}
    )
    assert again.status_code == 422
    assert again.json["errors"] == {
        "email": ["Another contact already has the email nasrin@example.org."]
    }
    missing = lead.post("/api/v1/contacts", json={"last_name": "No first name"})
    assert missing.status_code == 422 and "first_name" in missing.json["errors"]["json"]
    unknown = lead.post("/api/v1/contacts", json={"first_name": "A", "is_admin": True})
    assert unknown.status_code == 422 and "is_admin" in unknown.json["errors"]["json"]
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 1


def test_a_change_sent_with_an_old_etag_is_refused_and_changes_nothing(api, make_contact, db):
    contact = make_contact("Kofi", "Abdi", title="Organizer")
    lead = api("lead")
    read = lead.get(f"/api/v1/contacts/{contact.id}")
    etag = read.headers["ETag"]
    changed = lead.patch(
        f"/api/v1/contacts/{contact.id}",
        json={"title": "Lead organizer"},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200
    assert changed.json["title"] == "Lead organizer" and changed.json["last_name"] == "Abdi"
    assert changed.headers["ETag"] != etag
    stale = lead.patch(
        f"/api/v1/contacts/{contact.id}", json={"title": "Overwritten"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412 and stale.content_type == "application/problem+json"
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).title == "Lead organizer"
    stale_delete = lead.delete(f"/api/v1/contacts/{contact.id}", headers={"If-Match": etag})
    assert stale_delete.status_code == 412


def test_roles_and_read_only_tokens_are_held_to_their_rights(api, make_contact, db):
    contact = make_contact("Ama", "Test")
    assert api("volunteer").get(f"/api/v1/contacts/{contact.id}").status_code == 200
    assert api("volunteer").delete(f"/api/v1/contacts/{contact.id}").status_code == 403
    assert api("champion").get("/api/v1/contacts").status_code == 403
    assert api("viewer").get(f"/api/v1/contacts/{contact.id}").status_code == 403
    reader = api("lead", read_only=True)
    assert reader.get(f"/api/v1/contacts/{contact.id}").status_code == 200
    refused = reader.patch(f"/api/v1/contacts/{contact.id}", json={"title": "X"})
    assert refused.status_code == 403 and refused.json["title"] == "The token is read-only"
    contact_id = contact.id
    assert api("lead").delete(f"/api/v1/contacts/{contact_id}").status_code == 204
    assert api("lead").get(f"/api/v1/contacts/{contact_id}").status_code == 404


def test_a_contact_with_history_is_not_deleted(api, make_contact, db):
    from crm.champions.models import Champion, Stage

    contact = make_contact("Ama", "Test")
    db.session.add(Champion(contact_id=contact.id, stage=list(Stage)[0]))
    db.session.commit()
    answer = api("lead").delete(f"/api/v1/contacts/{contact.id}")
    assert answer.status_code == 422 and "cannot be deleted" in answer.json["detail"]
    assert db.session.get(Contact, contact.id) is not None


def test_a_post_repeated_with_its_idempotency_key_creates_once(api, db):
    lead = api("lead")
    key = {"Idempotency-Key": "create-nasrin-1"}
    body = {"first_name": "Nasrin", "email": "nasrin@example.org"}
    first = lead.post("/api/v1/contacts", json=body, headers=key)
    again = lead.post("/api/v1/contacts", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 1
    other = lead.post("/api/v1/contacts", json={"first_name": "Someone else"}, headers=key)
    assert other.status_code == 422 and "another request" in other.json["title"]
    # Keys are each token's own: another token's same key is another request.
    assert (
        api("lead").post("/api/v1/contacts", json={"first_name": "X"}, headers=key).status_code
        == 201
    )
    bad = lead.post("/api/v1/contacts", json=body, headers={"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400


def test_a_refused_post_is_not_kept_under_its_key(api, db):
    lead = api("lead")
    key = {"Idempotency-Key": "retry-me"}
    refused = lead.post(
        "/api/v1/contacts", json={"first_name": "A", "country": "Atlantis"}, headers=key
    )
    assert refused.status_code == 422
    fixed = lead.post("/api/v1/contacts", json={"first_name": "A", "country": "Ghana"}, headers=key)
    assert fixed.status_code == 201 and fixed.json["country"] == "GH"


def test_an_owner_who_is_not_a_user_is_refused_not_a_500(api, db):
    """Found by the schema test: the form offers only users, the API takes any number."""
    answer = api("lead").post("/api/v1/contacts", json={"first_name": "A", "owner_id": 987654})
    assert answer.status_code == 422 and "owner_id" in answer.json["errors"]
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0


def test_json_bodies_are_read_as_the_app_reads_them(api, db):
    """Control characters are removed as from forms (PostgreSQL refuses NUL in text), and a
    body nested too deeply is a 400, not a RecursionError."""
    lead = api("lead")
    made = lead.post("/api/v1/contacts", json={"first_name": "\u0000Ama\u000b", "title": "a\x00b"})
    assert made.status_code == 201 and made.json["first_name"] == "Ama"
    assert made.json["title"] == "ab"
    only_nul = lead.post("/api/v1/contacts", json={"first_name": "\u0000"})
    assert only_nul.status_code == 422 and "first_name" in only_nul.json["errors"]["json"]
    deep = "[" * 50_000 + "]" * 50_000
    nested = lead.post("/api/v1/contacts", data=deep, content_type="application/json")
    assert nested.status_code == 400 and nested.content_type == "application/problem+json"
    broken = lead.post("/api/v1/contacts", data="{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.content_type == "application/problem+json"


def test_a_body_past_the_apis_limit_is_refused_before_it_is_read(app, api, db, monkeypatch):
    monkeypatch.setitem(app.config, "API_MAX_BODY_BYTES", 2048)
    lead = api("lead")
    big = lead.post("/api/v1/contacts", json={"first_name": "A", "notes": "x" * 5000})
    assert big.status_code == 413 and big.content_type == "application/problem+json"
    assert "2,048 bytes" in big.json["detail"]
    assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0
    assert lead.post("/api/v1/contacts", json={"first_name": "A"}).status_code == 201
