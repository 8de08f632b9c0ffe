"""Control characters: cleaned out of every form and query, and never break an XLSX download."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import sqlalchemy as sa

from crm.core.export import xlsx_response
from crm.organizations.models import Organization


def test_form_fields_and_query_arguments_lose_control_characters(client, as_role, db):
    # NUL would make PostgreSQL refuse the insert; the vertical tab came from a word processor.
    as_role("lead")
    response = client.post(
        "/organizations/new",
        data={"name": "Lotus\x00 Garments\x0b", "kind": "supplier", "notes": "two\r\nlines\tok"},
    )
    assert response.status_code == 302
    org = db.session.scalar(sa.select(Organization).where(Organization.name == "Lotus Garments"))
    assert org is not None
    assert org.notes.replace("\r\n", "\n") == "two\nlines\tok"  # line breaks and tabs stay
    found = client.get("/organizations/", query_string={"q": "Lotus\x00"})
    assert found.status_code == 200 and "Lotus Garments" in found.get_data(as_text=True)


def test_an_xlsx_download_with_control_characters_in_stored_text_opens(app):
    frame = pd.DataFrame({"Comment": ["pasted\x0bfrom Word", "=1+1", None], "Reach": [1, 2, 3]})
    with app.test_request_context():
        body = xlsx_response(frame, "comments").get_data()
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert rows == [("pastedfrom Word", 1), ("=1+1", 2), (None, 3)]
    assert sheet["A3"].data_type == "s" and sheet["A3"].quotePrefix


def test_an_event_export_with_a_control_character_in_a_name(client, as_role, db, make_contact):
    from datetime import datetime, timedelta

    from crm.events.operations import events as event_ops
    from crm.events.operations import places as place_ops

    lead = as_role("lead")
    event = event_ops.create_event(
        lead,
        event_ops.EventFields(
            name="Roundtable", kind="roundtable", hosting="hosted",
            starts_local=datetime.now() + timedelta(days=3),
            ends_local=datetime.now() + timedelta(days=3, hours=2),
        ),
    )  # fmt: skip
    contact = make_contact("Ana\x0b", "Silva", email="ana@example.org")
    db.session.flush()
    place_ops.add_participants(lead, event, [contact.id], role="attendee", invite_only=False)
    db.session.commit()
    response = client.get(f"/events/{event.id}/attendees.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert any("Ana" in str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)
