"""Imports and the quarterly report in the browser.

A lead uploads a messy CSV (Windows-1252, semicolons, a quoted cell running over two lines,
French headers, bad rows), maps the columns auto-mapping did not recognize and saves the
mapping, reads the problems in the preview, imports, downloads the failed rows, finds an
imported contact, and undoes the import. A viewer opens the quarterly report and downloads it
as XLSX.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LEAD_EMAIL = "lead@example.org"

HEADERS = [
    "Prénom",  # recognized (a synonym of First name)
    "Nom",  # recognized (Last name)
    "Courriel",  # recognized (Email, in French)
    "Structure",  # not recognized: Organization, mapped by hand
    "Pays de résidence",  # not recognized: Country, mapped by hand
    "Mots-clés",  # not recognized: Tags, mapped by hand
    "Remarques",  # not recognized: Notes, mapped by hand
    "Réf. interne",  # not recognized, left ignored
]
BY_HAND = {
    "Structure": "organization",
    "Pays de résidence": "country",
    "Mots-clés": "tags",
    "Remarques": "notes",
}
NOTE = "Rencontrée à Lyon, salon d’automne\nSuivi prévu en mars"

BAD_EMAIL = "An email address must have an @-sign"
NARNIA = "“Narnia” is not a country we know (ISO 3166-1)"
SAME_EMAIL = "the same email as line 2 of this file"


def switch_user(page, crm, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in(email, password)


def messy_csv(folder: Path, tag: str) -> tuple[Path, dict[str, str]]:
    """A contact list as an old Excel saves it in France: Windows-1252, semicolons, CRLF.
    `tag` makes the names unique to this test run; returns the file and the people's names."""
    names = {
        "elodie": f"Fauré{tag}",
        "awa": f"Ndiaye{tag}",
        "marc": f"Dupont{tag}",
        "lucy": f"Pevensie{tag}",
        "koffi": f"Yao{tag}",
        "soren": f"Østergaard{tag}",
    }
    rows = [
        HEADERS,
        # line 2: fine, with a note on two lines and a comma inside (quoted)
        ["Élodie", names["elodie"], f"elodie.{tag}@example.org", f"Atelier Côte {tag}",
         "France", "textile, fournisseur", NOTE, "A-001"],
        # line 3: fine, a country with its accents
        ["Awa", names["awa"], f"awa.{tag}@example.org", f"Dakar Couture {tag}",
         "Sénégal", "", "", "A-002"],
        # line 4: no @ in the email
        ["Marc", names["marc"], f"marc.dupont.{tag}.example.org", f"Atelier Côte {tag}",
         "France", "", "", "A-003"],
        # line 5: a country that does not exist
        ["Lucy", names["lucy"], f"lucy.{tag}@example.org", "", "Narnia", "", "", "A-004"],
        # line 6: line 2's email again, in capitals
        ["Élodie", names["elodie"], f"ELODIE.{tag}@example.org", "", "France", "", "", "A-005"],
        # line 7: fine, a curly apostrophe (0x92 in Windows-1252) in the country
        ["Koffi", names["koffi"], f"koffi.{tag}@example.org", "", "Côte d’Ivoire", "", "",
         "A-006"],
        # line 8: fine
        ["Søren", names["soren"], f"soren.{tag}@example.org", f"Nordisk Garn {tag}",
         "Denmark", "strik", "", "A-007"],
    ]  # fmt: skip
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    path = folder / "Contacts salon Lyon.csv"
    path.write_bytes(out.getvalue().encode("cp1252"))
    return path, names


def preview_row(page, line: int):
    return page.locator(f'#preview-table tbody tr[data-line="{line}"]')


def test_a_lead_imports_a_messy_csv_reads_the_errors_and_undoes_it(
    page, crm, accounts, unique, screenshot, tmp_path, guide_screen
):
    tag = unique()
    path, names = messy_csv(tmp_path, tag)
    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)

    # Upload.
    page.goto("/imports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Imports")
    page.locator("#record_type").select_option("contacts")
    page.locator("#file").set_input_files(path)
    page.locator("#upload-form").get_by_role("button", name="Upload and map columns").click()

    # Mapping: how the file was read, what was recognized, the rest mapped by hand.
    expect(page).to_have_url(re.compile(r"/imports/\d+/mapping$"))
    run_url = page.url.removesuffix("/mapping")
    expect(page.get_by_role("heading", level=1)).to_have_text("1. Map the columns")
    intro = page.locator("main p.text-muted").first
    expect(intro).to_contain_text("7 rows of contacts")
    expect(intro).to_contain_text("Windows Western European")
    expect(intro).to_contain_text("separated by semicolons")
    expect(page.locator("#mapping-table tbody tr")).to_have_count(len(HEADERS))
    expect(page.get_by_label("Prénom", exact=True)).to_have_value("first_name")
    expect(page.get_by_label("Nom", exact=True)).to_have_value("last_name")
    expect(page.get_by_label("Courriel", exact=True)).to_have_value("email")
    for header in [*BY_HAND, "Réf. interne"]:
        expect(page.get_by_label(header, exact=True)).to_have_value("")
    # The first values, decoded from Windows-1252, the two-line note in one cell.
    notes_row = page.locator("#mapping-table tbody tr").nth(HEADERS.index("Remarques"))
    expect(notes_row).to_contain_text("Rencontrée à Lyon, salon d’automne")
    expect(page.locator("#mapping-table")).to_contain_text("Sénégal")
    # What every contacts file needs, and the tag beside the column read as it.
    expect(page.locator("#required-fields")).to_contain_text(
        "First name or Full name required read from “Prénom”"
    )
    expect(page.locator("#missing-required")).to_have_count(0)
    rows = page.locator("#mapping-table tbody tr")
    expect(rows.nth(HEADERS.index("Prénom")).locator(".required-tag")).to_be_visible()
    reference = rows.nth(HEADERS.index("Réf. interne"))
    expect(reference.locator(".required-tag")).to_be_hidden()
    page.get_by_label("Réf. interne", exact=True).select_option("full_name")
    expect(reference.locator(".required-tag")).to_be_visible()
    page.get_by_label("Réf. interne", exact=True).select_option("")
    expect(reference.locator(".required-tag")).to_be_hidden()
    for header, key in BY_HAND.items():
        page.get_by_label(header, exact=True).select_option(key)
    expect(page.get_by_label("Skip it (change nothing)")).to_be_checked()
    mapping_name = f"Salon Lyon export {tag}"
    page.get_by_label("Save this mapping").fill(mapping_name)
    screenshot("mapping")
    guide_screen("lead-import-mapping")
    page.get_by_role("button", name="Check and preview").click()

    # Preview: the three bad rows are left out, each with the reason under the bad cell.
    expect(page).to_have_url(f"{run_url}/preview")
    expect(page.get_by_role("heading", level=1)).to_have_text("2. Check the first rows")
    expect(page.get_by_role("alert").filter(has_text="Saved the mapping")).to_contain_text(
        f"Saved the mapping as “{mapping_name}”."
    )
    expect(page.locator("#mapping-problem")).to_have_count(0)
    expect(page.locator("#preview-summary")).to_contain_text(
        "All 7 rows are below, checked exactly as the import will check them: 4 will be added "
        "and 3 left out. The 3 rows left out have problems: they will be listed in an error file"
    )
    expect(page.locator("#import-button")).to_have_text("Import 4 rows (3 left out)")
    expect(page.locator("#all-or-nothing")).to_contain_text(
        "the rest is written in one transaction, all together, so if the import stops on an "
        "error or a crash, nothing at all is changed."
    )
    table = page.locator("#preview-table")
    expect(table.locator("thead")).to_contain_text("→ Email")
    expect(table.locator("thead th").filter(has_text="Réf. interne")).to_contain_text("ignored")
    expect(table.locator("tbody tr")).to_have_count(7)
    expect(table.locator("tbody tr.table-danger")).to_have_count(3)
    for line, message, value in [
        (4, BAD_EMAIL, f"marc.dupont.{tag}.example.org"),
        (5, NARNIA, "Narnia"),
        (6, SAME_EMAIL, f"ELODIE.{tag}@example.org"),
    ]:
        row = preview_row(page, line)
        expect(row).to_have_class(re.compile(r"\btable-danger\b"))
        expect(row.locator(".badge")).to_have_text("Left out")
        bad_cell = row.locator("td.cell-error")
        expect(bad_cell).to_have_count(1)
        expect(bad_cell).to_contain_text(value)
        expect(bad_cell.locator(".text-danger")).to_have_text(message)
    for line in (2, 3, 7, 8):
        row = preview_row(page, line)
        expect(row.locator(".badge")).to_have_text("New")
        expect(row.locator("td.cell-error")).to_have_count(0)
    expect(preview_row(page, 2)).to_contain_text("Suivi prévu en mars")
    screenshot("preview")
    guide_screen("lead-import-preview")

    # Import: four created, three failed.
    page.locator("#import-button").click()
    expect(page).to_have_url(run_url)
    expect(page.locator("#run-status")).to_have_text("Imported")
    expect(page.get_by_role("alert").filter(has_text="Imported:")).to_contain_text(
        "4 created, 0 updated, 0 skipped, 3 failed."
    )
    counts = page.locator("#run-counts")
    expect(counts.locator(".card").filter(has_text="Created").locator(".display-6")).to_have_text(
        "4"
    )
    expect(counts.locator(".card").filter(has_text="Failed").locator(".display-6")).to_have_text(
        "3"
    )
    expect(page.locator("main")).to_contain_text("Also created: 3 organizations")
    expect(page.locator("#error-file")).to_contain_text("3 rows were left out.")
    screenshot("run")
    guide_screen("lead-import-done")

    # The error file: the failed rows as they were, with the reason and the line.
    with page.expect_download() as download_info:
        page.locator("#error-file").get_by_role("link", name="Download the rows left out").click()
    download = download_info.value
    assert download.suggested_filename == "Contacts salon Lyon-errors.csv"
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    failed = list(csv.DictReader(io.StringIO(text)))
    assert list(failed[0]) == ["reason", "line", *HEADERS]
    assert [(r["line"], r["reason"]) for r in failed] == [
        ("4", BAD_EMAIL),
        ("5", NARNIA),
        ("6", SAME_EMAIL),
    ]
    assert [r["Nom"] for r in failed] == [names["marc"], names["lucy"], names["elodie"]]
    assert failed[0]["Structure"] == f"Atelier Côte {tag}"
    assert failed[2]["Courriel"] == f"ELODIE.{tag}@example.org"

    # The imported contacts are in the CRM, the two-line note whole.
    contact_links = page.locator("#contacts-table tbody a.fw-medium")
    page.goto(f"/contacts/?q={tag}")
    expect(contact_links).to_have_count(4)
    for first, key in [
        ("Élodie", "elodie"),
        ("Awa", "awa"),
        ("Koffi", "koffi"),
        ("Søren", "soren"),
    ]:
        expect(contact_links.filter(has_text=f"{first} {names[key]}")).to_have_count(1)
    contact_links.filter(has_text=f"Élodie {names['elodie']}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Élodie {names['elodie']}")
    main = page.locator("main")
    expect(main).to_contain_text(f"elodie.{tag}@example.org")
    expect(main).to_contain_text(f"Atelier Côte {tag}")
    expect(main.locator(".preserve-lines")).to_have_text(NOTE)

    # Undo: after the confirmation, the contacts and the new organizations are gone.
    page.goto(run_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#undo-button").click()
    expect(page.locator("#run-status")).to_have_text("Undone")
    expect(page.get_by_role("alert").filter(has_text="Undone:")).to_contain_text(
        "Undone: 4 contacts and 3 organizations removed."
    )
    expect(page.locator("#undo-button")).to_have_count(0)
    screenshot("undone")

    page.goto(f"/contacts/?q={tag}")
    expect(contact_links).to_have_count(0)
    expect(page.locator("#contacts-table tbody")).to_contain_text(
        "No contact matches these filters."
    )
    page.goto(f"/organizations/?q={tag}")
    expect(page.locator("main")).to_contain_text("No organization matches.")

    # What the error file promises: fix the rows in it and upload it again, the reason and line
    # columns included; the saved mapping reads the French headers.
    fixed = [dict(r) for r in failed if r["line"] != "6"]  # line 6 repeated line 2: dropped
    fixed[0]["Courriel"] = f"marc.dupont.{tag}@example.org"
    fixed[1]["Pays de résidence"] = "United Kingdom"
    fixed_path = tmp_path / "Contacts salon Lyon corrigé.csv"
    with fixed_path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(failed[0]))
        writer.writeheader()
        writer.writerows(fixed)
    page.goto("/imports/")
    page.locator("#record_type").select_option("contacts")
    page.locator("#file").set_input_files(fixed_path)
    page.locator("#upload-form").get_by_role("button", name="Upload and map columns").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/mapping$"))
    second_run_url = page.url.removesuffix("/mapping")
    page.get_by_label("Use a saved mapping").select_option(label=mapping_name)
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert").filter(has_text="Applied")).to_contain_text(
        f"Applied the mapping “{mapping_name}”."
    )
    for header, key in BY_HAND.items():
        expect(page.get_by_label(header, exact=True)).to_have_value(key)
    for header in ("reason", "line", "Réf. interne"):
        expect(page.get_by_label(header, exact=True)).to_have_value("")
    page.get_by_role("button", name="Check and preview").click()
    expect(page).to_have_url(f"{second_run_url}/preview")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr.table-danger")).to_have_count(0)
    expect(table.locator("tbody .badge")).to_have_text(["New", "New"])
    page.locator("#import-button").click()
    expect(page).to_have_url(second_run_url)
    expect(page.locator("#run-status")).to_have_text("Imported")
    expect(page.get_by_role("alert").filter(has_text="Imported:")).to_contain_text(
        "2 created, 0 updated, 0 skipped, 0 failed."
    )
    expect(page.locator("#error-file")).to_have_count(0)
    page.goto(f"/contacts/?q={tag}")
    expect(contact_links).to_have_count(2)
    expect(contact_links.filter(has_text=f"Marc {names['marc']}")).to_have_count(1)
    expect(contact_links.filter(has_text=f"Lucy {names['lucy']}")).to_have_count(1)

    # The list of imports shows both runs, the first one undone.
    page.goto("/imports/")
    runs = page.locator("#runs-table tbody tr")
    expect(runs.filter(has_text="Contacts salon Lyon.csv").locator(".badge")).to_have_text("Undone")
    expect(runs.filter(has_text="Contacts salon Lyon corrigé.csv").locator(".badge")).to_have_text(
        "Imported"
    )
    screenshot()


def upload_file(page, path: Path, record_type: str = "contacts") -> str:
    """Upload `path` from the imports page; returns the run's URL (the mapping page is open)."""
    page.goto("/imports/")
    page.locator("#record_type").select_option(record_type)
    page.locator("#file").set_input_files(path)
    page.locator("#upload-form").get_by_role("button", name="Upload and map columns").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+/mapping$"))
    return page.url.removesuffix("/mapping")


def test_a_lead_sees_what_a_second_file_would_change_before_importing_it(
    page, crm, accounts, unique, screenshot, tmp_path
):
    """French headers recognized, the required field marked, "fill empty fields" saying which
    rows it fills and which it leaves unchanged, the button counting only what is written, a
    file with nothing new refused on the page, and drafts on the imports list with their age."""
    tag = unique()
    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)
    first = tmp_path / "Annuaire.csv"
    first.write_text(
        "Prénom;Nom;Courriel;Fonction;Téléphone;Ville;Pays\n"
        f"Inès;Martin{tag};ines.{tag}@example.org;Chargée de plaidoyer;+33 1 42 00 00 01;Paris;France\n"
        f"Jonas;Weber{tag};jonas.{tag}@example.org;;;Berlin;Allemagne\n",
        encoding="utf-8",
    )
    upload_file(page, first)
    # Mapping: the French headers are read as they mean, the required field marked, the city
    # said to be left out.
    for header, key in [("Prénom", "first_name"), ("Nom", "last_name"), ("Fonction", "title"),
                        ("Téléphone", "phone"), ("Pays", "country")]:  # fmt: skip
        expect(page.get_by_label(header, exact=True)).to_have_value(key)
    expect(page.get_by_label("Courriel", exact=True)).to_have_value("email")
    ville = page.locator("#mapping-table tbody tr").nth(5)
    expect(ville).to_contain_text("The CRM keeps no city or town; this column is left out.")
    expect(page.locator("#required-fields")).to_contain_text(
        "First name or Full name required read from “Prénom”"
    )
    screenshot("mapping")
    page.get_by_role("button", name="Check and preview").click()
    expect(page.locator("#import-button")).to_have_text("Import 2 rows")
    page.locator("#import-button").click()
    expect(page.get_by_role("alert").filter(has_text="Imported:")).to_contain_text("2 created")

    # The same people again with more details, one new person and one bad row, in "fill in
    # only the fields that are empty".
    second = tmp_path / "Annuaire complété.csv"
    second.write_text(
        "Prénom;Nom;Courriel;Fonction;Téléphone;Pays\n"
        f"Inès;Martin{tag};ines.{tag}@example.org;Directrice;+33 1 42 00 00 02;France\n"
        f"Jonas;Weber{tag};jonas.{tag}@example.org;Referent;+49 30 1234;Deutschland\n"
        f"Ana;Lima{tag};ana.{tag}@example.org;;;Brasil\n"
        f"Bo;Berg{tag};bo.{tag}.example.org;;;Royaume-Uni\n",
        encoding="utf-8",
    )
    upload_file(page, second)
    page.get_by_label("Courriel", exact=True).select_option("email")
    page.get_by_label("Fill in only the fields that are empty").check()
    page.get_by_role("button", name="Check and preview").click()
    rows = page.locator("#preview-table tbody tr")
    expect(rows.nth(0).locator(".badge")).to_have_text("Unchanged")
    expect(rows.nth(0).locator(".row-detail")).to_contain_text(
        "the record has no empty field the file can fill"
    )
    expect(rows.nth(1).locator(".badge")).to_have_text("Update")
    expect(rows.nth(1).locator(".row-detail")).to_contain_text("will fill in phone and title")
    expect(rows.nth(2).locator(".badge")).to_have_text("New")
    expect(rows.nth(3).locator(".badge")).to_have_text("Left out")
    expect(page.locator("#preview-summary")).to_contain_text(
        "All 4 rows are below, checked exactly as the import will check them: 1 will be added, "
        "1 updated, 1 left unchanged and 1 left out. The row left out has a problem: it will be "
        "listed in an error file that you can fix and upload again."
    )
    expect(page.locator("#import-button")).to_have_text("Import 2 rows (1 left out, 1 unchanged)")
    screenshot("preview")
    second_url = page.url.removesuffix("/preview")

    # The first file again, skipping what we have: nothing to import, and the button says so.
    upload_file(page, first)
    page.get_by_label("Courriel", exact=True).select_option("email")
    page.get_by_role("button", name="Check and preview").click()
    button = page.locator("#import-button")
    expect(button).to_have_text("Nothing to import: every row is left out or unchanged")
    expect(button).to_be_disabled()
    screenshot("nothing-to-import")

    # Both uploads wait on the imports list, with how long ago they came.
    page.goto("/imports/")
    draft = page.locator("#runs-table tbody tr").filter(has_text="Annuaire complété.csv")
    expect(draft).to_contain_text("Not imported yet")
    expect(draft.locator(".draft-age")).to_have_text("uploaded just now")
    expect(page.locator("#drafts-note")).to_be_visible()
    screenshot("list")

    # Importing the second file after all: the counts as the preview said.
    page.goto(f"{second_url}/preview")
    page.locator("#import-button").click()
    expect(page.get_by_role("alert").filter(has_text="Imported:")).to_contain_text(
        "1 created, 1 updated, 1 skipped, 1 failed."
    )
    expect(page.locator("#error-file")).to_contain_text(
        "1 row was left out. Download it with the reason, fix it in a spreadsheet"
    )
    screenshot("run")


def test_a_large_file_is_imported_by_the_worker_and_its_page_follows_it(
    page, crm, accounts, unique, screenshot, tmp_path
):
    """A file over 2,000 rows is a job: the Import button answers at once with the run's page,
    which follows the worker (no reload by hand) until the file is in."""
    tag = unique()
    rows = 3000
    path = tmp_path / "Large list.csv"
    path.write_text(
        "first_name,last_name,email\n"
        + "".join(f"P{i},Large{tag},p{i}.{tag}@example.org\n" for i in range(rows)),
        encoding="utf-8",
    )
    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)
    run_url = upload_file(page, path)
    page.get_by_role("button", name="Check and preview").click()
    expect(page.locator("#preview-summary")).to_contain_text("The first 20 of 3,000 rows")
    expect(page.get_by_text("A file this size imports in the background")).to_be_visible()
    page.locator("#import-button").click()
    expect(page).to_have_url(re.compile(re.escape(run_url) + "$"))
    expect(page.locator("#run-status")).to_have_text("Imported", timeout=60_000)
    expect(page.locator("#run-counts")).to_contain_text("3,000")
    expect(page.locator("#no-worker")).to_have_count(0)
    screenshot()
    page.goto(f"/contacts/?q=p2999.{tag}")  # the last row is in
    expect(page.locator("main")).to_contain_text(f"P2999 Large{tag}")


def test_a_viewer_downloads_the_quarterly_report_as_xlsx(
    page, crm, accounts, screenshot, guide_screen
):
    switch_user(page, crm, accounts.viewer_email, accounts.demo_password)
    page.goto("/reports/")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Adoption report, ")
    expect(page.locator("#report-figures .stat-card").first).to_be_visible()
    expect(page.locator("#highlights")).to_be_visible()
    code = page.locator("#quarter").input_value()
    assert re.fullmatch(r"\d{4}Q[1-4]", code), code
    screenshot("page")
    guide_screen("viewer-report")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="XLSX").click()
    download = download_info.value
    assert download.suggested_filename == f"west-adoption-report-{code}.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert len(book.sheetnames) > 1, book.sheetnames
    assert any(
        cell.value is not None for sheet in book.worksheets for row in sheet.iter_rows()
        for cell in row
    )  # fmt: skip

    # The quarter before: the page follows the choice, and so does its download.
    previous = page.locator("#quarter option").nth(1)
    previous_code, previous_label = previous.get_attribute("value"), previous.inner_text()
    page.locator("#quarter").select_option(previous_code)
    expect(page).to_have_url(re.compile(rf"/reports/\?quarter={previous_code}$"))
    expect(heading).to_have_text(f"Adoption report, {previous_label}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="XLSX").click()
    assert download_info.value.suggested_filename == f"west-adoption-report-{previous_code}.xlsx"
    screenshot()
