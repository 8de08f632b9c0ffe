"""The report as files: XLSX (a sheet per section), CSV (one section), PDF for the board.

Figures read as `crm.reports.formats` says: numbers with number formats in XLSX, rates as
percentages marked "(%)" in CSV, and the page's wording in the PDF."""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd

from crm.core.export import safe_frame
from crm.reports import formats
from crm.reports.build import Report


def slug(section: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def section_by_slug(report: Report, name: str) -> tuple[str, pd.DataFrame] | None:
    for section, frame in report.sections.items():
        if slug(section) == name:
            return section, frame
    return None


def xlsx_bytes(report: Report) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        # Defused like every export, though the report holds only figures and labels. A
        # quarter still under way says so first, as the page does.
        lines = [f"Figures so far: {report.partial_note}"] if report.partial_note else []
        highlights = safe_frame(pd.DataFrame({"Highlights": lines + report.highlights}))
        highlights.to_excel(writer, index=False, sheet_name="Highlights")
        for section, frame in report.sections.items():
            safe_frame(frame).to_excel(writer, index=False, sheet_name=section[:31])
            _number_formats(writer.sheets[section[:31]], frame)
        for sheet in writer.sheets.values():
            for column in sheet.columns:
                width = max((len(str(c.value or "")) for c in column), default=8)
                sheet.column_dimensions[column[0].column_letter].width = min(60, width + 2)
    return buffer.getvalue()


def _number_formats(sheet, frame: pd.DataFrame) -> None:
    """Each figure's Excel number format (27% for a rate of 0.27, 2.00 for an average); a
    rate's change is written in percentage points."""
    for r, row in enumerate(formats.excel_cells(frame), start=2):  # row 1: the header
        for c, (value, number_format) in enumerate(row, start=1):
            if number_format is None:
                continue
            cell = sheet.cell(row=r, column=c)
            cell.value = value
            cell.number_format = number_format


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return safe_frame(formats.csv_frame(frame)).to_csv(index=False).encode("utf-8-sig")


NOTE_FILE = "README.txt"


def csv_files(report: Report) -> dict[str, bytes]:
    """Every section as `<slug>.csv`; for a quarter still under way, a README.txt beside
    them that says the figures are partial (a CSV has no place for a note)."""
    files = {f"{slug(section)}.csv": csv_bytes(frame) for section, frame in report.sections.items()}
    if report.partial_note:
        files[NOTE_FILE] = f"{report.title}\n\n{report.partial_note}\n".encode()
    return files


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def _text(value: object) -> str:
    """Text for the PDF (figures come formatted from `formats.display_rows`)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    text = str(value)
    # The PDF's built-in fonts are Latin-1: replace what they cannot draw.
    replacements = {
        "–": "-",
        "—": "-",
        formats.MINUS: "-",
        "“": '"',
        "”": '"',
        "’": "'",
        "‘": "'",
        "…": "...",
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_bytes(report: Report) -> bytes:
    from fpdf import FPDF  # here, not at the top: ~0.25 s off every process's start-up

    pdf = FPDF(orientation="portrait", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(report.title), new_x="LMARGIN", new_y="NEXT")
    if report.partial_note:  # as the page says it: these figures will change
        pdf.set_font("Helvetica", "I", 10)
        pdf.multi_cell(0, 6, _text(report.partial_note), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.set_font("Helvetica", "", 10)
    for line in report.highlights:
        pdf.multi_cell(0, 6, _text(f"- {line}"), new_x="LMARGIN", new_y="NEXT")
    for section, frame in report.sections.items():
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _text(section), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        if frame.empty:
            pdf.cell(0, 6, "Nothing in this quarter.", new_x="LMARGIN", new_y="NEXT")
            continue
        # Labels on the left, figures on the right, as on the page.
        align = tuple("LEFT" if i == 0 else "RIGHT" for i in range(len(frame.columns)))
        with pdf.table(text_align=align, col_widths=None) as table:
            header = table.row()
            for column in frame.columns:
                header.cell(_text(column))
            for values in formats.display_rows(frame):
                row = table.row()
                for value in values:
                    row.cell(_text(value))
    return bytes(pdf.output())
