"""The report page's content, shaped when the report is built: every figure and cell as the text
the page shows, the chart's data, nothing left to compute.

The `reports.build` job stores this beside the report (`crm.reports.stored`), so a page view
reads one small JSON value and renders it: no pandas frames rebuilt from JSON and formatted
cell by cell on each request (most of the page's time at a million contacts). The downloads
still read the whole report, with its numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from crm.pledges.models import Maturity
from crm.pledges.schedule import Quarter
from crm.reports import formats
from crm.reports.build import Report
from crm.reports.render import slug


@dataclass(frozen=True)
class Figure:
    label: str
    value: str  # "1,234"
    change: str  # "Same as last quarter", "+3 on last quarter"
    trend: str  # "up", "down" or "same": the change's colour


@dataclass(frozen=True)
class Section:
    name: str
    slug: str
    columns: list[str]
    rows: list[list[str]]  # each cell as the page shows it (`formats.display_rows`)


@dataclass(frozen=True)
class ReportPage:
    quarter: Quarter
    partial_note: str | None
    highlights: list[str]
    figures: list[Figure]
    sections: list[Section]
    chart: dict[str, Any]  # Chart.js data; no labels when nobody had reported

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["quarter"] = [self.quarter.year, self.quarter.number]
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ReportPage:
        year, number = value["quarter"]
        return cls(
            quarter=Quarter(int(year), int(number)),
            partial_note=value["partial_note"],
            highlights=list(value["highlights"]),
            figures=[Figure(**f) for f in value["figures"]],
            sections=[Section(**s) for s in value["sections"]],
            chart=dict(value["chart"]),
        )


def _figure(label: str, now: Any, before: Any) -> Figure:
    if now == before:
        change, trend = "Same as last quarter", "same"
    else:
        change = f"{formats.change_text(now, before)} on last quarter"
        trend = "up" if now > before else ("down" if now < before else "same")
    return Figure(label, formats.text(now), change, trend)


def _chart(report: Report) -> dict[str, Any]:
    """Pledges per level and principle; no labels (so no chart) when nobody had reported."""
    maturity = report.sections["Maturity by principle"]
    levels = [level.label for level in Maturity if level.label in maturity]
    reported = not maturity.empty and int(maturity[levels].to_numpy().sum()) > 0
    return {
        "labels": [str(p) for p in maturity["Principle"]] if reported else [],
        "datasets": [
            {"label": level.label, "data": [int(v) for v in maturity[level.label]]}
            for level in Maturity
            if level.label in maturity
        ],
    }


def page_of(report: Report) -> ReportPage:
    """What the page shows of `report`, as text."""
    return ReportPage(
        quarter=report.quarter,
        partial_note=report.partial_note,
        highlights=[str(line) for line in report.highlights],
        figures=[_figure(label, now, before) for label, (now, before) in report.figures.items()],
        sections=[
            Section(
                name,
                slug(name),
                [str(c) for c in frame.columns],
                [] if frame.empty else formats.display_rows(frame),
            )  # fmt: skip
            for name, frame in report.sections.items()
        ],
        chart=_chart(report),
    )
