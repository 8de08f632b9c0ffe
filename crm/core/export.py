"""Spreadsheet downloads (CSV and XLSX) that cannot run formulas when opened.

A cell starting with = + - @ (or a tab or carriage return) is read by Excel, LibreOffice and
Google Sheets as a formula: a name like `=HYPERLINK(...)` typed into a public form would run on
staff machines. In CSV such cells get a leading apostrophe, the spreadsheets' own "this is text"
mark; in XLSX every text cell is stored as text, with the quote-prefix flag on the risky ones.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd
from flask import Response

from crm.core.clean_request import CONTROL_CHARACTERS, without_control_characters

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_cell(value: Any) -> Any:
    """Text defused against formulas and without control characters, which XLSX cannot hold
    (records made before requests were cleaned, or read from an uploaded file, may have them)."""
    if isinstance(value, str):
        if CONTROL_CHARACTERS.search(value):
            value = without_control_characters(value)
        if value.startswith(FORMULA_START):
            return "'" + value
    return value


def _without_control_characters(frame: pd.DataFrame) -> pd.DataFrame:
    types = pd.api.types
    texts = [c for c in frame if types.is_object_dtype(frame[c]) or types.is_string_dtype(frame[c])]
    if not texts:
        return frame
    frame = frame.copy()
    for column in texts:
        frame[column] = [
            without_control_characters(v) if isinstance(v, str) else v for v in frame[column]
        ]
    return frame


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with risky text defused; values keep their types (1 stays 1, not 1.0)."""
    if frame.empty:
        return frame
    return pd.DataFrame(
        {
            column: pd.Series([safe_cell(v) for v in frame[column]], dtype=object)
            for column in frame.columns
        }
    )


def filename_for(text: str, extension: str) -> str:
    stem = _UNSAFE_FILENAME.sub("-", text).strip("-")[:80] or "export"
    return f"{stem}.{extension}"


def csv_response(frame: pd.DataFrame, name: str) -> Response:
    # UTF-8 with a byte-order mark, so Excel shows accented names correctly.
    body = safe_frame(frame).to_csv(index=False).encode("utf-8-sig")
    return _download(body, "text/csv", filename_for(name, "csv"))


def xlsx_response(frame: pd.DataFrame, name: str, sheet: str = "Export") -> Response:
    """Every text cell is stored as text with Excel's "quote prefix": it shows exactly what
    was typed and is never evaluated, without a visible apostrophe."""
    buffer = io.BytesIO()
    frame = _without_control_characters(frame)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet[:31])
        worksheet = writer.sheets[sheet[:31]]
        for column in worksheet.columns:
            width = max((len(str(cell.value or "")) for cell in column), default=8)
            worksheet.column_dimensions[column[0].column_letter].width = min(50, width + 2)
            for cell in column:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # openpyxl would take a leading "=" as a formula
                    if cell.value.startswith(FORMULA_START):
                        cell.quotePrefix = True
    return _download(
        buffer.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename_for(name, "xlsx"),
    )


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
