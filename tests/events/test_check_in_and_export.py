from __future__ import annotations

import csv
import io

import openpyxl
import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.events.models import Participation, ParticipationStatus
from crm.events.operations import places as place_ops


def test_check_in_page_lists_people_and_checks_in_with_one_click(
    client, as_role, make_event, make_contact, db
):
    as_role("volunteer")
    event = make_event()
    p, _ = place_ops.register(None, event, make_contact("Nadia", "Rahman"))
    cancelled, _ = place_ops.register(None, event, make_contact("Gone", "Away"))
    place_ops.cancel(None, cancelled)
    db.session.commit()
    page = client.get(f"/events/{event.id}/check-in").get_data(as_text=True)
    assert "Nadia Rahman" in page and "Gone Away" not in page
    # The page's script posts and asks for JSON.
    response = client.post(
        f"/events/participations/{p.id}/check-in", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json == {"ok": True, "status": "attended", "label": "Attended"}
    db.session.refresh(p)
    assert p.status is ParticipationStatus.ATTENDED and p.checked_in_at is not None
    # A second click (another volunteer, the same person): a clear answer, no change.
    again = client.post(
        f"/events/participations/{p.id}/check-in", headers={"Accept": "application/json"}
    )
    assert again.status_code == 409 and "already checked in" in again.json["message"]
    # Undo for a mis-click.
    client.post(f"/events/participations/{p.id}/check-in", data={"undo": "1"})
    db.session.refresh(p)
    assert p.status is ParticipationStatus.REGISTERED and p.checked_in_at is None


def test_walk_ins_are_added_and_checked_in(client, as_role, make_event, make_contact, db):
    as_role("volunteer")
    event = make_event(capacity=1)
    place_ops.register(None, event, make_contact())
    known = make_contact("Known", "Person", email="known@example.org", title="Director")
    db.session.commit()
    response = client.post(
        f"/events/{event.id}/walk-in",
        data={"first_name": "Walk", "last_name": "In", "email": "walk@example.org"},
    )
    assert response.status_code == 302
    walk = db.session.scalar(sa.select(Contact).where(Contact.email == "walk@example.org"))
    participation = db.session.scalar(
        sa.select(Participation).where(Participation.contact_id == walk.id)
    )
    # In the room, so in, even past capacity.
    assert participation.status is ParticipationStatus.ATTENDED
    assert participation.source == "walk-in"
    # An existing contact matched by email keeps what we know about them.
    client.post(
        f"/events/{event.id}/walk-in",
        data={"first_name": "K.", "last_name": "", "email": "KNOWN@example.org"},
    )
    db.session.refresh(known)
    assert (known.first_name, known.title) == ("Known", "Director")
    assert (
        db.session.scalar(
            sa.select(Participation.status).where(Participation.contact_id == known.id)
        )
        is ParticipationStatus.ATTENDED
    )
    # A bad walk-in shows the error and adds nobody.
    response = client.post(f"/events/{event.id}/walk-in", data={"first_name": "", "email": "bad@"})
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participation)) == 3


def test_attendee_exports_are_safe_against_formula_injection(
    client, as_role, make_event, make_contact, registration, db
):
    event = make_event()
    # A name typed on the public form, crafted to run as a spreadsheet formula.
    client.post(
        f"/e/{event.id}",
        data=registration(
            first_name='=HYPERLINK("http://evil.example","x")',
            last_name="+1-2",
            organization="@SUM(A1:A2)",
        ),
    )
    place_ops.register(None, event, make_contact("Zoë", "Ünal", email="zoe@example.org"))
    db.session.commit()
    as_role("lead")
    response = client.get(f"/events/{event.id}/attendees.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    evil = next(r for r in rows if "HYPERLINK" in r["First name"])
    assert evil["First name"].startswith("'=")
    assert evil["Last name"] == "'+1-2" and evil["Organization"] == "'@SUM(A1:A2)"
    assert any(r["First name"] == "Zoë" for r in rows)  # accents survive

    response = client.get(f"/events/{event.id}/attendees.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["First name", "Last name", "Email"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    evil_cell = next(c for c in cells if c.value == '=HYPERLINK("http://evil.example","x")')
    # Shown exactly as typed, stored as text (not a formula), marked "this is text".
    assert evil_cell.data_type == "s" and evil_cell.quotePrefix
    assert all(c.data_type != "f" for c in cells)


def test_participation_in_personal_data_export_and_erasure(ctx, make_event, make_contact, db):
    from crm.contacts.operations import erase_contact, export_personal_data

    event = make_event("Roundtable")
    contact = make_contact("Tariq", "Aziz", email="tariq@example.org")
    p, _ = place_ops.register(None, event, contact, organization_text="Tariq's own shop")
    db.session.commit()
    data = export_personal_data(None, contact)
    assert data["events"][0]["event"] == "Roundtable"
    assert data["events"][0]["organization_as_typed"] == "Tariq's own shop"
    erase_contact(None, contact)
    db.session.commit()
    db.session.refresh(p)
    assert p.organization_text is None
    assert p.status is ParticipationStatus.REGISTERED  # still counts
