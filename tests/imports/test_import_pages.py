from __future__ import annotations

import io
import re

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.imports.models import ImportRun, RunStatus, SavedMapping


def upload(client, data: bytes, name="people.csv", record_type="contacts"):
    return client.post(
        "/imports/upload",
        data={"record_type": record_type, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def latest_run(db) -> ImportRun:
    return db.session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc())).first()


def test_upload_map_preview_import_and_undo(client, as_role, db):
    as_role("lead")
    data = "Nom;Prénom;Courriel;Pays\nDiallo;Awa;awa@example.org;Sénégal\nBa;Oumar;oops;SN\n"
    response = upload(client, data.encode("cp1252"), "export.csv")
    run = latest_run(db)
    assert response.headers["Location"].endswith(f"/imports/{run.id}/mapping")
    assert (run.encoding, run.delimiter, run.total_rows) == ("cp1252", ";", 2)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert "Prénom" in page and "Awa" in page
    # Prénom and Courriel are not recognized: the user maps them, and saves the mapping.
    response = client.post(
        f"/imports/{run.id}/mapping",
        data={"col-0": "last_name", "col-1": "first_name", "col-2": "email", "col-3": "country",
              "policy": "skip", "mapping_name": "French export"},
    )  # fmt: skip
    assert response.headers["Location"].endswith(f"/imports/{run.id}/preview")
    page = client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    assert "Left out" in page and "New" in page, page[page.find("<main") :][:3000]
    assert re.search(r"oops\s*<div class=\"text-danger fw-medium\">", page)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    response = client.post(f"/imports/{run.id}/run")
    assert response.status_code == 302
    db.session.expire_all()
    run = db.session.get(ImportRun, run.id)
    assert (run.status, run.created_count, run.failed_count) == (RunStatus.DONE, 1, 1)
    awa = db.session.scalar(sa.select(Contact))
    assert (awa.first_name, awa.last_name, awa.country) == ("Awa", "Diallo", "SN")
    errors = client.get(f"/imports/{run.id}/errors.csv").get_data(as_text=True)
    assert "oops" in errors and "reason" in errors.splitlines()[0]
    # A second click on Import changes nothing.
    client.post(f"/imports/{run.id}/run")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1
    client.post(f"/imports/{run.id}/undo")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    assert db.session.get(ImportRun, run.id).status is RunStatus.UNDONE
    # The saved mapping is offered for the next file.
    upload(client, data.encode("cp1252"), "export2.csv")
    assert "French export" in client.get(f"/imports/{latest_run(db).id}/mapping").get_data(
        as_text=True
    )


def test_files_that_cannot_be_imported_are_refused_up_front(client, as_role, db):
    as_role("lead")
    cases = {
        "empty.csv": (b"", "is empty"),
        "blank.csv": (b"\n\n  \n", "is empty"),
        "headers.csv": (b"first_name,email\n", "no rows to import"),
        "photo.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        "report.pdf": (b"%PDF-1.4 ...", "PDF document"),
        "broken.xlsx": (
            b"PK\x03\x04 not really a zip",
            "cannot be opened as an Excel (.xlsx) file",
        ),
        "dup.csv": (b"email,Email\na@x.org,b@x.org\n", "two columns named"),
    }
    for name, (data, message) in cases.items():
        response = upload(client, data, name)
        assert response.status_code == 302, name
        page = client.get("/imports/").get_data(as_text=True)
        assert message in page, name
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportRun)) == 0


def test_a_missing_required_column_is_named_and_the_import_cannot_start(client, as_role, db):
    as_role("lead")
    upload(client, b"email,phone\na@example.org,1\n")
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    assert "no column for: First name or Full name" in page
    assert "import-button" not in page
    response = client.post(f"/imports/{run.id}/run", follow_redirects=True)
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert db.session.get(ImportRun, run.id).status is RunStatus.DRAFT


def test_a_file_over_the_upload_limit_is_refused(app, client, as_role):
    as_role("lead")
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = upload(client, b"first_name\n" + b"x\n" * (limit // 2 + 10))
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)


def test_volunteers_and_viewers_cannot_import(client, as_role):
    for role in ("volunteer", "viewer", "champion"):
        as_role(role)
        assert client.get("/imports/").status_code == 403
        assert upload(client, b"first_name\nA\n").status_code == 403


def test_the_error_file_is_safe_to_open_in_a_spreadsheet(run_import, client, as_role):
    run = run_import("contacts", 'first_name,email\n"=HYPERLINK(""http://x"")",not-an-email\n')
    as_role("lead")
    body = client.get(f"/imports/{run.id}/errors.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body


def test_an_import_cannot_be_undone_twice_or_before_it_ran(run_import, client, as_role, db):
    run = run_import("contacts", "first_name,email\nAna,ana@example.org\n")
    as_role("lead")
    client.post(f"/imports/{run.id}/undo")
    response = client.post(f"/imports/{run.id}/undo", follow_redirects=True)
    assert "This import was already undone." in response.get_data(as_text=True)


def test_similar_organizations_are_listed_with_a_link_to_merge_them(
    run_import, client, as_role, make_org
):
    known = make_org("Worker Voice Foundation")
    run = run_import("organizations", "name\nWorker Voice Foundations\n")
    as_role("lead")
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "New organizations that look like ones we have" in page
    created = run.review[0]["created_id"]
    assert f"/duplicates/organizations/{known.id}/{created}" in page
    assert client.get(f"/duplicates/organizations/{known.id}/{created}").status_code == 200


def test_a_saved_mapping_for_other_columns_is_not_applied_and_a_partial_one_warns(
    client, as_role, db
):
    as_role("lead")
    upload(client, b"Prenom;Courriel;Societe\nAwa;awa@example.org;Acme\n", "french.csv")
    french = latest_run(db)
    client.post(
        f"/imports/{french.id}/mapping",
        data={"col-0": "first_name", "col-1": "email", "col-2": "organization",
              "policy": "skip", "mapping_name": "French export"},
    )  # fmt: skip
    saved_id = db.session.scalar(
        sa.select(SavedMapping.id).where(SavedMapping.name == "French export")
    )
    # A file from another source: none of the saved columns are in it.
    upload(client, b"First Name,Email Address\nBo,bo@example.org\n", "other.csv")
    other = latest_run(db)
    before = dict(other.mapping)
    response = client.post(
        f"/imports/{other.id}/mapping",
        data={"action": "apply_saved", "saved_id": saved_id},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "None of the columns the mapping “French export” reads" in page
    db.session.expire_all()
    assert db.session.get(ImportRun, other.id).mapping == before and before
    # A file with some of the saved columns: applied, with the missing ones named.
    upload(client, b"Prenom;Courriel\nCy;cy@example.org\n", "french2.csv")
    partial = latest_run(db)
    response = client.post(
        f"/imports/{partial.id}/mapping",
        data={"action": "apply_saved", "saved_id": saved_id},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "but this file has no column “Societe”" in page
    assert f'<option value="{saved_id}" selected>' in page
    db.session.expire_all()
    assert db.session.get(ImportRun, partial.id).mapping == {
        "Prenom": "first_name",
        "Courriel": "email",
    }


def test_the_preview_of_an_incomplete_mapping_does_not_promise_an_import(client, as_role, db):
    as_role("lead")
    upload(client, b"kind,country\nngo,KE\n", "orgs.csv", record_type="organizations")
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert "1 row of organizations" in page
    page = client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    assert "The file has no column for: Name" in page
    assert "Nothing can be imported until the mapping is fixed" in page
    assert "Not checked" in page and "Left out" not in page
    assert "the other rows are imported" not in page and 'id="import-button"' not in page
