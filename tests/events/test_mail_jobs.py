"""Event emails are jobs queued by the operation that causes them: a registration's
confirmation (or waitlist notice), and the email to whoever a freed place goes to. A refused
or failed request leaves no job and sends nothing; a committed one leaves exactly its own."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.events.models import Participation, ParticipationStatus
from crm.events.operations import places as place_ops


def _status(db, participation_id: int) -> ParticipationStatus:
    db.session.expire_all()
    return db.session.get(Participation, participation_id).status


def test_a_public_registration_queues_its_confirmation_once(
    client, make_event, registration, db, queued_mail, outbox
):
    event = make_event(capacity=1)
    assert client.post(f"/e/{event.id}", data=registration()).status_code == 302
    assert queued_mail() == [("rahima@example.org", f"You are registered: {event.name}")]
    again = client.post(f"/e/{event.id}", data=registration())
    assert "result=already" in again.headers["Location"]
    assert len(queued_mail()) == 1  # registering twice changes nothing and sends nothing
    client.post(f"/e/{event.id}", data=registration(email="second@example.org"))
    assert queued_mail()[1] == ("second@example.org", f"You are on the waitlist: {event.name}")
    assert [m["To"] for m in outbox()] == ["rahima@example.org", "second@example.org"]


def test_a_refused_registration_queues_nothing(
    app, client, make_event, registration, db, queued_mail, outbox
):
    event = make_event()
    app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 0  # this network has had its turn
    try:
        refused = client.post(f"/e/{event.id}", data=registration())
    finally:
        app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 20
    assert refused.status_code == 422
    assert "Too many submissions" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participation)) == 0
    assert queued_mail() == [] and outbox() == []


def _full_event_with_a_waitlist(make_event, make_contact, db):
    event = make_event(capacity=1)
    seated = make_contact("Seated", "Person", email="seated@example.org")
    waiting = make_contact("Waiting", "Person", email="waiting@example.org")
    p1, _ = place_ops.register(None, event, seated)
    p2, _ = place_ops.register(None, event, waiting)
    db.session.commit()
    assert p2.status is ParticipationStatus.WAITLISTED
    return event, p1, p2


def test_a_cancellation_queues_the_promotion_email(
    client, as_role, make_event, make_contact, db, queued_mail, outbox
):
    as_role("lead")
    event, seated, waiting = _full_event_with_a_waitlist(make_event, make_contact, db)
    page = client.post(
        f"/events/participations/{seated.id}", data={"action": "cancel"}, follow_redirects=True
    ).get_data(as_text=True)
    assert (
        "Promoted from the waitlist: Waiting Person. An email telling them is on its way." in page
    )
    assert queued_mail() == [("waiting@example.org", f"A place is yours: {event.name}")]
    assert [m["To"] for m in outbox()] == ["waiting@example.org"]
    # Cancelling again is refused: no second promotion, no second email.
    again = client.post(
        f"/events/participations/{seated.id}", data={"action": "cancel"}, follow_redirects=True
    )
    assert "already cancelled" in again.get_data(as_text=True)
    assert len(queued_mail()) == 1


def test_a_cancellation_whose_request_fails_promotes_and_tells_nobody(
    client, as_role, make_event, make_contact, db, queued_mail, outbox, monkeypatch
):
    from crm.events import views

    def broken(promoted):
        raise RuntimeError("the page broke after the operation")

    monkeypatch.setattr(views, "flash_promoted", broken)
    as_role("lead")
    _event, seated, waiting = _full_event_with_a_waitlist(make_event, make_contact, db)
    with pytest.raises(RuntimeError):
        client.post(f"/events/participations/{seated.id}", data={"action": "cancel"})
    assert _status(db, seated.id) is ParticipationStatus.REGISTERED
    assert _status(db, waiting.id) is ParticipationStatus.WAITLISTED
    assert queued_mail() == [] and outbox() == []


def test_a_larger_capacity_queues_the_promotion_and_a_stale_form_does_not(
    client, as_role, make_event, make_contact, db, queued_mail
):
    as_role("lead")
    event, _seated, waiting = _full_event_with_a_waitlist(make_event, make_contact, db)
    form = {
        "name": event.name,
        "kind": event.kind.value,
        "hosting": event.hosting.value,
        "starts_local": event.local_start.strftime("%Y-%m-%dT%H:%M"),
        "ends_local": event.local_end.strftime("%Y-%m-%dT%H:%M"),
        "timezone": event.timezone,
        "capacity": "2",
        "is_public": "y",
        "registration_open": "y",
    }
    stale = client.post(f"/events/{event.id}/edit", data={**form, "version": event.version + 1})
    assert stale.status_code == 409
    assert _status(db, waiting.id) is ParticipationStatus.WAITLISTED and queued_mail() == []
    saved = client.post(f"/events/{event.id}/edit", data={**form, "version": event.version})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert _status(db, waiting.id) is ParticipationStatus.REGISTERED
    assert queued_mail() == [("waiting@example.org", f"A place is yours: {event.name}")]


def test_someone_promoted_without_an_address_is_named_for_the_team_to_tell(
    client, as_role, make_event, make_contact, db, queued_mail
):
    as_role("lead")
    event = make_event(capacity=1)
    seated, _ = place_ops.register(None, event, make_contact(email="s@example.org"))
    place_ops.register(None, event, make_contact("Nomail", "Person"))
    db.session.commit()
    page = client.post(
        f"/events/participations/{seated.id}", data={"action": "cancel"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Promoted from the waitlist: Nomail Person." in page
    assert "An email telling them" not in page
    assert "No email address for Nomail Person: please tell them." in page
    assert queued_mail() == []
