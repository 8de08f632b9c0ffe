from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.events.models import Event, ParticipantRole, Participation, ParticipationStatus
from crm.events.operations import places as place_ops


def event_form(**overrides):
    start = datetime.now() + timedelta(days=30)
    data = {
        "name": "Supplier workshop: secure grievance channels",
        "kind": "workshop",
        "hosting": "hosted",
        "starts_local": start.strftime("%Y-%m-%dT10:00"),
        "ends_local": start.strftime("%Y-%m-%dT16:30"),
        "timezone": "Asia/Ho_Chi_Minh",
        "venue": "Ho Chi Minh City",
        "online_url": "",
        "country": "VN",
        "capacity": "25",
        "description": "Hands-on session",
        "is_public": "y",
        "registration_open": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_lead_creates_an_event_in_its_own_time_zone(client, as_role, db):
    as_role("lead")
    response = client.post("/events/new", data=event_form())
    assert response.status_code == 302
    event = db.session.scalar(sa.select(Event))
    # 10:00 in Ho Chi Minh City (UTC+7) is 03:00 UTC.
    assert event.starts_at.astimezone(UTC).hour == 3
    assert event.local_start.hour == 10 and event.timezone == "Asia/Ho_Chi_Minh"
    assert event.capacity == 25 and event.is_public and event.country == "VN"
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "10:00 – 16:30" in page and "Asia/Ho_Chi_Minh" in page
    assert f"/e/{event.id}" in page  # the public registration link


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"ends_local": "2020-01-01T10:00"}, "The event must end after it starts."),
        ({"timezone": "Mars/Olympus"}, "is not a time zone we know"),
        ({"capacity": "0"}, "Capacity is a number of places"),
        ({"online_url": "zoom me"}, "The online link must be a web address"),
        ({"country": "Narnia"}, "is not a country we know"),
        ({"hosting": "attended"}, "Only an event we host can take public registrations."),
        ({"starts_local": "next tuesday"}, "Not a valid datetime value."),
    ],
)
def test_bad_events_are_refused_and_keep_what_was_typed(client, as_role, db, overrides, message):
    as_role("lead")
    response = client.post("/events/new", data=event_form(**overrides))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text
    assert "Hands-on session" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_capacity_sends_registrations_past_it_to_the_waitlist(make_event, make_contact, db):
    event = make_event(capacity=2)
    people = [make_contact() for _ in range(4)]
    outcomes = [place_ops.register(None, event, p)[1].value for p in people]
    assert outcomes == ["registered", "registered", "waitlisted", "waitlisted"]
    assert place_ops.seats_taken(event) == 2
    # A cancellation promotes the first person waiting, and only them.
    first = db.session.scalar(
        sa.select(Participation).where(Participation.contact_id == people[0].id)
    )
    promoted = place_ops.cancel(None, first)
    assert [p.contact_id for p in promoted] == [people[2].id]
    statuses = {
        p.contact_id: p.status
        for p in db.session.scalars(
            sa.select(Participation).where(Participation.event_id == event.id)
        )
    }
    assert statuses[people[2].id] is ParticipationStatus.REGISTERED
    assert statuses[people[3].id] is ParticipationStatus.WAITLISTED
    # Cancelling a waitlisted person frees no place and promotes nobody.
    last = db.session.scalar(
        sa.select(Participation).where(Participation.contact_id == people[3].id)
    )
    assert place_ops.cancel(None, last) == []


def test_registering_twice_changes_nothing(make_event, make_contact, db):
    event = make_event(capacity=5)
    contact = make_contact()
    first, outcome = place_ops.register(None, event, contact, role="speaker")
    again, outcome_again = place_ops.register(None, event, contact, role="attendee")
    assert outcome_again is place_ops.Outcome.ALREADY
    assert again.id == first.id and again.role is ParticipantRole.SPEAKER


def test_raising_capacity_promotes_and_lowering_below_the_seated_is_refused(
    client, as_role, make_event, make_contact, db, outbox
):
    as_role("lead")
    event = make_event(capacity=1)
    a, b = make_contact(email="a@example.org"), make_contact(email="b@example.org")
    place_ops.register(None, event, a)
    place_ops.register(None, event, b)
    db.session.commit()
    form = event_form(
        name=event.name,
        timezone=event.timezone,
        starts_local=event.local_start.strftime("%Y-%m-%dT%H:%M"),
        ends_local=event.local_end.strftime("%Y-%m-%dT%H:%M"),
        capacity="2",
        version=event.version,
    )
    response = client.post(f"/events/{event.id}/edit", data=form)
    assert response.status_code == 302
    assert place_ops.seats_taken(event) == 2
    assert [m["To"] for m in outbox()] == ["b@example.org"]
    assert "A place is yours" in outbox()[0]["Subject"]
    db.session.refresh(event)
    response = client.post(
        f"/events/{event.id}/edit", data={**form, "capacity": "1", "version": event.version}
    )
    assert response.status_code == 422
    assert "2 people already hold places" in response.get_data(as_text=True)
    db.session.refresh(event)
    assert event.capacity == 2


def test_staff_cancel_promotes_and_emails_the_next_person(
    client, as_role, make_event, make_contact, db, outbox
):
    as_role("lead")
    event = make_event(capacity=1)
    first = make_contact(email="first@example.org")
    waiting = make_contact("Waiting", "Person", email="waiting@example.org")
    p1, _ = place_ops.register(None, event, first)
    place_ops.register(None, event, waiting)
    db.session.commit()
    response = client.post(f"/events/participations/{p1.id}", data={"action": "cancel"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Promoted from the waitlist: Waiting Person" in page
    assert [m["To"] for m in outbox()] == ["waiting@example.org"]


def test_refused_participation_changes(make_event, make_contact, db):
    event = make_event(capacity=3)
    p, _ = place_ops.register(None, event, make_contact())
    with pytest.raises(OperationError, match="has not started yet"):
        place_ops.mark_no_show(None, p)
    place_ops.cancel(None, p)
    with pytest.raises(OperationError, match="already cancelled"):
        place_ops.cancel(None, p)
    q, _ = place_ops.register(None, event, make_contact())
    place_ops.check_in(None, q)
    with pytest.raises(OperationError, match="already checked in"):
        place_ops.check_in(None, q)
    with pytest.raises(OperationError, match="cannot be cancelled"):
        place_ops.cancel(None, q)


def test_adding_participants_from_the_event_page(client, as_role, make_event, make_contact, db):
    as_role("lead")
    event = make_event(capacity=1)
    a, b = make_contact("Ana", "Silva"), make_contact("Ben", "Osei")
    response = client.post(
        f"/events/{event.id}/participants",
        data={"contact_ids": [a.id, b.id], "role": "attendee", "action": "register"},
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Registered: Ana Silva" in page
    assert "On the waitlist (the event is full): Ben Osei" in page
    # Speakers and panelists are part of the programme: a full event still takes them.
    speaker = make_contact("Cleo", "Mwangi")
    client.post(
        f"/events/{event.id}/participants",
        data={"contact_ids": [speaker.id], "role": "panelist", "action": "register"},
    )
    row = db.session.scalar(sa.select(Participation).where(Participation.contact_id == speaker.id))
    assert (row.role, row.status) == (ParticipantRole.PANELIST, ParticipationStatus.REGISTERED)
    # Nobody picked: a clear message, nothing added.
    response = client.post(f"/events/{event.id}/participants", data={"role": "attendee"})
    assert "Pick at least one contact" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_an_event_with_participants_cannot_be_deleted(
    client, as_role, make_event, make_contact, db
):
    as_role("lead")
    event = make_event()
    place_ops.register(None, event, make_contact())
    db.session.commit()
    client.post(f"/events/{event.id}/delete")
    assert db.session.get(Event, event.id) is not None
    empty = make_event("Empty")
    empty_id = empty.id
    client.post(f"/events/{empty_id}/delete")
    assert db.session.scalar(sa.select(Event.id).where(Event.id == empty_id)) is None


def test_figures_by_organization_kind_and_country(
    client, as_role, make_event, make_contact, make_org, db
):
    as_role("lead")
    event = make_event(days=-1, hours=2)  # started yesterday: attendance counts
    union = make_org("Garment Workers Union", kind="worker_organization")
    brand = make_org("Atlas Apparel", kind="brand")
    people = [
        make_contact(organization_id=union.id, country="BD"),
        make_contact(organization_id=union.id, country="BD"),
        make_contact(organization_id=brand.id, country="DE"),
        make_contact(country="VN"),
    ]
    for person in people:
        place_ops.register(None, event, person)
    parts = db.session.scalars(sa.select(Participation).order_by(Participation.id)).all()
    place_ops.check_in(None, parts[0])
    place_ops.check_in(None, parts[2])
    place_ops.mark_no_show(None, parts[1])
    place_ops.cancel(None, parts[3])
    db.session.commit()
    from crm.events.queries import figures

    f = figures(event)
    assert (f.registered, f.attended) == (3, 2)
    assert round(f.attendance_rate, 2) == 0.67
    by_kind = {r.group: (r.registered, r.attended) for r in f.by_kind.itertuples()}
    assert by_kind == {"Worker organization / union": (2, 1), "Brand / retailer": (1, 1)}
    by_country = {r.group: (r.registered, r.attended) for r in f.by_country.itertuples()}
    assert by_country == {"Bangladesh": (2, 1), "Germany": (1, 1)}
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "67%" in page and "Worker organization / union" in page


def test_ics_file_has_the_local_time_and_zone(client, as_role, make_event):
    as_role("viewer")  # viewers do not see events
    event = make_event(timezone="Europe/Berlin", venue="Messe Berlin")
    assert client.get(f"/events/{event.id}/event.ics").status_code == 403
    as_role("volunteer")
    response = client.get(f"/events/{event.id}/event.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert "BEGIN:VEVENT" in body and "SUMMARY:Dhaka roundtable" in body
    assert "DTSTART;TZID=Europe/Berlin:" in body and "T100000" in body
    assert "BEGIN:VTIMEZONE" in body and "LOCATION:Messe Berlin" in body


def test_participation_shows_on_contact_and_organization_timelines(
    client, as_role, make_event, make_contact, make_org, db
):
    as_role("lead")
    org = make_org("Sunrise Knitwear")
    contact = make_contact("Nusrat", "Akter", organization_id=org.id)
    event = make_event("Listening roundtable")
    place_ops.register(None, event, contact, role="speaker")
    db.session.commit()
    assert "Listening roundtable: speaker, registered" in client.get(
        f"/contacts/{contact.id}"
    ).get_data(as_text=True)
    assert "Nusrat Akter at Listening roundtable" in client.get(
        f"/organizations/{org.id}"
    ).get_data(as_text=True)


def test_volunteers_check_in_but_do_not_edit_events(client, as_role, make_event, make_contact, db):
    as_role("volunteer")
    event = make_event()
    p, _ = place_ops.register(None, event, make_contact())
    db.session.commit()
    assert client.get(f"/events/{event.id}/check-in").status_code == 200
    assert client.get(f"/events/{event.id}/edit").status_code == 403
    assert client.get(f"/events/{event.id}/attendees.csv").status_code == 403
    assert (
        client.post(f"/events/participations/{p.id}", data={"action": "cancel"}).status_code == 403
    )
