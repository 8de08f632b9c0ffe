"""Reading an uploaded table: CSV in any common encoding and delimiter, or XLSX.

Everything a file can get wrong is refused here, up front, with a message that says what is
wrong: not a table, empty, too large, unreadable text. Rows are streamed, so a million-row file
is never held in memory as a whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError

from crm.core.errors import OperationError
from crm.imports.workbook_limits import DEFAULT_MAX_UNPACKED, check_workbook

DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
csv.field_size_limit(1024 * 1024)  # one cell may hold a long note, not a whole file
# A line may hold several long notes; a whole file on one line (millions of cells) is no table.
MAX_LINE_CHARS = 4 * 1024 * 1024
MAX_COLUMNS = 1_000  # a header row of more names no importer's record has

# Signatures of files people upload by mistake; told apart from text before decoding.
_NOT_TABLES = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word file",
    b"\x1f\x8b": "a compressed (gzip) file",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
}


# What openpyxl raises for a workbook it cannot read: a damaged ZIP (a part that fails its
# checksum, or unpacks past its declared size), broken XML, or XML that defusedxml refuses
# (entities that expand without end).
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    ParseError,
    KeyError,
    OSError,
    EOFError,
    ValueError,  # defusedxml's refusals are ValueErrors too
)


@dataclass
class TableInfo:
    file_format: str  # csv | xlsx
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sample: list[list[str]] = field(default_factory=list)
    skipped_rows: int = 0  # rows above the header that were not one (a title, a note)
    sheets: int = 1  # sheets in the workbook, to say which one was read


def detect_format(file_name: str, head: bytes) -> str:
    """'csv' or 'xlsx', from the content first (a renamed file is read as what it is)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    for signature, what in _NOT_TABLES.items():
        if head.startswith(signature):
            raise OperationError(
                f"“{file_name}” is {what}, not a table we can read. Save it as CSV or Excel "
                "(.xlsx) and upload that."
            )
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        raise OperationError(f"“{file_name}” is not a readable Excel file.")
    return "csv"


# What a ZIP-based upload is, by the part that names it (an .xlsx is a ZIP too).
_ZIP_KINDS = (
    ("word/", "a Word document"),
    ("ppt/", "a PowerPoint presentation"),
    ("content.xml", "an OpenDocument file (LibreOffice)"),
)


def zip_kind(path: Path) -> str | None:
    """None for an Excel workbook, else what the ZIP file is ("a Word document")."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return None  # a damaged workbook: openpyxl says so, as for any unreadable one
    if any(n.startswith("xl/") for n in names):
        return None
    for marker, what in _ZIP_KINDS:
        if any(n.startswith(marker) for n in names):
            return what
    return "a ZIP archive"


def looks_binary(text: str) -> bool:
    """Text decoded from a binary file: NULs, or control characters no table holds."""
    if "\x00" in text:
        return True
    sample = text[:8192]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    return controls > max(2, len(sample) // 100)


_SENTENCE_END = tuple(".,;:!?…")


def _is_sentence(text: str) -> bool:
    return len(text) > 60 or text.count(" ") > 4


def looks_like_prose(first_line: str, headers: list[str], sample: list[list[str]]) -> bool:
    """A letter or a note saved as .csv: the "header" is a sentence, not column names.

    A real one-column list ("Email", "Full name") has a short header without punctuation at
    its end; a greeting ("Dear team,") has both, and the lines under it are sentences."""
    if any(len(h) > 150 for h in headers):
        return True
    if len(headers) != 1:
        return False
    header = headers[0]
    if _is_sentence(header):
        return True
    line = first_line.strip()
    if " " in header and line.endswith(_SENTENCE_END):
        texts = [" ".join(c for c in row if c.strip()) for row in sample]
        sentences = sum(1 for t in texts if t.count(" ") >= 4)
        return not texts or sentences * 2 >= len(texts)
    return False


def header_start(rows: list[list[str]]) -> int:
    """How many leading rows are not the header: a title or a note in one cell ("Contact
    list Q3 2026") above the row that names the columns. A one-column list keeps its first
    row, and so does a file whose rows below are one-cell too."""
    filled = [sum(1 for c in row if c.strip()) for row in rows]
    start = next((i for i, n in enumerate(filled[:4]) if n >= 2), 0)
    below = filled[start + 1 :]
    if start and below and sum(n >= 2 for n in below) * 2 < len(below):
        return 0
    return start


def _first_rows(rows: Iterator[tuple[int, list[str]]], count: int = 16) -> list[list[str]]:
    return [row for _, (_, row) in zip(range(count), rows, strict=False)]


def detect_encoding(head: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 (BOM, or the NUL bytes of plain ASCII in it), else
    Windows-1252, which decodes any byte, so an old Excel CSV still reads right."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 4 and head[1:4:2] == b"\x00\x00" and head[0:4:2] != b"\x00\x00":
        return "utf-16-le"
    if len(head) >= 4 and head[0:4:2] == b"\x00\x00" and head[1:4:2] != b"\x00\x00":
        return "utf-16-be"
    try:
        # A multi-byte character cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number of columns (ties go to
    the one giving more columns); a one-column file is read with commas."""
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    lines = [line for line in text.splitlines()[:30] if line.strip()]
    # A title line above the header has no delimiter; judge from the first line that has one.
    while len(lines) > 1 and not any(d in lines[0] for d in DELIMITERS):
        lines.pop(0)
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [line.count(delimiter) for line in lines]
        if not counts or counts[0] == 0:
            continue
        score = (sum(c == counts[0] for c in counts), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _clean_headers(raw: list[str], file_name: str) -> list[str]:
    headers = [(h or "").strip().lstrip("\ufeff") for h in raw]
    while headers and not headers[-1]:
        headers.pop()  # trailing empty columns spreadsheets leave behind
    if not any(headers):
        raise OperationError(
            f"“{file_name}” has no header row: the first row should name the columns."
        )
    if len(headers) > MAX_COLUMNS:
        raise OperationError(
            f"“{file_name}” has {len(headers):,} columns; an import reads at most "
            f"{MAX_COLUMNS:,}. Keep the columns you mean to import and upload it again."
        )
    seen: dict[str, int] = {}
    for index, header in enumerate(headers):
        if not header:
            headers[index] = header = f"Column {index + 1}"
        key = header.lower()
        if key in seen:
            raise OperationError(
                f"“{file_name}” has two columns named “{header}” (columns {seen[key] + 1} and "
                f"{index + 1}); rename one and upload it again."
            )
        seen[key] = index
    return headers


class TableReader:
    """Opens a stored upload; `info` describes it and `rows()` streams its data rows."""

    def __init__(
        self,
        path: Path,
        file_name: str,
        *,
        max_rows: int | None = None,
        max_unpacked: int = DEFAULT_MAX_UNPACKED,
    ) -> None:
        self.path = path
        self.file_name = file_name
        self.max_rows = max_rows
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
        if not head.strip(b"\x00\r\n\t \xef\xbb\xbf\xff\xfe"):
            raise OperationError(f"“{file_name}” is empty.")
        self.file_format = detect_format(file_name, head)
        self.skip = 0  # rows above the header (see header_start)
        self.sheet_index = 0
        if self.file_format == "xlsx":
            what = zip_kind(path)
            if what:
                raise OperationError(
                    f"“{file_name}” is {what}, not a spreadsheet: save it as CSV or XLSX and "
                    "upload that."
                )
            check_workbook(path, file_name, max_unpacked)  # before openpyxl unpacks anything
            self.info = self._xlsx_info()
        else:
            self.info = self._csv_info(head)

    # CSV -------------------------------------------------------------------------------------
    def _csv_info(self, head: bytes) -> TableInfo:
        encoding = detect_encoding(head)
        text = head.decode(encoding, errors="ignore")
        if looks_binary(text):
            raise OperationError(
                f"“{self.file_name}” is not text, so it is not a table we can read (it holds "
                "binary data). Save it as CSV or XLSX and upload that."
            )
        delimiter = detect_delimiter(text)
        self.encoding, self.delimiter = encoding, delimiter
        headers, sample = self._headers_and_sample(self._csv_rows())
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        if self.skip == 0 and looks_like_prose(first_line, headers, sample):
            raise OperationError(
                f"“{self.file_name}” looks like a letter or a note, not a table: its first "
                f"line (“{first_line.strip()[:60]}”) is a sentence, not column names. Upload a "
                "CSV or an Excel (.xlsx) file whose first row names the columns."
            )
        return TableInfo("csv", headers, encoding, delimiter, sample=sample, skipped_rows=self.skip)

    def _headers_and_sample(
        self, rows: Iterator[tuple[int, list[str]]] | list[list[str]]
    ) -> tuple[list[str], list[list[str]]]:
        """The header (past any title rows above it, counted in `self.skip`) and the first
        data rows."""
        head = rows if isinstance(rows, list) else _first_rows(rows)
        if not head:
            raise OperationError(f"“{self.file_name}” is empty.")
        self.skip = header_start(head)
        headers = _clean_headers(head[self.skip], self.file_name)
        return headers, head[self.skip + 1 : self.skip + 6]

    def _csv_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(record number counting blank rows, as a spreadsheet numbers them; cells)."""
        handle = self.path.open("r", encoding=self.encoding, newline="", errors="strict")
        try:
            reader = csv.reader(self._capped_lines(handle), delimiter=self.delimiter)
            line = 0
            try:
                for row in reader:
                    line += 1
                    if "".join(row).strip():  # a blank row (or one of blank cells) is skipped
                        yield line, row
            except UnicodeDecodeError as error:
                raise OperationError(
                    f"“{self.file_name}” is not valid {self.encoding} text after line {line} "
                    f"({error.reason}). Save it as UTF-8 CSV and upload it again."
                ) from None
            except csv.Error as error:
                raise OperationError(
                    f"“{self.file_name}” cannot be read as CSV near line {line}: {error}."
                ) from None
        finally:
            handle.close()

    def _capped_lines(self, handle) -> Iterator[str]:
        """The file's lines, refused at the first one past MAX_LINE_CHARS: without a cap one
        line of a huge file would be read whole, and split into millions of cells."""
        number = 0
        while line := handle.readline(MAX_LINE_CHARS + 1):
            number += 1
            if len(line) > MAX_LINE_CHARS:
                raise OperationError(
                    f"“{self.file_name}” has a line longer than {MAX_LINE_CHARS:,} characters "
                    f"(line {number:,}), so it is not a table we can read. Save it as CSV with "
                    "one row per line and upload that."
                )
            yield line

    # XLSX ------------------------------------------------------------------------------------
    def _xlsx_book(self):
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            # Opened as a file object: openpyxl judges a path by its extension, and uploads
            # are stored without one.
            return openpyxl.load_workbook(
                io.BytesIO(self.path.read_bytes()), read_only=True, data_only=True
            )
        except (*_UNREADABLE, InvalidFileException):
            raise self._unreadable() from None

    def _unreadable(self) -> OperationError:
        return OperationError(
            f"“{self.file_name}” cannot be opened as an Excel (.xlsx) file: it may be "
            "damaged or password-protected. Open it in Excel, save it again as .xlsx or "
            "CSV, and upload that."
        )

    def _xlsx_info(self) -> TableInfo:
        book = self._xlsx_book()
        try:
            # The first sheet with data (a header and a row): a workbook may open on an empty
            # sheet, or on one that only holds a title.
            heads = []
            for sheet in book.worksheets:
                heads.append(_first_rows(self._xlsx_rows_of(sheet)))
                if len(heads[-1]) >= 2:
                    break
            index = next(
                (i for i, head in enumerate(heads) if len(head) >= 2),
                next((i for i, head in enumerate(heads) if head), 0),
            )
            self.sheet_index = index
            headers, sample = self._headers_and_sample(heads[index] if heads else [])
            return TableInfo(
                "xlsx",
                headers,
                sheet=book.worksheets[index].title,
                sample=sample,
                skipped_rows=self.skip,
                sheets=len(book.worksheets),
            )
        finally:
            book.close()

    @staticmethod
    def _cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if hasattr(value, "isoformat"):
            text = value.isoformat()
            return text[:10] if text.endswith("T00:00:00") else text
        return str(value)

    def _xlsx_rows_of(self, sheet) -> Iterator[tuple[int, list[str]]]:
        # A read-only sheet is parsed as it is read: a damaged part shows only here.
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                row = [self._cell(v) for v in values]
                if any(cell.strip() for cell in row):
                    yield number, row
        except _UNREADABLE:
            raise self._unreadable() from None

    def _xlsx_rows(self) -> Iterator[tuple[int, list[str]]]:
        book = self._xlsx_book()
        try:
            yield from self._xlsx_rows_of(book.worksheets[self.sheet_index])
        finally:
            book.close()

    # Both ------------------------------------------------------------------------------------
    def cells(self) -> Iterator[tuple[int, list[str], str]]:
        """(line number as a spreadsheet shows it, one cell per header, any values past the
        last named column joined) per data row: what the importer reads, without a dict."""
        source = self._xlsx_rows() if self.file_format == "xlsx" else self._csv_rows()
        width = len(self.info.headers)
        for _ in range(self.skip + 1):  # any title rows, and the header row
            next(source)
        for count, (number, row) in enumerate(source, start=1):
            if self.max_rows is not None and count > self.max_rows:
                raise OperationError(
                    f"“{self.file_name}” has more than {self.max_rows:,} rows, the most one "
                    "import takes. Split it into smaller files."
                )
            extra = ""
            if len(row) > width:
                # A value past the last named column: a stray delimiter or a missing header.
                extra = "; ".join(c for c in row[width:] if c.strip())
                row = row[:width]
            elif len(row) < width:
                row = row + [""] * (width - len(row))
            yield number, row, extra

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, {header: value}) per data row; "__extra__" holds stray values."""
        headers = self.info.headers
        for number, row, extra in self.cells():
            values = dict(zip(headers, row, strict=True))
            yield number, ({"__extra__": extra, **values} if extra else values)

    def count_rows(self) -> int:
        """Data rows (blank ones not counted); refused past `max_rows`."""
        source = self._xlsx_rows() if self.file_format == "xlsx" else self._csv_rows()
        count = sum(1 for _ in source) - 1 - self.skip  # the header row and any title rows
        if self.max_rows is not None and count > self.max_rows:
            raise OperationError(
                f"“{self.file_name}” has more than {self.max_rows:,} rows, the most one "
                "import takes. Split it into smaller files."
            )
        return count
