"""The duplicates page and the merge page: who may use them, and what a lead sees after."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.duplicates.models import DuplicateDismissal
from crm.organizations.models import Organization


def _pair(make_org, make_contact):
    org = make_org("Golden Thread Garments")
    a = make_contact("Farhana", "Rahman", email="farhana@example.org", organization_id=org.id)
    b = make_contact("Farhana", "Rahmen", phone="+880 171 555 0101", organization_id=org.id)
    return a, b


def test_only_leads_and_admins_see_the_page(client, as_role, make_org, make_contact):
    a, b = _pair(make_org, make_contact)
    for role in ("volunteer", "viewer", "champion", "org_rep"):
        as_role(role)
        assert client.get("/duplicates/").status_code == 403
        assert client.post(f"/duplicates/contacts/{a.id}/{b.id}", data={}).status_code == 403
        assert client.post(f"/duplicates/contacts/{a.id}/{b.id}/dismiss").status_code == 403
    for role in ("lead", "admin"):
        as_role(role)
        assert client.get("/duplicates/").status_code == 200


def test_the_page_lists_pairs_with_score_and_reason(
    client, as_role, make_org, make_contact, scanned
):
    as_role("lead")
    a, b = _pair(make_org, make_contact)
    scanned()
    text = client.get("/duplicates/").get_data(as_text=True)
    assert "Farhana Rahmen" in text and "in Golden Thread Garments" in text
    assert f"/duplicates/contacts/{a.id}/{b.id}" in text
    make_org("Acme Ltd")
    make_org("ACME Inc.")
    scanned()
    text = client.get("/duplicates/?kind=organizations").get_data(as_text=True)
    assert "same name without the legal form" in text and "ACME Inc." in text
    assert client.get("/duplicates/?kind=people").status_code == 404
    assert client.post("/duplicates/scan", data={"kind": "contacts"}).status_code == 302


def test_merge_page_and_merge(client, as_role, make_org, make_contact, db, scanned):
    as_role("lead")
    a, b = _pair(make_org, make_contact)
    scanned()
    url = f"/duplicates/contacts/{a.id}/{b.id}"
    assert url in client.get("/duplicates/").get_data(as_text=True)
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "% alike in" in text and "Keep this record" in text
    form = {
        "survivor": "first",
        "first_version": str(a.version),
        "second_version": str(b.version),
        "choice-last_name": "first",
        "choice-phone": "second",
    }
    a_id, b_id = a.id, b.id
    response = client.post(url, data=form)
    assert response.status_code == 302 and response.location.endswith(f"/contacts/{a_id}")
    assert db.session.get(Contact, b_id) is None
    kept = db.session.get(Contact, a_id)
    assert (kept.last_name, kept.phone) == ("Rahman", "+880 171 555 0101")
    # The same form again (a double submit, or a second tab): told where it went.
    again = client.post(url, data=form, follow_redirects=True)
    assert "already merged into" in again.get_data(as_text=True)
    assert db.session.get(Contact, a_id) is not None
    # The pair is gone from the list.
    assert f"/duplicates/contacts/{a_id}/{b_id}" not in client.get("/duplicates/").get_data(
        as_text=True
    )


def test_the_second_can_survive(client, as_role, make_contact, db):
    as_role("lead")
    a, b = make_contact("Ana", "Lima"), make_contact("Ana", "Lima", email="ana@example.org")
    a_id, b_id = a.id, b.id
    response = client.post(
        f"/duplicates/contacts/{a_id}/{b_id}",
        data={"survivor": "second", "choice-email": "second"},
    )
    assert response.location.endswith(f"/contacts/{b_id}")
    assert db.session.get(Contact, a_id) is None
    assert db.session.get(Contact, b_id).email == "ana@example.org"


def test_stale_form_and_bad_input_change_nothing(client, as_role, make_contact, db):
    as_role("lead")
    a, b = make_contact("Ana", "Lima"), make_contact("Ana", "Lima")
    url = f"/duplicates/contacts/{a.id}/{b.id}"
    stale = client.post(
        url, data={"survivor": "first", "first_version": "1", "second_version": "99"}
    )
    assert stale.status_code == 422
    assert "Someone else saved this record" in stale.get_data(as_text=True)
    bad = client.post(url, data={"survivor": "first", "choice-email": "third"})
    assert bad.status_code == 422 and "not a choice" in bad.get_data(as_text=True)
    neither = client.post(url, data={"survivor": "neither"})
    assert neither.status_code == 422 and "Pick which of the two records" in neither.get_data(
        as_text=True
    )
    itself = client.post(f"/duplicates/contacts/{a.id}/{a.id}", follow_redirects=True)
    assert "cannot be merged into itself" in itself.get_data(as_text=True)
    missing = client.get(f"/duplicates/contacts/{a.id}/987654", follow_redirects=True)
    assert "no longer exists" in missing.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2


def test_refused_merge_says_why(client, as_role, make_org, db, current):
    from crm.pledges.operations import lifecycle as pledge_ops

    as_role("lead")
    a, b = make_org("Acme"), make_org("Acme Ltd")
    for org in (a, b):
        pledge_ops.create_pledge(None, org, current)
    db.session.commit()
    url = f"/duplicates/organizations/{a.id}/{b.id}"
    assert "Cannot merge yet" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={"survivor": "first"})
    assert response.status_code == 422
    assert "Withdraw one of the two pledges first" in response.get_data(as_text=True)
    assert db.session.get(Organization, b.id) is not None


def test_dismiss_hides_the_pair(client, as_role, make_org, make_contact, db, scanned):
    as_role("lead")
    a, b = _pair(make_org, make_contact)
    scanned()
    assert f"/duplicates/contacts/{a.id}/{b.id}" in client.get("/duplicates/").get_data(
        as_text=True
    )
    response = client.post(
        f"/duplicates/contacts/{a.id}/{b.id}/dismiss", data={"next": "https://evil.example/"}
    )
    assert response.location.endswith("/duplicates/?kind=contacts")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DuplicateDismissal)) == 1
    text = client.get("/duplicates/").get_data(as_text=True)
    assert "No likely duplicates" in text
    again = client.post(f"/duplicates/contacts/{a.id}/{b.id}/dismiss", follow_redirects=True)
    assert "already marked" in again.get_data(as_text=True)


def test_forms_need_a_csrf_token(app, client, as_role, make_contact, db):
    as_role("lead")
    a, b = make_contact("Ana", "Lima"), make_contact("Ana", "Lima")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for url in (
            f"/duplicates/contacts/{a.id}/{b.id}",
            f"/duplicates/contacts/{a.id}/{b.id}/dismiss",
            "/duplicates/scan",
        ):
            assert client.post(url, data={"survivor": "first"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.get(Contact, b.id) is not None


def test_a_place_freed_by_a_merge_goes_to_the_first_on_the_waitlist(
    client, as_role, make_contact, db, outbox
):
    """Both records held a place in a full event: the merge keeps one, and the place the other
    held goes to the waitlist, who is told by email."""
    from datetime import datetime, timedelta

    from crm.events.models import Participation, ParticipationStatus
    from crm.events.operations import events as event_ops
    from crm.events.operations import places as place_ops

    start = (datetime.now() + timedelta(days=10)).replace(microsecond=0)
    event = event_ops.create_event(
        None,
        event_ops.EventFields(
            name="Small room", kind="roundtable", hosting="hosted", starts_local=start,
            ends_local=start + timedelta(hours=2), timezone="UTC", capacity=2, is_public=True,
        ),
    )  # fmt: skip
    a = make_contact("Ana", "Lima", email="ana@example.org")
    b = make_contact("Ana", "Lima", email="ana.lima@example.org")
    bo = make_contact("Bo", "Berg", email="bo@example.org")
    for person in (a, b, bo):
        place_ops.register(None, event, person)
    db.session.commit()
    waiting = db.session.scalar(sa.select(Participation).where(Participation.contact_id == bo.id))
    assert waiting.status is ParticipationStatus.WAITLISTED
    as_role("lead")
    response = client.post(
        f"/duplicates/contacts/{a.id}/{b.id}", data={"survivor": "first"}, follow_redirects=True
    )
    assert "went to Bo Berg from the waitlist" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Participation, waiting.id).status is ParticipationStatus.REGISTERED
    seated = db.session.scalars(
        sa.select(Participation).where(
            Participation.event_id == event.id,
            Participation.status == ParticipationStatus.REGISTERED,
        )
    ).all()
    assert len(seated) == 2  # the capacity, no more
    assert any("bo@example.org" in str(message["To"]) for message in outbox())


def test_the_list_stacks_on_a_phone(client, as_role, make_org, scanned):
    """Each cell carries its label, and the table a class that stacks it below 768 px (the
    stylesheet's rule): names, reasons and buttons get the whole width on a phone."""
    as_role("lead")
    make_org("ACME Ltd")
    make_org("ACME Inc.")
    scanned()
    page = client.get("/duplicates/?kind=organizations").get_data(as_text=True)
    assert 'class="table table-hover align-middle mb-0 stack-table" id="duplicate-pairs"' in page
    for label in ("Score", "First", "Second", "Why"):
        assert f'data-label="{label}"' in page
    assert 'style="max-width' not in page  # widths live in the stylesheet, undone on a phone
    from pathlib import Path

    css = (Path(__file__).parents[2] / "static/css/app.css").read_text()
    assert ".stack-table tr" in css.split("@media (max-width: 767.98px)")[-1]
