"""Events and their people: consent, deletion, erasure of audit text, past events, undo of
a check-in, the online link, addresses, figures by country."""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.contacts.models import ConsentStatus, Contact
from crm.core.flood import bucket
from crm.events.models import Participation, ParticipationStatus
from crm.events.operations import places as place_ops


def test_a_public_form_never_overrides_recorded_consent(
    client, make_event, make_contact, registration, db
):
    event = make_event()
    withdrawn = make_contact(email="no@example.org", consent_status=ConsentStatus.WITHDRAWN)
    unknown = make_contact(email="maybe@example.org")
    client.post(f"/e/{event.id}", data=registration(email="no@example.org", consent="y"))
    client.post(f"/e/{event.id}", data=registration(email="maybe@example.org", consent="y"))
    db.session.refresh(withdrawn)
    db.session.refresh(unknown)
    assert withdrawn.consent_status is ConsentStatus.WITHDRAWN  # a recorded no stays no
    assert unknown.consent_status is ConsentStatus.GRANTED  # never asked before: now yes


def test_registering_again_changes_no_consent_either(
    client, make_event, make_contact, registration, db
):
    event = make_event()
    contact = make_contact(email="again@example.org")
    place_ops.register(None, event, contact)
    db.session.commit()
    client.post(f"/e/{event.id}", data=registration(email="again@example.org", consent="y"))
    db.session.refresh(contact)
    assert contact.consent_status is ConsentStatus.UNKNOWN


def test_a_contact_with_history_cannot_be_deleted_only_erased(
    client, as_role, make_event, make_contact, db
):
    as_role("lead")
    event = make_event()
    contact = make_contact("Kofi", "Okafor")
    place_ops.register(None, event, contact)
    db.session.commit()
    response = client.post(f"/contacts/{contact.id}/delete")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot be deleted: they took part in 1 event" in page
    assert db.session.get(Contact, contact.id) is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participation)) == 1


def test_erasure_blanks_the_audit_text_about_their_participation(ctx, make_event, make_contact, db):
    from crm.contacts.operations import erase_contact

    event = make_event()
    contact = make_contact("Kofi", "Okafor", email="kofi@example.org")
    participation, _ = place_ops.register(None, event, contact)
    db.session.commit()
    erase_contact(None, contact)
    db.session.commit()
    summaries = db.session.scalars(
        sa.select(AuditEntry.summary).where(
            AuditEntry.object_type == "participation", AuditEntry.object_id == participation.id
        )
    ).all()
    assert summaries and all("Kofi" not in s for s in summaries)


def test_nobody_is_promoted_or_emailed_once_the_event_has_started(
    make_event, make_contact, db, outbox
):
    event = make_event(capacity=1, days=-1)  # began yesterday
    seated, _ = place_ops.register(None, event, make_contact(email="a@example.org"))
    place_ops.register(None, event, make_contact(email="b@example.org"))
    assert place_ops.cancel(None, seated) == []
    assert place_ops.promote_waitlist(None, event) == []
    assert outbox() == []


def test_undoing_a_check_in_puts_a_waitlisted_person_back_in_line(make_event, make_contact, db):
    event = make_event(capacity=1)
    place_ops.register(None, event, make_contact())
    waiting, outcome = place_ops.register(None, event, make_contact())
    assert outcome is place_ops.Outcome.WAITLISTED
    first_in_line_since = waiting.waitlisted_at
    place_ops.check_in(None, waiting)  # clicked the wrong row
    place_ops.undo_check_in(None, waiting)
    assert waiting.status is ParticipationStatus.WAITLISTED
    assert waiting.waitlisted_at == first_in_line_since
    assert place_ops.seats_taken(event) == 1  # capacity still holds


def test_the_online_link_goes_only_to_people_with_a_place(
    client, make_event, make_contact, registration, db, outbox
):
    event = make_event(capacity=1, online_url="https://meet.example.org/secret-room")
    public_ics = client.get(f"/e/{event.id}/event.ics").get_data(as_text=True)
    assert "secret-room" not in public_ics and "LOCATION:Online" in public_ics
    client.post(f"/e/{event.id}", data=registration(email="first@example.org"))
    client.post(f"/e/{event.id}", data=registration(email="second@example.org"))
    registered, waitlisted = outbox()
    assert "secret-room" in registered.get_content()
    assert "secret-room" not in waitlisted.get_content()


def test_ipv6_clients_are_counted_by_network():
    assert bucket("2001:db8:1:2:3:4:5:6") == bucket("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert bucket("2001:db8:1:3::1") != bucket("2001:db8:1:2::1")
    assert bucket("203.0.113.7") == "203.0.113.7"
    assert bucket("::ffff:203.0.113.7") == "203.0.113.7"


def test_figures_fall_back_to_the_organizations_country(make_event, make_contact, make_org, db):
    from crm.events.queries import figures

    org = make_org("Dhaka Knit", country="BD")
    event = make_event()
    place_ops.register(None, event, make_contact(organization_id=org.id))  # no own country
    place_ops.register(None, event, make_contact(country="VN", organization_id=org.id))
    rows = {r.group: r.registered for r in figures(event).by_country.itertuples()}
    assert rows == {"Bangladesh": 1, "Viet Nam": 1}


def test_links_in_public_emails_ignore_the_host_header(
    client, make_event, registration, db, outbox
):
    event = make_event()
    client.post(
        f"/e/{event.id}",
        data=registration(email="host@example.org"),
        headers={"Host": "evil.example"},
    )
    assert "evil.example" not in outbox()[0].get_content()
