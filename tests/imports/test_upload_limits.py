"""Files built to exhaust the reader: a decompression bomb, a ZIP that lies about its sizes, XML
entities that expand without end, a CSV on one endless line. Each is refused at once, with a
message, by the web page and the command line alike, and nothing is kept."""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.imports.models import ImportRun, ImportUpload
from crm.imports.table_reader import MAX_COLUMNS, MAX_LINE_CHARS, TableReader
from crm.imports.workbook_limits import MAX_MEMBERS

SHEET = "xl/worksheets/sheet1.xml"
SHEET_OPEN = (
    '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main">'
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>First name</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Email</t></is></c></row>'
)
REPEATED_ROW = (
    '<row><c t="inlineStr"><is><t>Ana</t></is></c>'
    '<c t="inlineStr"><is><t>ana@example.org</t></is></c></row>'
)


def workbook(rows: int = 1) -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["First name", "Email"])
    for n in range(rows):
        book.active.append([f"Ana {n}", f"ana.{n}@example.org"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_sheet(sheet_xml: bytes, *, extra_parts: int = 0, parts: dict | None = None) -> bytes:
    """A real workbook with its sheet replaced (and `parts` added), deflated as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            data = sheet_xml if info.filename == SHEET else source.read(info.filename)
            archive.writestr(info.filename, data)
        for n in range(extra_parts):
            archive.writestr(f"xl/media/part{n}.bin", b"")
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def bomb(megabytes: int = 40) -> bytes:
    """A sheet of `megabytes` of one repeated row: a few hundred kilobytes packed."""
    rows = REPEATED_ROW * (megabytes * 1024 * 1024 // len(REPEATED_ROW))
    return with_sheet(f"{SHEET_OPEN}<sheetData>{HEADER_ROW}{rows}</sheetData></worksheet>".encode())


def understating(data: bytes, member: str, declared: int) -> bytes:
    """`data` with `member`'s unpacked size given as `declared`, in its local header and in the
    central directory (the one zipfile trusts)."""
    raw = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    struct.pack_into("<I", raw, info.header_offset + 22, declared)
    name = member.encode()
    at = raw.find(b"PK\x01\x02")
    while raw[at + 46 : at + 46 + struct.unpack_from("<H", raw, at + 28)[0]] != name:
        at = raw.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", raw, at + 24, declared)
    return bytes(raw)


@pytest.fixture(scope="module")
def a_bomb() -> bytes:
    return bomb()


@pytest.fixture(scope="module")
def a_long_list() -> bytes:
    return workbook(rows=20_000)  # a real list: about 7 MB unpacked, 12 times its size


def refusal(tmp_path, data: bytes, name: str = "people.xlsx", **limits) -> str:
    path = tmp_path / "upload"
    path.write_bytes(data)
    with pytest.raises(OperationError) as refused:
        reader = TableReader(path, name, **limits)
        reader.count_rows()
    return refused.value.message


@pytest.mark.no_db
def test_a_decompression_bomb_is_refused_from_its_declared_sizes_at_once(tmp_path, a_bomb):
    assert len(a_bomb) < 1024 * 1024  # under a megabyte, 40 MB unpacked
    started = time.perf_counter()
    message = refusal(tmp_path, a_bomb)
    assert time.perf_counter() - started < 5  # about a millisecond; parsing it took seconds
    assert "is not a workbook we can read safely" in message
    assert f"({SHEET}) unpacks to" in message and "times its size" in message


@pytest.mark.no_db
def test_a_workbook_that_unpacks_past_the_limit_is_refused(tmp_path, a_long_list):
    data = a_long_list
    message = refusal(tmp_path, data, max_unpacked=1024 * 1024)
    assert re.fullmatch(
        r"“people\.xlsx” unpacks to \d\.\d MB, more than the 1 MB we read from one workbook\. "
        r"Save it as CSV \(which has no such limit\) or split it into smaller workbooks, and "
        r"upload that\.",
        message,
    )
    # The same file under the default limit is read.
    path = tmp_path / "fits"
    path.write_bytes(data)
    assert TableReader(path, "people.xlsx").count_rows() == 20_000


@pytest.mark.no_db
def test_a_part_read_into_memory_whole_is_held_to_a_fifth_of_the_limit(tmp_path):
    """openpyxl streams a sheet but holds the shared strings (every distinct text) whole, at
    about 7 times their size: that part may unpack to a fifth of the limit."""
    texts = "".join(f"<si><t>{n:x}-{n * 7919 % 100003}</t></si>" for n in range(60_000))
    shared = f'<?xml version="1.0"?><sst>{texts}</sst>'.encode()  # 1.5 MB
    data = with_sheet(HEADER_ROW.encode(), parts={"xl/sharedStrings.xml": shared})
    message = refusal(tmp_path, data, max_unpacked=5 * 1024 * 1024)
    assert message.startswith(
        "“people.xlsx” has a part (xl/sharedStrings.xml) that unpacks to 1.5 MB; we read at "
        "most 1 MB of such a part, which is held in memory whole."
    )
    # A sheet of the same size is streamed: only the total counts for it.
    rows = "".join(
        f'<row><c t="inlineStr"><is><t>{n:x}-{n * 7919 % 100003}</t></is></c></row>'
        for n in range(30_000)
    )
    sheet = f"{SHEET_OPEN}<sheetData>{HEADER_ROW}{rows}</sheetData></worksheet>".encode()
    path = tmp_path / "streamed"
    path.write_bytes(with_sheet(sheet))
    assert TableReader(path, "people.xlsx", max_unpacked=5 * 1024 * 1024).count_rows() == 30_000


@pytest.mark.no_db
def test_a_zip_of_thousands_of_parts_is_refused(tmp_path):
    parts = len(zipfile.ZipFile(io.BytesIO(workbook())).namelist()) + MAX_MEMBERS
    message = refusal(tmp_path, with_sheet(HEADER_ROW.encode(), extra_parts=MAX_MEMBERS))
    assert f"holds {parts:,} files inside; an Excel workbook holds a few dozen" in message


@pytest.mark.no_db
def test_zipfile_never_unpacks_a_part_past_its_declared_size(a_bomb):
    """What the declared sizes are worth when they lie: zipfile (which openpyxl reads through)
    stops at the declared size and fails the part's checksum."""
    lying = understating(a_bomb, SHEET, 100_000)
    archive = zipfile.ZipFile(io.BytesIO(lying))
    assert archive.getinfo(SHEET).file_size == 100_000
    unpacked = 0
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"), archive.open(SHEET) as part:
        while chunk := part.read(64 * 1024):
            unpacked += len(chunk)
    assert unpacked <= 100_000


@pytest.mark.no_db
def test_a_zip_that_understates_its_sizes_is_refused_as_damaged(tmp_path, a_bomb):
    started = time.perf_counter()
    message = refusal(tmp_path, understating(a_bomb, SHEET, 100_000))
    assert time.perf_counter() - started < 5
    assert "cannot be opened as an Excel (.xlsx) file" in message


@pytest.mark.no_db
def test_a_sheet_damaged_past_its_first_rows_is_refused_when_read(tmp_path):
    """A sheet that declares its dimensions is parsed only as it is read: the damage shows
    while counting the rows, and is refused the same way."""
    rows = REPEATED_ROW * 5_000
    xml = f'{SHEET_OPEN}<dimension ref="A1:B5001"/><sheetData>{HEADER_ROW}{rows}'
    message = refusal(tmp_path, with_sheet(xml.encode()[:-100]))
    assert "cannot be opened as an Excel (.xlsx) file" in message


@pytest.mark.no_db
def test_xml_entities_that_expand_without_end_are_refused(tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        "]>" + SHEET_OPEN[SHEET_OPEN.index("<worksheet") :] + '<sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>&c;</t></is></c><c r="B1" t="inlineStr"><is><t>b</t>'
        "</is></c></row></sheetData></worksheet>"
    )
    message = refusal(tmp_path, with_sheet(laughs.encode()))
    assert "cannot be opened as an Excel (.xlsx) file" in message


@pytest.mark.no_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"First name,Email\nAna,ana@example.org\n", "not a readable Excel file"),
        (b"PK\x03\x04" + b"\x00" * 200, "cannot be opened as an Excel (.xlsx) file"),
    ],
)
def test_a_file_named_xlsx_that_is_no_workbook_is_refused(tmp_path, data, message):
    assert message in refusal(tmp_path, data)


@pytest.mark.no_db
def test_a_csv_on_one_endless_line_is_refused_before_it_is_split(tmp_path):
    started = time.perf_counter()
    message = refusal(tmp_path, b"ab," * (MAX_LINE_CHARS // 2), "one-line.csv")
    assert time.perf_counter() - started < 5
    assert f"has a line longer than {MAX_LINE_CHARS:,} characters (line 1)" in message
    # Further down the file, the same.
    message = refusal(
        tmp_path, b"name,email\nAna,a@x.org\n" + b"x" * (MAX_LINE_CHARS + 1), "late.csv"
    )
    assert "(line 3)" in message


@pytest.mark.no_db
def test_a_csv_of_thousands_of_columns_is_refused(tmp_path):
    header = ",".join(f"c{n}" for n in range(MAX_COLUMNS + 1)).encode()
    message = refusal(tmp_path, header + b"\n" + b"x," * MAX_COLUMNS + b"\n", "wide.csv")
    assert f"has {MAX_COLUMNS + 1:,} columns; an import reads at most {MAX_COLUMNS:,}" in message


@pytest.mark.no_db
def test_binary_data_named_csv_is_refused(tmp_path):
    noise = bytes(range(256)) * 64
    assert "is not text" in refusal(tmp_path, noise, "data.csv")
    # A text start with binary after it: refused where the text ends.
    late = b"name,email\n" + b"Ana,a@x.org\n" * 6000 + noise
    assert "is not valid utf-8 text after line" in refusal(tmp_path, late, "late.csv")


# Through the web page and the command line -------------------------------------------------


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_upload_page_refuses_a_bomb_with_its_message_and_keeps_nothing(
    client, as_role, db, a_bomb
):
    as_role("lead")
    started = time.perf_counter()
    response = client.post(
        "/imports/upload",
        data={"record_type": "contacts", "file": (io.BytesIO(a_bomb), "bomb.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert time.perf_counter() - started < 5
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "“bomb.xlsx” is not a workbook we can read safely" in page
    assert "Nothing was imported." in page
    assert count(db, ImportRun) == 0 and count(db, ImportUpload) == 0


def test_the_upload_page_holds_workbooks_to_the_unpacked_setting(
    app, client, as_role, db, monkeypatch, a_long_list
):
    as_role("lead")
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNPACKED_BYTES", 1024 * 1024)
    response = client.post(
        "/imports/upload",
        data={"record_type": "contacts", "file": (io.BytesIO(a_long_list), "people.xlsx")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "more than the 1 MB we read from one workbook" in response.get_data(as_text=True)
    assert count(db, ImportRun) == 0


def test_the_import_command_refuses_a_bomb_with_its_message(runner, db, tmp_path, a_bomb):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(a_bomb)
    started = time.perf_counter()
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert time.perf_counter() - started < 5
    assert result.exit_code == 1
    assert "“bomb.xlsx” is not a workbook we can read safely" in result.output
    assert count(db, ImportRun) == 0
