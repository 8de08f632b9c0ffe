"""Reading files: encodings, delimiters, quoted newlines, Excel, and what is refused."""

from __future__ import annotations

import io

import openpyxl
import pytest

from crm.core.errors import OperationError
from crm.imports.column_mapping import auto_map, check_mapping, header_key
from crm.imports.importers.contacts import SPEC as CONTACTS
from crm.imports.table_reader import TableReader

TEXT = 'First name,Last name,E-mail,Notes\nJosé,Núñez,jose@example.org,"two\nlines"\nZoë,Ðorđević,zoe@example.org,\n'


def read(tmp_path, data: bytes, name="file.csv"):
    path = tmp_path / "upload"
    path.write_bytes(data)
    reader = TableReader(path, name)
    return reader, list(reader.rows())


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
     ("cp1252", "cp1252")],
)  # fmt: skip
def test_encodings(tmp_path, encoding, expected):
    text = TEXT if encoding != "cp1252" else TEXT.replace("Ðorđević", "Dordevic")
    reader, rows = read(tmp_path, text.encode(encoding))
    assert reader.info.encoding == expected
    assert reader.info.headers == ["First name", "Last name", "E-mail", "Notes"]
    assert rows[0] == (
        2,
        {
            "First name": "José",
            "Last name": "Núñez",
            "E-mail": "jose@example.org",
            "Notes": "two\nlines",
        },
    )
    assert rows[1][0] == 3  # numbered by record, as a spreadsheet shows them
    assert len(rows) == 2


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(tmp_path, delimiter):
    data = f"name{delimiter}kind{delimiter}country\nAcme, Inc.{delimiter}brand{delimiter}KE\n"
    if delimiter == ",":
        data = 'name,kind,country\n"Acme, Inc.",brand,KE\n'
    reader, rows = read(tmp_path, data.encode())
    assert reader.info.delimiter == delimiter
    assert rows == [(2, {"name": "Acme, Inc.", "kind": "brand", "country": "KE"})]


def test_xlsx_with_numbers_and_dates(tmp_path):
    from datetime import date

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Reach", "Date", None])
    sheet.append(["Ana", 1200.0, date(2026, 10, 1), None])
    sheet.append([None, None, None, None])  # blank rows are ignored
    sheet.append(["Bo", None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    reader, rows = read(tmp_path, buffer.getvalue(), "people.xlsx")
    assert reader.info.file_format == "xlsx"
    assert reader.info.headers == ["Name", "Reach", "Date"]
    assert rows == [
        (2, {"Name": "Ana", "Reach": "1200", "Date": "2026-10-01"}),
        (4, {"Name": "Bo", "Reach": "", "Date": ""}),  # row 3 is blank
    ]


def test_values_past_the_last_column_are_flagged_not_lost(tmp_path):
    _reader, rows = read(tmp_path, b"name,email\nAna,ana@example.org,extra\nBo,bo@example.org\n")
    assert rows[0][1]["__extra__"] == "extra"
    assert "__extra__" not in rows[1][1]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "is empty"),
        (b"%PDF-1.7", "a.csv", "PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1", "old.xls", r"old Excel \(\.xls\)"),
        (b"This is a letter to the team and not a table at all\nBye\n", "a.txt", "is a sentence, not column names"),
        (b",,\n,,\n", "a.csv", "is empty"),
        (b"email,EMAIL\n", "a.csv", "two columns named"),
    ],
)  # fmt: skip
def test_refused_files(tmp_path, data, name, message):
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(OperationError, match=message):
        TableReader(path, name)


def test_too_many_rows_is_refused_with_the_limit(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(b"name\n" + b"x\n" * 11)
    reader = TableReader(path, "a.csv", max_rows=10)
    with pytest.raises(OperationError, match="more than 10 rows"):
        list(reader.rows())


def test_bad_bytes_in_a_utf8_file_after_the_first_block(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(b"name\n" + b"abc\n" * 20000 + b"caf\xe9\n")
    reader = TableReader(path, "a.csv")
    assert reader.info.encoding == "utf-8"
    with pytest.raises(OperationError, match="not valid utf-8 text"):
        list(reader.rows())


def test_headers_are_mapped_by_name_label_and_synonym():
    headers = ["E-Mail Address", "Surname", "Given name", "Company", "Country", "Favourite colour"]
    mapping = auto_map(headers, CONTACTS)
    assert mapping == {
        "E-Mail Address": "email", "Surname": "last_name", "Given name": "first_name",
        "Company": "organization", "Country": "country",
    }  # fmt: skip
    assert header_key(" Prénom ") == "prenom"


def test_mapping_checks():
    with pytest.raises(OperationError, match="no column for: First name or Full name"):
        check_mapping({"Email": "email"}, ["Email"], CONTACTS)
    with pytest.raises(OperationError, match="Two columns"):
        check_mapping({"A": "email", "B": "email", "N": "first_name"}, ["A", "B", "N"], CONTACTS)
    assert check_mapping(
        {"N": "first_name", "Gone": "email", "X": "nonsense"}, ["N", "X"], CONTACTS
    ) == {"N": "first_name"}


def test_line_numbers_count_blank_rows_as_a_spreadsheet_does(tmp_path):
    _reader, rows = read(
        tmp_path, b"first_name;email\nAna;ana@example.org\n;\n\nBo;bo@example.org\n"
    )
    assert [line for line, _ in rows] == [2, 5]


def test_headers_and_countries_as_written_in_other_languages():
    headers = ["Vorname", "Nachname", "E-mail", "Unternehmen", "Land"]
    assert auto_map(["Société", "Prénom"], CONTACTS) == {
        "Société": "organization", "Prénom": "first_name"
    }  # fmt: skip
    assert auto_map(headers, CONTACTS)["Unternehmen"] == "organization"

    import pycountry

    from crm.imports.cell_values import COUNTRY_ALIASES, country

    assert all(pycountry.countries.get(alpha_2=code) for code in COUNTRY_ALIASES.values())
    for written, code in [("Deutschland", "DE"), ("España", "ES"), ("Türkiye", "TR"),
                          ("Österreich", "AT"), ("Côte d'Ivoire", "CI"), ("Viet Nam", "VN")]:  # fmt: skip
        assert country(written) == code, written
