"""How the report's figures read, the same in every output.

Each section frame keeps plain numbers (counts, averages, rates as fractions) and says what
they are in `frame.attrs["format"]` (`describe`): which columns hold averages or rates, which
rows do (a comparison section mixes counts and rates in one column), and which columns hold a
change. From that:

- the page and the PDF show counts as 1,234, averages with two decimals (2.00, not 2),
  rates as 27%, changes with their sign (+3, −0.21, +4 pts: a rate's change is in percentage
  points), and a missing figure as a dash;
- XLSX keeps the numbers and gives each cell a number format (Excel shows 27% for 0.27);
- CSV gives rates as percentages (27.0, a change of 4.5 in points) and says so in the label:
  "Open rate (%)".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

MISSING = "—"
MINUS = "−"  # U+2212, a real minus sign (the PDF draws it as "-")


class Kind(StrEnum):
    COUNT = "count"  # whole numbers: 1,234
    AVERAGE = "average"  # maturity averages on the 0–4 scale: 2.08
    RATE = "rate"  # a fraction, shown as a percentage: 0.27 → 27%


@dataclass(frozen=True)
class SectionFormat:
    columns: dict[str, Kind] = field(default_factory=dict)
    rows: dict[str, Kind] = field(default_factory=dict)  # by the first column's value
    changes: frozenset[str] = frozenset()

    def kind(self, row: Any, column: str) -> Kind:
        """A row's kind wins over its column's: in "Open rate", every column is a rate."""
        return self.rows.get(row) or self.columns.get(column) or Kind.COUNT


def describe(
    frame: pd.DataFrame,
    *,
    columns: dict[str, Kind] | None = None,
    rows: dict[str, Kind] | None = None,
    changes: Iterable[str] = (),
) -> pd.DataFrame:
    """`frame`, marked with what its figures are (numbers not named are counts)."""
    frame.attrs["format"] = SectionFormat(dict(columns or {}), dict(rows or {}), frozenset(changes))
    return frame


def format_of(frame: pd.DataFrame) -> SectionFormat:
    return frame.attrs.get("format") or SectionFormat()


def _missing(value: Any) -> bool:
    """None, NaN (any float type) or pandas' NA."""
    return value is None or value is pd.NA or (_is_number(value) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def text(value: Any, kind: Kind = Kind.COUNT, change: bool = False) -> str:
    """One figure as a reader sees it."""
    if _missing(value):
        return MISSING
    if not _is_number(value):
        return str(value)
    if kind is Kind.RATE:
        if not change:
            return f"{float(value):.0%}"
        points = round(float(value) * 100)
        return f"{_sign(points)}{abs(points):,} pt{'s' if abs(points) != 1 else ''}"
    if kind is Kind.AVERAGE:
        rounded = round(float(value), 2)
        body = f"{abs(rounded):,.2f}"
    elif float(value).is_integer():
        rounded = round(float(value))
        body = f"{abs(rounded):,}"
    else:  # not expected of a count; shown as it is rather than rounded away
        rounded = float(value)
        body = f"{abs(rounded):,.2f}"
    if change:
        return f"{_sign(rounded)}{body}"
    return f"{MINUS}{body}" if rounded < 0 else body


def _sign(value: float) -> str:
    return "+" if value > 0 else (MINUS if value < 0 else "")


def change_text(now: Any, before: Any, kind: Kind = Kind.COUNT) -> str:
    """The change from `before` to `now` with its sign ("+3", "−2"); a dash when unknown."""
    if _missing(now) or _missing(before):
        return MISSING
    return text(now - before, kind, change=True)


def display_rows(frame: pd.DataFrame) -> list[list[str]]:
    """The section's cells as text, row by row, for the page and the PDF."""
    spec = format_of(frame)
    columns = list(frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        key = values[0] if len(values) else None
        rows.append(
            [
                text(value, spec.kind(key, column), column in spec.changes)
                for column, value in zip(columns, values, strict=True)
            ]
        )
    return rows


# --- spreadsheets ------------------------------------------------------------------------------

_EXCEL = {Kind.COUNT: "#,##0", Kind.AVERAGE: "0.00", Kind.RATE: "0%"}
_EXCEL_CHANGE = {
    Kind.COUNT: "+#,##0;-#,##0;0",
    Kind.AVERAGE: "+0.00;-0.00;0.00",
    Kind.RATE: '+0" pts";-0" pts";0" pts"',  # the cell holds percentage points
}


def excel_cells(frame: pd.DataFrame) -> list[list[tuple[Any, str | None]]]:
    """Each cell's value and Excel number format (None for text), row by row. A rate's change
    is written in percentage points (0.37 against 0.30: 7.0, shown "+7 pts")."""
    spec = format_of(frame)
    columns = list(frame.columns)
    rows: list[list[tuple[Any, str | None]]] = []
    for values in frame.itertuples(index=False):
        key = values[0] if len(values) else None
        row: list[tuple[Any, str | None]] = []
        for column, value in zip(columns, values, strict=True):
            if _missing(value) or not _is_number(value):
                row.append((None if _missing(value) else value, None))
                continue
            kind, change = spec.kind(key, column), column in spec.changes
            if kind is Kind.RATE and change:
                value = round(float(value) * 100, 1)
            row.append((value, (_EXCEL_CHANGE if change else _EXCEL)[kind]))
        rows.append(row)
    return rows


def percent_label(label: str) -> str:
    return f"{label} (%)"


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The section for CSV: rates as percentages with one decimal (a change in percentage
    points), marked "(%)" in their column name or row label; everything else as it is."""
    spec = format_of(frame)
    rate_columns = {c for c, kind in spec.columns.items() if kind is Kind.RATE}
    rate_rows = {r for r, kind in spec.rows.items() if kind is Kind.RATE}
    if frame.empty or not (rate_columns or rate_rows):
        return frame
    out = frame.copy()
    first = out.columns[0]
    for column in out.columns[1:]:
        if column in rate_columns:
            values = [_percent(v) for v in out[column]]
        elif rate_rows:
            values = [
                _percent(v) if key in rate_rows else v
                for key, v in zip(out[first], out[column], strict=True)
            ]
        else:
            continue
        # Object columns: counts beside the percentages stay whole numbers (2, not 2.0).
        out[column] = pd.Series(values, index=out.index, dtype=object)
    if rate_rows:
        out[first] = [percent_label(v) if v in rate_rows else v for v in out[first]]
    return out.rename(columns={c: percent_label(c) for c in rate_columns})


def _percent(value: Any) -> Any:
    if _missing(value) or not _is_number(value):
        return value
    return round(float(value) * 100, 1)
