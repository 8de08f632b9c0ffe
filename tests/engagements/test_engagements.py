from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from crm.engagements.models import Engagement

TODAY = date.today()


def engagement_form(**overrides):
    data = {
        "kind": "listening_session",
        "occurred_on": TODAY.isoformat(),
        "summary": "Listening session with night-shift workers",
        "heard": "Workers want to know what happens after they report.",
        "organization": "",
        "contact_ids": [],
        "follow_up_on": "",
        "follow_up_owner_id": "",
        "follow_up_note": "",
    }
    data.update(overrides)
    return data


def test_log_an_engagement_with_contacts_and_organization(
    client, as_role, make_org, make_contact, db
):
    as_role("volunteer")
    org = make_org("Sunrise Knitwear")
    a = make_contact("Nusrat", "Akter", organization_id=org.id)
    b = make_contact("Imran", "Hossain", organization_id=org.id)
    response = client.post(
        "/engagements/new",
        data=engagement_form(organization="Sunrise Knitwear", contact_ids=[a.id, b.id]),
    )
    assert response.status_code == 302
    engagement = db.session.scalar(sa.select(Engagement))
    assert {c.id for c in engagement.contacts} == {a.id, b.id}
    assert engagement.organization_id == org.id
    # It shows on both people's timelines and the organization's.
    for url in (f"/contacts/{a.id}", f"/contacts/{b.id}", f"/organizations/{org.id}"):
        assert "Listening session with night-shift workers" in client.get(url).get_data(
            as_text=True
        )


def test_new_engagement_form_is_prefilled_from_a_contact(client, as_role, make_org, make_contact):
    as_role("lead")
    org = make_org("Delta Components")
    contact = make_contact("Minh", "Tran", organization_id=org.id)
    text = client.get(f"/engagements/new?contact={contact.id}").get_data(as_text=True)
    assert f'value="{contact.id}" checked' in text
    assert 'value="Delta Components"' in text


def test_bad_engagement_input_is_refused(client, as_role, make_contact, db, make_user):
    as_role("lead")
    contact = make_contact()
    inactive = make_user("volunteer", active=False)
    cases = [
        (engagement_form(contact_ids=[]), "at least one contact or an organization"),
        (engagement_form(contact_ids=[contact.id], occurred_on=""), "Give the date"),
        (engagement_form(contact_ids=[contact.id], occurred_on="31/02/2026"), "Not a valid date"),
        (engagement_form(contact_ids=[contact.id], summary="s" * 301), "longer than 300"),
        (engagement_form(contact_ids=[999999]), "no longer exists"),
        (engagement_form(contact_ids=[contact.id], organization="Nope Inc"), "no organization"),
        (
            engagement_form(contact_ids=[contact.id], follow_up_on=TODAY.isoformat()),
            "A follow-up needs an owner",
        ),
        (
            engagement_form(contact_ids=[contact.id], follow_up_note="Call back"),
            "Give a date for this follow-up",
        ),
        (
            engagement_form(contact_ids=[contact.id], occurred_on="2030-01-01"),
            "looks mistyped",
        ),
        (
            engagement_form(
                contact_ids=[contact.id],
                follow_up_on=(TODAY - timedelta(days=1)).isoformat(),
                follow_up_owner_id=str(inactive.id),
            ),
            "before the engagement itself",
        ),
        (
            engagement_form(
                contact_ids=[contact.id],
                follow_up_on=TODAY.isoformat(),
                follow_up_owner_id=str(inactive.id),
            ),
            "not an active user",
        ),
    ]
    for data, message in cases:
        response = client.post("/engagements/new", data=data)
        text = response.get_data(as_text=True)
        assert response.status_code == 422, (data, response.status_code)
        assert message in text, (message, text[:3000])
        assert "Workers want to know what happens" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Engagement)) == 0


def test_my_follow_ups_groups_overdue_due_and_later(client, as_role, make_contact, make_user, db):
    me = as_role("lead")
    someone_else = make_user("volunteer")
    contact = make_contact()
    plans = [
        ("Overdue call", TODAY - timedelta(days=3), me),
        ("Due soon", TODAY + timedelta(days=2), me),
        ("Much later", TODAY + timedelta(days=40), me),
        ("Not mine", TODAY - timedelta(days=1), someone_else),
    ]
    for note, when, owner in plans:
        client.post(
            "/engagements/new",
            data=engagement_form(
                contact_ids=[contact.id],
                follow_up_on=when.isoformat(),
                occurred_on=(TODAY - timedelta(days=10)).isoformat(),
                follow_up_owner_id=str(owner.id),
                follow_up_note=note,
            ),
        )
    text = client.get("/engagements/follow-ups").get_data(as_text=True)
    overdue, rest = text.split("Due this week", 1)
    due, later = rest.split("Later", 1)
    assert "Overdue call" in overdue and "Due soon" in due and "Much later" in later
    assert "Not mine" not in text

    overdue_id = db.session.scalar(
        sa.select(Engagement.id).where(Engagement.follow_up_note == "Overdue call")
    )
    assert client.post(f"/engagements/{overdue_id}/follow-up-done").status_code == 302
    assert "Overdue call" not in client.get("/engagements/follow-ups").get_data(as_text=True)
    # Twice is harmless and says so.
    again = client.post(f"/engagements/{overdue_id}/follow-up-done", follow_redirects=True)
    assert "already done" in again.get_data(as_text=True)


def test_follow_up_done_never_redirects_off_site(client, as_role, make_contact, db):
    me = as_role("lead")
    contact = make_contact()
    client.post(
        "/engagements/new",
        data=engagement_form(
            contact_ids=[contact.id], follow_up_on=TODAY.isoformat(), follow_up_owner_id=str(me.id)
        ),
    )
    engagement_id = db.session.scalar(sa.select(Engagement.id))
    response = client.post(
        f"/engagements/{engagement_id}/follow-up-done", data={"next": "https://evil.example"}
    )
    assert response.headers["Location"] == "/engagements/follow-ups"


def test_edit_engagement_audit_and_conflict(client, as_role, make_contact, db):
    as_role("lead")
    a = make_contact("Ana", "Silva")
    b = make_contact("Rafael", "Souza")
    client.post("/engagements/new", data=engagement_form(contact_ids=[a.id]))
    engagement = db.session.scalar(sa.select(Engagement))
    v = engagement.version
    ok = client.post(
        f"/engagements/{engagement.id}/edit",
        data=engagement_form(contact_ids=[a.id, b.id], summary="Renamed", version=v),
    )
    assert ok.status_code == 302
    page = client.get(f"/engagements/{engagement.id}").get_data(as_text=True)
    assert "Renamed" in page and "Rafael Souza" in page
    late = client.post(
        f"/engagements/{engagement.id}/edit",
        data=engagement_form(contact_ids=[a.id], summary="Stale", version=v),
    )
    assert late.status_code == 409
    assert db.session.get(Engagement, engagement.id).summary == "Renamed"


def test_engagement_list_filters_by_kind(client, as_role, make_contact):
    as_role("viewer")  # viewers have no access to the engagement log
    assert client.get("/engagements/").status_code == 403
    as_role("volunteer")
    c = make_contact()
    client.post(
        "/engagements/new", data=engagement_form(contact_ids=[c.id], summary="A call", kind="call")
    )
    client.post(
        "/engagements/new",
        data=engagement_form(contact_ids=[c.id], summary="A survey", kind="survey"),
    )
    text = client.get("/engagements/?kind=call").get_data(as_text=True)
    assert "A call" in text and "A survey" not in text


def test_engagement_log_search_and_open_follow_ups(client, as_role, make_contact):
    me = as_role("lead")
    c = make_contact()
    client.post(
        "/engagements/new",
        data=engagement_form(
            contact_ids=[c.id],
            summary="Payslip pilot review",
            heard="Workers like the SMS payslips.",
        ),
    )
    client.post(
        "/engagements/new",
        data=engagement_form(
            contact_ids=[c.id],
            summary="Grievance line call",
            follow_up_on=TODAY.isoformat(),
            follow_up_owner_id=str(me.id),
        ),
    )
    text = client.get("/engagements/?q=payslip").get_data(as_text=True)
    assert "Payslip pilot review" in text and "Grievance line call" not in text
    text = client.get("/engagements/?q=sms+payslips").get_data(as_text=True)
    assert "Payslip pilot review" in text
    text = client.get("/engagements/?open=1").get_data(as_text=True)
    assert "Grievance line call" in text and "Payslip pilot review" not in text
