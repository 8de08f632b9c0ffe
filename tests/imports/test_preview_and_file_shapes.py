"""Imports: the preview promising what the import does,
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
    from crm.events.operations import events as event_ops

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


def test_the_preview_says_who_goes_on_the_waitlist_of_a_full_event(app, run_import, preview_of, db):
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
    statuses = {p.contact.email: p.status for p in db.session.scalars(sa.select(Participation))}
    assert statuses["d@example.org"] is ParticipationStatus.WAITLISTED
    assert statuses["c@example.org"] is ParticipationStatus.REGISTERED


# 3. Which sheet, and title rows above the header ------------------------------------------------


def _workbook(tmp_path, sheets: dict[str, list[list]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path.read_bytes()


def test_the_first_sheet_with_data_is_read_and_named(client, as_role, db, tmp_path):
    from tests.imports.test_import_pages import latest_run, upload

    as_role("lead")
    data = _workbook(
        tmp_path,
        {"Cover": [], "People": [["First name", "Email"], ["Ama", "ama@example.org"]]},
    )
    upload(client, data, "people.xlsx")
    run = latest_run(db)
    assert run is not None and run.total_rows == 1
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert "Read from the sheet “People”" in page
    client.post(f"/imports/{run.id}/mapping", data={"col-0": "first_name", "col-1": "email"})
    client.post(f"/imports/{run.id}/run")
    assert db.session.scalar(sa.select(Contact.email)) == "ama@example.org"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_title_row_above_the_header_is_skipped_and_said(client, as_role, db, tmp_path, kind):
    from tests.imports.test_import_pages import latest_run, upload

    as_role("lead")
    rows = [["Contact list Q3 2026"], ["First name", "Email"], ["Ama", "ama@example.org"],
            ["Kofi", "kofi@example.org"]]  # fmt: skip
    if kind == "csv":
        data = "\n".join(",".join(r) for r in rows).encode()
    else:
        data = _workbook(tmp_path, {"Sheet1": rows})
    upload(client, data, f"list.{kind}")
    run = latest_run(db)
    assert run.headers == ["First name", "Email"] and run.total_rows == 2
    assert run.mapping == {"First name": "first_name", "Email": "email"}
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert "The first row above the column names was skipped" in page
    client.post(f"/imports/{run.id}/mapping", data={"col-0": "first_name", "col-1": "email"})
    preview = client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    assert 'data-line="3"' in preview  # lines as the spreadsheet numbers them
    client.post(f"/imports/{run.id}/run")
    assert count(db, Contact) == 2


def test_a_one_column_list_keeps_its_header(tmp_path):
    from crm.imports.table_reader import TableReader

    path = tmp_path / "upload"
    path.write_bytes(b"Email\na@example.org\nb@example.org\n")
    reader = TableReader(path, "list.csv")
    assert reader.info.headers == ["Email"] and reader.info.skipped_rows == 0
    assert reader.count_rows() == 2


# 4. Files that are not tables -------------------------------------------------------------------


def _docx(tmp_path) -> bytes:
    import zipfile

    path = tmp_path / "letter.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("prose.csv", "looks like a letter or a note, not a table"),
        ("random.csv", "is not text"),
        ("letter.csv", "is a Word document, not a spreadsheet: save it as CSV or XLSX"),
    ],
)
def test_files_that_are_not_tables_are_refused_with_what_they_are(tmp_path, name, message):
    import random

    from crm.core.errors import OperationError
    from crm.imports.table_reader import TableReader

    rng = random.Random(7)
    data = {
        "prose.csv": (
            b"Dear team,\n\nPlease find attached the list of people we met in Accra last week.\n"
            b"Most of them asked to hear about the next workshop, so do add them.\n\n"
            b"Best regards,\nAma\n"
        ),
        "random.csv": bytes(rng.randrange(1, 256) for _ in range(4000)),  # no NUL in it
        "letter.csv": _docx(tmp_path),
    }[name]
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(OperationError, match=message):
        TableReader(path, name)


@pytest.mark.parametrize(
    "data",
    [
        b"Full name\nAma Owusu\nKofi Mensah\n",
        b"Notes\nMet at the Accra forum, keen on P3.\nAsked for the 2.0 draft.\n",
        b"Email address\nama@example.org\n",
        b"Timestamp,What is your email address?,Which principles matter most to you?\n"
        b"2026-05-01,ama@example.org,P1\n",
    ],
)
def test_real_lists_are_not_taken_for_prose(tmp_path, data):
    from crm.imports.table_reader import TableReader

    path = tmp_path / "upload"
    path.write_bytes(data)
    assert TableReader(path, "list.csv").count_rows() >= 1


# 5. Endorsements: the form's rules for the date and the reach ------------------------------------


def test_endorsement_rows_in_the_future_or_with_an_odd_reach_are_refused(
    app, db, make_contact, preview_of, run_import
):
    from crm.champions.models import Endorsement
    from crm.champions.operations import pipeline as champion_ops

    contact = make_contact("Ama", email="ama@example.org")
    champion_ops.enter_pipeline(None, contact, champion_ops.ChampionFields())
    db.session.commit()
    data = (
        "champion,kind,made_on,title,audience_reach\n"
        "ama@example.org,talk,2030-01-01,A talk to come,100\n"
        "ama@example.org,post,2026-03-01,A post,1e3\n"
        "ama@example.org,post,2026-03-02,Another post,-4\n"
        'ama@example.org,article,2026-03-03,An article,"1,200"\n'
    )
    rows = preview_of("endorsements", data)
    assert [r.action for r in rows] == ["fail", "fail", "fail", "create"]
    assert "is in the future" in rows[0].errors["made_on"]
    assert rows[1].errors["audience_reach"] == (
        "Audience reach “1e3” is not a whole number (0 or more)"
    )
    assert "not a whole number" in rows[2].errors["audience_reach"]
    run = run_import("endorsements", data)
    assert (run.created_count, run.failed_count) == (1, 3)
    assert db.session.scalar(sa.select(Endorsement.audience_reach)) == 1200
