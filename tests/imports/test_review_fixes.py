"""What a reviewer found using the imports: the preview promising what the import does,
files that are not tables, and the audit trail of imported changes."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.events.models import Participation, ParticipationStatus


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def preview_of(app, db, make_user):
    """Upload `data`, map it automatically, and return the preview's rows (nothing written)."""
    from crm.imports import operations

    def do(record_type, data, *, policy="skip", file_name=None):
        actor = make_user("lead")
        with app.test_request_context():
            run = operations.start_run(
                actor, record_type, file_name or f"{record_type}.csv", data.encode()
            )
            operations.set_mapping(run, run.mapping, policy)
            rows = operations.preview(actor, run)
            db.session.rollback()
        return rows

    return do


def make_event(app, db, name="Dhaka forum", capacity=None):
    from crm.events import operations as event_ops

    with app.test_request_context():
        event = event_ops.create_event(
            None,
            event_ops.EventFields(
                name=name, kind="workshop", hosting="hosted",
                starts_local=datetime(2031, 5, 1, 9), ends_local=datetime(2031, 5, 1, 17),
                capacity=capacity,
            ),
        )  # fmt: skip
        db.session.commit()
        return event.id


# 1. The same person twice with an organization the file creates -------------------------------


CONTACTS_NEW_ORG = (
    "full_name,organization\n"
    "Ama Owusu,Ghana Workers Trust\n"
    "Kofi Mensah,Ghana Workers Trust\n"
    "Ama Owusu,ghana workers trust\n"
)


def test_the_same_person_and_a_new_organization_twice_is_caught(run_import, preview_of, db):
    rows = preview_of("contacts", CONTACTS_NEW_ORG)
    assert [r.action for r in rows] == ["create", "create", "fail"]
    assert "the same person and organization as line 2" in rows[2].reason
    run = run_import("contacts", CONTACTS_NEW_ORG)
    assert (run.created_count, run.failed_count) == (2, 1)
    assert count(db, Contact) == 2


# 2. Participants: duplicates in the file, and the waitlist --------------------------------------


def test_a_participant_twice_in_the_file_is_a_skip_in_the_preview_too(
    app, run_import, preview_of, db
):
    make_event(app, db)
    data = (
        "event,email,first_name\n"
        "Dhaka forum,new1@example.org,Ana\n"
        "Dhaka forum,NEW1@example.org,Ana\n"
        "Dhaka forum,new2@example.org,Bo\n"
    )
    rows = preview_of("participants", data)
    assert [r.action for r in rows] == ["create", "skip", "create"]
    assert rows[1].note == "the same person as line 2 of this file"
    run = run_import("participants", data)
    assert (run.created_count, run.skipped_count, run.failed_count) == (2, 1, 0)


def test_the_preview_says_who_goes_on_the_waitlist_of_a_full_event(
    app, run_import, preview_of, db
):
    make_event(app, db, capacity=2)
    data = (
        "event,email,first_name,role\n"
        "Dhaka forum,a@example.org,Ana,attendee\n"
        "Dhaka forum,b@example.org,Bo,attendee\n"
        "Dhaka forum,c@example.org,Cy,speaker\n"
        "Dhaka forum,d@example.org,Di,attendee\n"
    )
    rows = preview_of("participants", data)
    notes = [r.note for r in rows]
    assert notes == ["", "", "", "the event is full: will go on the waitlist"]
    run_import("participants", data)
    statuses = {
        p.contact.email: p.status for p in db.session.scalars(sa.select(Participation))
    }
    assert statuses["d@example.org"] is ParticipationStatus.WAITLISTED
    assert statuses["c@example.org"] is ParticipationStatus.REGISTERED
