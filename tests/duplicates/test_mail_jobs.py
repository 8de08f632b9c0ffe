"""A merge that frees a place in a full event promotes the first on the waitlist, and their
email is queued with the merge: a refused merge promotes nobody and queues nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crm.events.models import Participation, ParticipationStatus


def _two_records_in_a_full_event(make_contact, db):
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
    return a, b, waiting


def _status(db, participation: Participation) -> ParticipationStatus:
    db.session.expire_all()
    return db.session.get(Participation, participation.id).status


def test_a_refused_merge_promotes_nobody_and_queues_nothing(
    client, as_role, make_contact, db, queued_mail, outbox
):
    a, b, waiting = _two_records_in_a_full_event(make_contact, db)
    as_role("lead")
    stale = client.post(
        f"/duplicates/contacts/{a.id}/{b.id}",
        data={"survivor": "first", "first_version": str(a.version), "second_version": "99"},
    )
    assert stale.status_code == 422
    assert _status(db, waiting) is ParticipationStatus.WAITLISTED
    assert queued_mail() == [] and outbox() == []


def test_a_merge_queues_the_promotion_email_with_it(
    client, as_role, make_contact, db, queued_mail, outbox
):
    a, b, waiting = _two_records_in_a_full_event(make_contact, db)
    as_role("lead")
    page = client.post(
        f"/duplicates/contacts/{a.id}/{b.id}", data={"survivor": "first"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Promoted from the waitlist: Bo Berg. An email telling them is on its way." in page
    assert _status(db, waiting) is ParticipationStatus.REGISTERED
    assert queued_mail() == [("bo@example.org", "A place is yours: Small room")]
    assert [m["To"] for m in outbox()] == ["bo@example.org"]
