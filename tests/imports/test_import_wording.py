"""The import pages say what will happen, in plain words: what the Import button will write,
what the preview says of each row, the mapping's required fields, header and country names in
other languages, and the messages after an import or an undo."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa

from crm.imports.models import ImportRun


def upload(client, data: str | bytes, name="people.csv", record_type="contacts"):
    if isinstance(data, str):
        data = data.encode()
    return client.post(
        "/imports/upload",
        data={"record_type": record_type, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def latest_run(db) -> ImportRun:
    return db.session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc())).first()


def text(page: str) -> str:
    """The page's words, tags removed and spaces collapsed."""
    body = page[page.find("<main") :]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def button(page: str) -> str:
    found = re.search(r'<button[^>]*id="import-button"[^>]*>(.*?)</button>', page, re.S)
    assert found, "no Import button"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def preview(client, db, data, *, record_type="contacts", policy="skip", name="people.csv"):
    upload(client, data, name, record_type)
    run = latest_run(db)
    client.post(
        f"/imports/{run.id}/mapping",
        data={
            **{f"col-{i}": run.mapping.get(h, "") for i, h in enumerate(run.headers)},
            "policy": policy,
        },
    )
    return run, client.get(f"/imports/{run.id}/preview").get_data(as_text=True)


# 1. The Import button counts the rows that will be written ------------------------------------


def test_the_button_counts_only_the_rows_that_will_be_written(client, as_role, db, make_contact):
    make_contact("Ana", "Lima", email="ana@example.org")
    as_role("lead")
    _, page = preview(
        client,
        db,
        "first_name,last_name,email\n"
        "Ana,Lima,ana@example.org\n"  # matches: skipped
        "Bo,Berg,not-an-email\n"  # left out
        "Cy,Diaz,cy@example.org\n"
        "Di,Evans,di@example.org\n",
    )
    assert button(page) == "Import 2 rows (1 left out, 1 unchanged)"
    words = text(page)
    assert (
        "All 4 rows are below, checked exactly as the import will check them: 2 will be added, "
        "1 left unchanged and 1 left out. The row left out has a problem: it will be listed in "
        "an error file that you can fix and upload again." in words
    )
    assert "has a problem :" not in words and "they will be" not in words


def test_nothing_to_import_disables_the_button_and_says_why(client, as_role, db, make_contact):
    make_contact("Ana", "Lima", email="ana@example.org")
    make_contact("Bo", "Berg", email="bo@example.org")
    as_role("lead")
    run, page = preview(
        client,
        db,
        "first_name,email\nAna,ana@example.org\nBo,bo@example.org\nCy,oops\n",
    )
    assert button(page) == "Nothing to import: every row is left out or unchanged"
    assert re.search(r'<button[^>]*id="import-button"[^>]*\bdisabled\b', page)
    assert (
        "checked exactly as the import will check them: 2 will be left unchanged and 1 left out."
        in text(page)
    )


def test_every_row_of_a_file_imported_while_the_page_waits_is_counted(client, as_role, db):
    as_role("lead")
    lines = [f"Person{i},p{i}@example.org" for i in range(1, 30)] + ["Late,not-an-email"]
    _, page = preview(client, db, "first_name,email\n" + "\n".join(lines) + "\n")
    assert button(page) == "Import 29 rows (1 left out)"
    words = text(page)
    assert "The first 20 of 30 rows are below" in words
    assert "Of the file's 30 rows, 29 will be added and 1 left out." in words
    assert "The row left out has a problem (not among those below): it will be listed" in words


def test_a_file_imported_in_the_background_is_counted_on_its_first_rows(
    app, client, as_role, db, monkeypatch
):
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 25)
    as_role("lead")
    lines = [f"Person{i},p{i}@example.org" for i in range(1, 31)]
    _, page = preview(client, db, "first_name,email\n" + "\n".join(lines) + "\n")
    assert button(page) == "Import the file"
    words = text(page)
    assert "All of the first 20 will be added. The other 10 rows are checked the same way" in words


def test_a_one_row_file_is_described_in_the_singular(client, as_role, db):
    as_role("lead")
    _, page = preview(client, db, "first_name,email\nAna,ana@example.org\n")
    assert button(page) == "Import 1 row"
    words = text(page)
    assert (
        "The file's only row is below, checked exactly as the import will check it: it will be "
        "added." in words
    )


# 2. The preview says what the chosen mode will do with each row ------------------------------


def badges(page: str) -> dict[int, tuple[str, str]]:
    """{line: (badge, the words under it)} of the preview table."""
    found = {}
    for line, cell in re.findall(
        r'<tr[^>]*data-line="(\d+)">\s*<td[^>]*>\d+</td>\s*<td[^>]*>(.*?)</td>', page, re.S
    ):
        badge = re.search(r'class="badge[^"]*">([^<]*)<', cell).group(1)
        detail = re.search(r'class="[^"]*row-detail[^"]*"[^>]*>(.*?)</div>', cell, re.S)
        found[int(line)] = (badge, html.unescape(detail.group(1)) if detail else "")
    return found


def test_fill_empty_says_unchanged_for_a_record_with_nothing_empty_to_fill(
    client, as_role, db, make_contact
):
    from crm.audit.models import AuditEntry
    from crm.contacts.models import Contact

    full = make_contact("Ana", "Lima", email="ana@example.org", phone="+1 555", title="Director")
    gaps = make_contact("Bo", "Berg", email="bo@example.org", phone="+1 556")
    audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    as_role("lead")
    data = (
        "first_name,last_name,email,phone,title\n"
        "Ana,Lima,ana@example.org,+44 20 7946,Manager\n"  # phone and title already filled
        "Bo,Berg,bo@example.org,+44 20 7947,Organizer\n"  # the title is empty: filled
    )
    _, page = preview(client, db, data, policy="fill")
    shown = badges(page)
    assert shown[2] == (
        "Unchanged",
        f"matches contact #{full.id} by email; the record has no empty field the file can fill",
    )
    assert shown[3] == ("Update", f"matches contact #{gaps.id} by email; will fill in title")
    assert button(page) == "Import 1 row (1 unchanged)"
    assert (
        "Both rows are below, checked exactly as the import will check them: 1 will be "
        "updated and 1 left unchanged." in text(page)
    )

    # Overwrite: both rows change; the same values again change nothing.
    _, page = preview(client, db, data, policy="overwrite")
    shown = badges(page)
    assert shown[2] == (
        "Update",
        f"matches contact #{full.id} by email; will change phone and title",
    )
    assert shown[3][0] == "Update"
    _, page = preview(
        client, db, "first_name,email,phone\nAna,ana@example.org,+1 555\n", policy="overwrite"
    )
    assert badges(page)[2] == (
        "Unchanged",
        f"matches contact #{full.id} by email; the record already has the file's values",
    )
    assert button(page) == "Nothing to import: every row is left out or unchanged"

    # Trying the rows wrote nothing.
    db.session.expire_all()
    assert (db.session.get(Contact, full.id).title, db.session.get(Contact, gaps.id).title) == (
        "Director",
        None,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_before


def test_fill_empty_for_organizations_and_tags(client, as_role, db, make_org):
    from crm.organizations.models import Organization

    known = make_org("Acme Textiles", country="BD", website="https://acme.example")
    as_role("lead")
    _, page = preview(
        client,
        db,
        "name,country,sector\nAcme Textiles,IN,\nAcme Textiles Two,KE,Garments\n",
        record_type="organizations",
        policy="fill",
        name="orgs.csv",
    )
    shown = badges(page)
    assert shown[2] == (
        "Unchanged",
        f"matches organization #{known.id} by name; the record has no empty field the file can "
        "fill",
    )
    assert shown[3][0] == "New"
    _, page = preview(
        client, db, "name,tags\nAcme Textiles,garment\n", record_type="organizations",
        policy="fill", name="orgs.csv",
    )  # fmt: skip
    assert badges(page)[2] == ("Update", f"matches organization #{known.id} by name; will add tags")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1


def test_a_preview_that_would_wait_for_another_import_only_checks(
    app, client, as_role, db, monkeypatch
):
    """On PostgreSQL, another transaction writing the same contact: the preview does not wait
    for it (the import would), it checks without trying and says so."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has one writer: the test's own transaction holds its lock")
    from crm.contacts.models import Contact
    from crm.imports import operations

    monkeypatch.setattr(operations, "PREVIEW_LOCK_WAIT_MS", 200)
    as_role("lead")
    with app.app_context():
        other = db.engine.connect()
    try:
        with sa.orm.Session(bind=other) as session:
            contact = Contact(first_name="Ana", last_name="Lima", email="ana@example.org")
            contact.set_search_fields()
            session.add(contact)
            session.flush()  # not committed: the unique email is held until it ends
            _, page = preview(client, db, "first_name,email\nAna,ana@example.org\n")
            session.rollback()
    finally:
        other.close()
    assert "so these rows were checked but not tried" in text(page)
    assert badges(page)[2][0] == "New"
    assert button(page) == "Import 1 row"


def test_a_slow_preview_counts_what_it_had_time_for(client, as_role, db, monkeypatch):
    from crm.imports import operations

    monkeypatch.setattr(operations, "PREVIEW_SECONDS", 1e-9)
    as_role("lead")
    lines = [f"Person{i},p{i}@example.org" for i in range(1, 31)]
    _, page = preview(client, db, "first_name,email\n" + "\n".join(lines) + "\n")
    assert button(page) == "Import the file"
    assert "All of the first 20 will be added. The other 10 rows are checked" in text(page)


# 3. Grammar: singular and plural, sentences that end, names people use -------------------------


def test_the_error_file_box_reads_as_sentences(run_import, client, as_role):
    run = run_import("contacts", "first_name,email\nAna,ana@example.org\nBo,not-an-email\n")
    as_role("lead")
    words = text(client.get(f"/imports/{run.id}").get_data(as_text=True))
    assert (
        "1 row was left out. Download it with the reason, fix it in a spreadsheet and upload "
        "that file again (its reason and line columns are ignored). Download the row left out"
    ) in words
    run = run_import("contacts", "first_name,email\nCy,x\nDi,y\n")
    words = text(client.get(f"/imports/{run.id}").get_data(as_text=True))
    assert "2 rows were left out. Download them with the reason for each, fix them" in words
    assert "Download the rows left out" in words


def test_undo_messages_count_in_the_singular_and_say_when_it_was_done_already(
    run_import, client, as_role, db, make_contact
):
    ana = make_contact("Ana", "Lima", email="ana@example.org")
    run = run_import(
        "contacts",
        "first_name,email,title\nAna,ana@example.org,Director\nBo,bo@example.org,\n",
        policy="fill",
    )
    assert (run.created_count, run.updated_count) == (1, 1)
    as_role("lead")
    page = client.post(f"/imports/{run.id}/undo", follow_redirects=True).get_data(as_text=True)
    assert "Undone: 1 contact removed, 1 record put back." in text(page)
    page = client.post(f"/imports/{run.id}/undo", follow_redirects=True).get_data(as_text=True)
    assert "This import was already undone." in text(page)
    assert "this one is undone" not in page
    db.session.expire_all()
    assert db.session.get(type(ana), ana.id).title is None


def test_undo_refused_names_what_uses_the_records_as_people_say_it(
    app, run_import, db, make_contact
):
    from crm.core.errors import OperationError
    from crm.imports import operations
    from crm.organizations.models import Organization

    run = run_import("organizations", "name\nAcme Textiles\nNordisk Garn\n")
    acme = db.session.scalar(sa.select(Organization).where(Organization.name == "Acme Textiles"))
    garn = db.session.scalar(sa.select(Organization).where(Organization.name == "Nordisk Garn"))
    for n in range(4):
        make_contact("Staff", f"Member{n}", organization_id=acme.id)
    make_contact("Solo", "Person", organization_id=garn.id)
    with app.test_request_context():
        with pytest.raises(OperationError) as refused:
            operations.undo(None, db.session.get(ImportRun, run.id))
        db.session.rollback()
    assert "used since (by 5 contacts)" in refused.value.message
    assert " in contact" not in refused.value.message


def test_the_dry_run_says_what_it_would_also_create(runner, db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("first_name,email,organization\nAna,ana@example.org,Acme Textiles\n")
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "people.csv: 1 row." in result.output
    assert (
        "Dry run, nothing changed. Of 1 row, the import would create 1, update 0, skip 0 and "
        "leave out 0; it would also create 1 organization." in result.output
    )
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert "1 created, 0 updated, 0 skipped, 0 failed; also created 1 organization." in (
        result.output
    )


def test_a_similar_organization_is_said_once_with_a_link(client, as_role, db, make_org):
    known = make_org("Worker Voice Foundation")
    as_role("lead")
    _, page = preview(
        client,
        db,
        "name\nWorker Voice Foundations\nTextile Union Dhaka\nTextile Union Dhakka\n",
        record_type="organizations",
        name="orgs.csv",
    )
    shown = badges(page)
    assert shown[2][0] == "New"
    link = f'<a href="/organizations/{known.id}">“Worker Voice Foundation”</a>'
    assert re.search(
        rf"Looks like\s*{re.escape(link)} \(\d+% alike\),\s*check before importing\.", page
    )
    assert re.search(
        r"Looks like\s*“Textile Union Dhaka” on line 3 of this file \(\d+% alike\),\s*check before",
        page,
    )
    assert "new, but looks like" not in page


def test_a_finished_run_refuses_changes_in_a_sentence(app, run_import, db):
    from crm.core.errors import OperationError
    from crm.imports import operations

    run = run_import("contacts", "first_name\nAna\n")
    with app.test_request_context():
        run = db.session.get(ImportRun, run.id)
        with pytest.raises(OperationError) as refused:
            operations.set_mapping(run, run.mapping, "fill")
        assert refused.value.message == (
            "This import has ended; upload the file again to import it with other choices."
        )
        with pytest.raises(OperationError) as refused:
            operations.ready(run)
        assert refused.value.message == (
            "This file was already imported; each upload is imported once."
        )


# 4. The mapping page marks what is required and says once what is missing ---------------------


def test_the_mapping_page_marks_required_fields_and_lists_what_is_missing_once(client, as_role, db):
    as_role("lead")
    upload(client, "Phone,Role\n+1 555,speaker\n", "people.csv", record_type="participants")
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    required = re.search(r'<p[^>]*id="required-fields">(.*?)</p>', page, re.S).group(1)
    words = " ".join(re.sub(r"<[^>]+>", " ", required).split())
    assert words == (
        "Every file of event participants needs a column for Event required no column yet · "
        "Email, First name or Full name required no column yet"
    )
    message = (
        "The file has no column for: Event; Email, First name or Full name. Add them to the "
        "file, or map the file's columns to them."
    )
    assert text(page).count(message) == 1
    assert text(page).count("The file has no column") == 1
    assert "(required)" in page  # in the choices of each column, too
    preview_page = client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    assert text(preview_page).count("The file has no column") == 1

    # Once mapped: where each required field is read from, the tag beside its column, and no
    # message.
    upload(client, "Webinar,Attendee email,Role\nForum,a@example.org,speaker\n", "p.csv",
           record_type="participants")  # fmt: skip
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert run.mapping == {"Webinar": "event", "Attendee email": "email", "Role": "role"}
    words = text(page)
    assert "Event required read from “Webinar”" in words
    assert "Email, First name or Full name required read from “Attendee email”" in words
    assert 'id="missing-required"' not in page
    tags = re.findall(r'class="badge text-bg-warning required-tag( invisible)?"', page)
    assert tags == ["", "", " invisible"]  # Webinar, Attendee email: required; Role: not


def test_one_missing_column_is_said_in_the_singular(client, as_role, db):
    as_role("lead")
    upload(client, "kind\nngo\n", "orgs.csv", record_type="organizations")
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert (
        "The file has no column for: Name. Add it to the file, or map one of the file's columns "
        "to it." in text(page)
    )


# 5. Headers and countries in other languages ---------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ["Prénom", "Nom", "Fonction", "Téléphone", "Société", "Pays"],
        ["Nombre", "Apellido", "Cargo", "Teléfono", "Empresa", "País"],
        ["Vorname", "Nachname", "Funktion", "Telefonnummer", "Unternehmen", "Land"],
        ["First", "Last", "Função", "Telefone", "Organização", "País"],
        ["First", "Last", "Intitulé du poste", "N° de téléphone", "Employeur", "Code pays"],
        ["First", "Last", "Puesto", "Móvil", "Nombre de la empresa", "País"],
    ],
)
def test_contact_headers_in_other_languages_are_recognized(headers):
    from crm.imports.column_mapping import auto_map
    from crm.imports.importers.contacts import SPEC

    assert list(auto_map(headers, SPEC).values()) == [
        "first_name", "last_name", "title", "phone", "organization", "country",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [
        ["Entreprise", "Pays", "Site web"],
        ["Empresa", "País", "Sitio web"],
        ["Unternehmen", "Land", "Webseite"],
        ["Organização", "País", "Sítio web"],
        ["Raison sociale", "Pays", "Site internet"],
    ],
)
def test_organization_headers_in_other_languages_are_recognized(headers):
    from crm.imports.column_mapping import auto_map
    from crm.imports.importers.organizations import SPEC

    assert list(auto_map(headers, SPEC).values()) == ["name", "country", "website"]


def test_a_translated_header_never_takes_a_field_of_another_meaning():
    from crm.imports.column_mapping import auto_map
    from crm.imports.importers.endorsements import EndorsementImporter
    from crm.imports.importers.pledges import PledgeImporter

    # An endorsement's title is its headline, not a job title.
    assert auto_map(["Fonction", "Cargo"], EndorsementImporter.spec) == {}
    assert auto_map(["Société"], PledgeImporter.spec) == {"Société": "organization"}
    # A field's own names come first: "Mobile" stays the phone, "Land" the country.
    from crm.imports.importers.contacts import SPEC

    assert auto_map(["Land", "Mobile"], SPEC) == {"Land": "country", "Mobile": "phone"}


COUNTRIES_ELSEWHERE = {
    "Frankreich": "FR", "Allemagne": "DE", "Alemania": "DE", "Deutschland": "DE",
    "Espagne": "ES", "Royaume-Uni": "GB", "États-Unis": "US", "Estados Unidos": "US",
    "Brasil": "BR", "Inde": "IN",
}  # fmt: skip


def test_countries_named_in_other_languages_are_read():
    from crm.imports import cell_values

    for name, code in {
        **COUNTRIES_ELSEWHERE,
        "Vereinigtes Königreich": "GB", "Países Bajos": "NL", "Sudáfrica": "ZA",
        "Costa do Marfim": "CI", "Suíça": "CH", "Belgique": "BE", "Marokko": "MA",
        "ESTADOS UNIDOS": "US", "états-unis d'amérique": "US",
    }.items():  # fmt: skip
        assert cell_values.country(name) == code, name
    assert len(cell_values.translated_countries()) > 1000  # pycountry's own translations


def test_without_pycountry_translations_the_common_names_still_read(monkeypatch, tmp_path):
    import pycountry

    from crm.imports import cell_values

    monkeypatch.setattr(pycountry, "LOCALES_DIR", str(tmp_path))  # an empty folder
    cell_values.translated_countries.cache_clear()
    cell_values.country.cache_clear()
    try:
        assert cell_values.translated_countries() == {}
        for name, code in COUNTRIES_ELSEWHERE.items():
            assert cell_values.country(name) == code, name
    finally:
        cell_values.translated_countries.cache_clear()
        cell_values.country.cache_clear()


def test_a_french_file_imports_its_columns_and_countries(run_import, db):
    from crm.contacts.models import Contact

    run = run_import(
        "contacts",
        "Prénom;Nom;Fonction;Téléphone;Pays\n"
        "Awa;Diallo;Chargée de plaidoyer;+221 33 123;Allemagne\n"
        "Oumar;Ba;Directeur;+1 202 555;États-Unis\n",
    )
    assert run.created_count == 2, run.error_file
    people = {c.first_name: c for c in db.session.scalars(sa.select(Contact))}
    assert (people["Awa"].title, people["Awa"].phone, people["Awa"].country) == (
        "Chargée de plaidoyer", "+221 33 123", "DE",
    )  # fmt: skip
    assert people["Oumar"].country == "US"


def test_a_city_column_is_said_to_be_left_out(client, as_role, db):
    as_role("lead")
    upload(client, "Prénom,Ville\nAwa,Dakar\n")
    run = latest_run(db)
    page = client.get(f"/imports/{run.id}/mapping").get_data(as_text=True)
    assert run.mapping == {"Prénom": "first_name"}
    assert "The CRM keeps no city or town; this column is left out." in text(page)


# 6. A file over the upload limit --------------------------------------------------------------


def test_a_file_over_the_limit_is_told_the_limit_and_the_way_back(
    app, client, as_role, monkeypatch
):
    as_role("lead")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 5 * 1024 * 1024 + 512 * 1024)
    response = upload(client, b"first_name\n" + b"x\n" * (3 * 1024 * 1024))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    words = text(page)
    assert "File too large" in words
    assert "The file is larger than the 5.5 MB an upload can be, so nothing was imported." in words
    assert (
        "import it from the command line (flask crm import), which takes files up to 200 MB."
        in words
    )
    assert re.search(r'<a class="btn btn-primary" href="/imports/">Back to Imports</a>', page)
    assert "Go to the home page" not in page
    # The imports page states the same limit.
    assert "up to 5.5 MB." in text(client.get("/imports/").get_data(as_text=True))


# 7. Uploads not imported say how long ago they came ---------------------------------------------


def test_drafts_on_the_imports_page_say_when_they_were_uploaded(client, as_role, db, run_import):
    from datetime import timedelta

    from crm.core.db import utcnow

    done = run_import("contacts", "first_name\nAna\n")
    as_role("lead")
    upload(client, "first_name\nBo\n", "old.csv")
    old = latest_run(db)
    old.created_at = utcnow() - timedelta(hours=3, minutes=5)
    db.session.commit()
    upload(client, "first_name\nCy\n", "new.csv")
    page = client.get("/imports/").get_data(as_text=True)
    rows = {
        name: " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        for name in ("old.csv", "new.csv", done.file_name)
        if f">{name}</a>" in row
    }
    assert "Not imported yet uploaded 3 hours ago" in rows["old.csv"]
    assert "Not imported yet uploaded just now" in rows["new.csv"]
    assert "uploaded" not in rows[done.file_name]
    assert "Files uploaded but not imported are kept for a week, then dropped." in text(page)


# 8. Before the Import button: what happens if it fails ------------------------------------------


def test_the_preview_says_an_import_is_all_or_nothing_before_the_button(client, as_role, db):
    as_role("lead")
    _, page = preview(client, db, "first_name,email\nAna,ana@example.org\nBo,oops\n")
    sentence = (
        "Rows with problems are left out and the rest is written in one transaction, all "
        "together, so if the import stops on an error or a crash, nothing at all is changed."
    )
    words = text(page)
    assert sentence in words
    assert words.index(sentence) < words.index("Import 1 row (1 left out)")
    # Not where nothing can be imported yet.
    upload(client, "phone\n1\n")
    run = latest_run(db)
    assert sentence not in text(client.get(f"/imports/{run.id}/preview").get_data(as_text=True))


def test_nothing_to_import_does_not_explain_how_an_import_is_written(
    client, as_role, db, make_contact
):
    make_contact("Ana", "Lima", email="ana@example.org")
    as_role("lead")
    _, page = preview(client, db, "first_name,email\nAna,ana@example.org\n")
    assert 'id="all-or-nothing"' not in page
