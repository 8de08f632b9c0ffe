"""The quarterly report as every process reads it: built by a job, kept in the shared store.

The `reports.build` job builds the current quarter's report every few minutes and stores it
(`crm.core.shared_store`: the database, or Redis); the report page, its downloads and the
dashboard read that. A page never builds the current quarter's report itself when one is stored.
When none is stored yet (a new install, a quarter nobody has opened, a store just emptied):

- on a small database (no input table past `COUNT_CAP` rows, checked with capped counts), the
  page builds it in the request, as it always did: that takes milliseconds, and it is not
  stored, so what the page shows is never older than the data;
- on a big one, the page queues the job and says the report is being prepared.

The report is kept as JSON (never pickle): each section's columns, dtypes and rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from crm.campaigns.models import OutboxMessage
from crm.champions.models import Endorsement, StageChange
from crm.core import shared_store, table_counts
from crm.core.jobs import enqueue
from crm.core.write_lock import is_locked
from crm.events.models import Participation
from crm.organizations.models import Organization
from crm.pledges.models import Assessment, Pledge, ProgressReport
from crm.pledges.schedule import Quarter
from crm.reports import formats
from crm.reports.build import Report, build_report
from crm.reports.page import ReportPage, page_of

BUILD = "reports.build"
# The current quarter's report is rebuilt this often; an older quarter's stored one is kept a
# day (its figures are as they stood at its end, and change only with late corrections).
REBUILD_EVERY = timedelta(minutes=5)
KEEP_CURRENT = timedelta(hours=1)  # a stopped worker's last report is not shown for ever
KEEP_PAST = timedelta(days=1)

# The report's input tables that grow with use; when all are small, building is cheap.
BIG_INPUTS = (Organization, Pledge, ProgressReport, Assessment, StageChange, Endorsement,
              Participation, OutboxMessage)  # fmt: skip


def key(quarter: Quarter) -> str:
    return f"report:{quarter.year}Q{quarter.number}"


def page_key(quarter: Quarter) -> str:
    return f"report-page:{quarter.year}Q{quarter.number}"


def figures_key(quarter: Quarter) -> str:
    return f"report-figures:{quarter.year}Q{quarter.number}"


@dataclass(frozen=True)
class QuarterFigures:
    """The report's key figures alone, as the dashboard shows them: a few numbers, stored
    beside the report so the dashboard reads them without decoding every section."""

    quarter: Quarter
    figures: dict[str, tuple[Any, Any]]


def stored_report(quarter: Quarter) -> tuple[Report, datetime] | None:
    """The stored report of `quarter` and when it was built, or None."""
    entry = shared_store.get(key(quarter))
    if entry is None:
        return None
    try:
        return decode(entry.value), entry.stored_at
    except (KeyError, TypeError, ValueError):
        return None  # stored by an older version: rebuilt by the job


def store(report: Report) -> None:
    current = report.quarter == Quarter.of(date.today())
    keep = KEEP_CURRENT if current else KEEP_PAST
    shared_store.put(key(report.quarter), encode(report), expires_in=keep)
    shared_store.put(page_key(report.quarter), page_of(report).to_json(), expires_in=keep)
    figures = {k: [_value(a), _value(b)] for k, (a, b) in report.figures.items()}
    shared_store.put(figures_key(report.quarter), figures, expires_in=keep)


def rebuild(quarter: Quarter) -> Report:
    """Build `quarter`'s report and store it for every process (the `reports.build` job)."""
    report = build_report(quarter)
    store(report)
    return report


def small_enough_to_build() -> bool:
    """No input table holds more than COUNT_CAP rows: each capped count reads at most
    COUNT_CAP + 1 rows."""
    return table_counts.all_small(BIG_INPUTS)


def report_for(quarter: Quarter) -> tuple[Report | None, datetime | None]:
    """What a page shows: the stored report and when it was built; or one built now (a small
    database; no time); or (None, None), the job queued, when it is being prepared."""
    found = stored_report(quarter)
    if found is not None:
        return found
    if small_enough_to_build():
        return build_report(quarter), None
    queue_build(quarter)
    return None, None


def page_for(quarter: Quarter) -> tuple[ReportPage | None, datetime | None]:
    """What the report page shows, as `report_for` decides, already shaped: the stored page;
    or one made from a report built now (a small database; no time); or (None, None), the job
    queued, when it is being prepared."""
    entry = shared_store.get(page_key(quarter))
    if entry is not None and isinstance(entry.value, dict):
        try:
            return ReportPage.from_json(entry.value), entry.stored_at
        except (KeyError, TypeError, ValueError):
            pass  # stored by an older version: made from the report below
    report, built_at = report_for(quarter)
    return (page_of(report) if report is not None else None), built_at


def figures_for(quarter: Quarter) -> tuple[QuarterFigures | None, datetime | None]:
    """The report's key figures for the dashboard, as `report_for` decides: stored, built now
    (a small database), or (None, None) with the job queued."""
    entry = shared_store.get(figures_key(quarter))
    if entry is not None and isinstance(entry.value, dict):
        try:
            figures = {k: (_plain(a), _plain(b)) for k, (a, b) in entry.value.items()}
            return QuarterFigures(quarter, figures), entry.stored_at
        except (TypeError, ValueError):
            pass  # stored by an older version: built or queued below, as if absent
    if small_enough_to_build():
        return QuarterFigures(quarter, build_report(quarter).figures), None
    queue_build(quarter)
    return None, None


def queue_build(quarter: Quarter) -> None:
    """Queue the build of `quarter`, once per few minutes however many ask."""
    period = int(REBUILD_EVERY.total_seconds())
    bucket = int(datetime.now().timestamp()) // period
    code = f"{quarter.year}Q{quarter.number}"
    try:
        enqueue(BUILD, {"quarter": code}, unique_key=f"{BUILD}:{code}@{bucket}")
    except sa.exc.OperationalError as error:
        # SQLite: a page that reads (a GET) begins deferred, and cannot start writing while
        # another process holds the write lock. The page still says "being prepared": the
        # worker builds the current quarter on its own schedule, a later visit queues another.
        if not is_locked(error):
            raise


# --- JSON ------------------------------------------------------------------------------------


def encode(report: Report) -> dict:
    return {
        "quarter": [report.quarter.year, report.quarter.number],
        "as_of": report.as_of.isoformat(),
        "highlights": list(report.highlights),
        "figures": {k: [_value(a), _value(b)] for k, (a, b) in report.figures.items()},
        "sections": {name: _frame(frame) for name, frame in report.sections.items()},
    }


def decode(value: dict) -> Report:
    year, number = value["quarter"]
    return Report(
        quarter=Quarter(int(year), int(number)),
        as_of=date.fromisoformat(value["as_of"]),
        highlights=list(value["highlights"]),
        figures={k: (_plain(a), _plain(b)) for k, (a, b) in value["figures"].items()},
        sections={name: _unframe(frame) for name, frame in value["sections"].items()},
    )


def _frame(frame: pd.DataFrame) -> dict:
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)  # the report's sections have plain row numbers
    spec = formats.format_of(frame)
    return {
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(t) for t in frame.dtypes],
        "rows": [[_value(v) for v in row] for row in frame.itertuples(index=False, name=None)],
        # What the figures are (rates, averages, changes): how every output shows them.
        "format": {
            "columns": {str(c): k.value for c, k in spec.columns.items()},
            "rows": [[_value(r), k.value] for r, k in spec.rows.items()],
            "changes": sorted(str(c) for c in spec.changes),
        },
    }


def _unframe(value: dict) -> pd.DataFrame:
    columns, dtypes = value["columns"], value["dtypes"]
    rows = [[_plain(v) for v in row] for row in value["rows"]]
    # Column by column, each in its own dtype: an object column of counts and gaps stays
    # counts and None (not floats and NaN, which the page would show differently).
    frame = pd.DataFrame(
        {
            name: pd.Series([row[i] for row in rows], dtype=dtype)
            for i, (name, dtype) in enumerate(zip(columns, dtypes, strict=True))
        },
        columns=columns,
    )
    spec = value.get("format") or {}
    return formats.describe(
        frame,
        columns={c: formats.Kind(k) for c, k in (spec.get("columns") or {}).items()},
        rows={_plain(r): formats.Kind(k) for r, k in spec.get("rows") or []},
        changes=spec.get("changes") or [],
    )


def _value(value: Any) -> Any:
    """A cell as JSON holds it: numbers, text, None; NaN and dates tagged."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return {"nan": True}
    if value is pd.NaT:
        return {"nat": True}
    if isinstance(value, datetime | pd.Timestamp):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if "nan" in value:
            return float("nan")
        if "nat" in value:
            return pd.NaT
        if "datetime" in value:
            return datetime.fromisoformat(value["datetime"])
        if "date" in value:
            return date.fromisoformat(value["date"])
    return value
