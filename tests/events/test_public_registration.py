from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import ConsentStatus, Contact
from crm.events.models import Participation, ParticipationStatus
from crm.events.operations import places as place_ops


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_public_registers_without_an_account(client, make_event, registration, db, outbox):
    event = make_event(capacity=10)
    page = client.get(f"/e/{event.id}")
    assert page.status_code == 200 and "Register" in page.get_data(as_text=True)
    response = client.post(
        f"/e/{event.id}", data=registration(organization="Sunrise Knitwear", consent="y")
    )
    assert response.status_code == 302
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You are registered" in done
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == "rahima@example.org"))
    assert contact.full_name == "Rahima Khatun"
    assert contact.consent_status is ConsentStatus.GRANTED
    assert contact.consent_source == f"Event registration: {event.name}"
    participation = db.session.scalar(sa.select(Participation))
    assert participation.status is ParticipationStatus.REGISTERED
    assert participation.source == "public form"
    assert participation.organization_text == "Sunrise Knitwear"  # no such organization of ours
    (mail,) = outbox()
    assert mail["To"] == "rahima@example.org" and "You are registered" in mail["Subject"]


def test_registering_twice_changes_nothing_and_says_so(
    client, make_event, registration, db, outbox
):
    event = make_event(capacity=10)
    client.post(f"/e/{event.id}", data=registration())
    response = client.post(
        f"/e/{event.id}", data=registration(first_name="Someone", email="RAHIMA@example.org")
    )
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already on the list for this event, so nothing was changed" in text
    assert count(db, Participation) == 1 and count(db, Contact) == 1
    assert db.session.scalar(sa.select(Contact.first_name)) == "Rahima"
    assert len(outbox()) == 1  # no second confirmation


def test_a_full_event_waitlists_then_a_cancellation_promotes(
    client, as_role, make_event, make_contact, registration, db, outbox
):
    event = make_event(capacity=1)
    seated = make_contact(email="seated@example.org")
    taken, _ = place_ops.register(None, event, seated)
    db.session.commit()
    response = client.post(f"/e/{event.id}", data=registration())
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You are on the waitlist" in text
    assert "on the waitlist" in outbox()[0]["Subject"]
    waiting = db.session.scalar(
        sa.select(Participation).where(Participation.contact_id != seated.id)
    )
    assert waiting.status is ParticipationStatus.WAITLISTED
    as_role("lead")
    client.post(f"/events/participations/{taken.id}", data={"action": "cancel"})
    db.session.refresh(waiting)
    assert waiting.status is ParticipationStatus.REGISTERED
    assert "A place is yours" in outbox()[-1]["Subject"]
    assert outbox()[-1]["To"] == "rahima@example.org"


def test_registration_never_overwrites_what_a_lead_entered(
    client, make_event, make_contact, make_org, registration, db
):
    org = make_org("Atlas Apparel")
    contact = make_contact(
        "Rahima",
        "Begum",
        email="rahima@example.org",
        organization_id=org.id,
        title="Head of Sustainability",
        consent_status=ConsentStatus.WITHDRAWN,
    )
    event = make_event()
    client.post(
        f"/e/{event.id}",
        data=registration(first_name="R.", last_name="K.", organization="Other Org"),
    )
    db.session.refresh(contact)
    assert (contact.first_name, contact.last_name, contact.title) == (
        "Rahima",
        "Begum",
        "Head of Sustainability",
    )
    assert contact.organization_id == org.id
    assert contact.consent_status is ConsentStatus.WITHDRAWN  # no tick, no change
    participation = db.session.scalar(sa.select(Participation))
    assert participation.contact_id == contact.id
    assert participation.organization_text is None  # their record already names one
    assert count(db, Contact) == 1


def test_a_new_contact_is_linked_to_a_known_organization(
    client, make_event, make_org, registration, db
):
    org = make_org("Atlas Apparel")
    event = make_event()
    client.post(f"/e/{event.id}", data=registration(organization="atlas apparel"))
    contact = db.session.scalar(sa.select(Contact))
    assert contact.organization_id == org.id


def test_closed_past_and_internal_events_refuse(client, make_event, registration, db):
    closed = make_event("Closed", registration_open=False)
    past = make_event("Past", days=-3)
    internal = make_event("Internal", is_public=False)
    response = client.post(f"/e/{closed.id}", data=registration())
    assert response.status_code == 409
    assert "Registration is closed." in response.get_data(as_text=True)
    response = client.post(f"/e/{past.id}", data=registration())
    assert response.status_code == 409
    assert "already taken place" in response.get_data(as_text=True)
    assert "already taken place" in client.get(f"/e/{past.id}").get_data(as_text=True)
    assert client.get(f"/e/{internal.id}").status_code == 404
    assert client.post(f"/e/{internal.id}", data=registration()).status_code == 404
    assert client.get("/e/987654").status_code == 404
    assert count(db, Participation) == 0 and count(db, Contact) == 0


def test_bad_registrations_are_refused_with_field_errors(client, make_event, registration, db):
    event = make_event()
    for overrides, message in [
        ({"email": "not-an-email"}, "That is not an email address."),
        ({"email": ""}, "Give your email address."),
        ({"last_name": ""}, "This field is required."),
        ({"first_name": "x" * 101}, "Field cannot be longer than 100 characters."),
    ]:
        response = client.post(f"/e/{event.id}", data=registration(**overrides))
        assert response.status_code == 422, overrides
        text = response.get_data(as_text=True)
        assert message in text, overrides
        assert "You are not registered yet" in text
    assert count(db, Participation) == 0 and count(db, Contact) == 0


def test_a_bot_filling_the_hidden_field_stores_nothing(client, make_event, registration, db):
    event = make_event()
    response = client.post(f"/e/{event.id}", data=registration(website="http://spam.example"))
    assert response.status_code == 302  # looks accepted to the bot
    assert count(db, Participation) == 0 and count(db, Contact) == 0


def test_floods_from_one_address_are_refused(app, client, make_event, registration, db):
    event = make_event()
    limit = app.config["PUBLIC_FORM_HOURLY_LIMIT"]
    for n in range(limit):
        response = client.post(f"/e/{event.id}", data=registration(email=f"p{n}@example.org"))
        assert response.status_code == 302
    response = client.post(f"/e/{event.id}", data=registration(email="one-too-many@example.org"))
    assert response.status_code == 422
    assert "Too many submissions from your network" in response.get_data(as_text=True)
    assert count(db, Participation) == limit
    # Another address is not affected.
    other = client.post(
        f"/e/{event.id}",
        data=registration(email="elsewhere@example.org"),
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 302


def test_forged_posts_without_a_csrf_token_are_refused(app, client, make_event, registration, db):
    event = make_event()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/e/{event.id}", data=registration())
        assert response.status_code == 400
        assert "The form has expired" in response.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert count(db, Participation) == 0


def test_public_calendar_file(client, make_event):
    event = make_event()
    response = client.get(f"/e/{event.id}/event.ics")
    assert response.status_code == 200
    assert f"/e/{event.id}" in response.get_data(as_text=True)


def test_behind_a_trusted_proxy_the_client_address_counts(app, make_event, registration, db):
    """With CRM_TRUSTED_PROXIES set, each client behind the proxy has a limit of its own."""
    from crm import trust_proxies

    event = make_event()
    original = app.wsgi_app
    app.config["TRUSTED_PROXIES"] = 1
    app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 1
    try:
        trust_proxies(app)
        client = app.test_client()
        for n, address in enumerate(["203.0.113.1", "203.0.113.2"]):
            response = client.post(
                f"/e/{event.id}",
                data=registration(email=f"p{n}@example.org"),
                headers={"X-Forwarded-For": address},
            )
            assert response.status_code == 302, address
        again = client.post(
            f"/e/{event.id}",
            data=registration(email="p9@example.org"),
            headers={"X-Forwarded-For": "203.0.113.1"},
        )
        assert again.status_code == 422
    finally:
        app.wsgi_app = original
        app.config["TRUSTED_PROXIES"] = 0
        app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 20
