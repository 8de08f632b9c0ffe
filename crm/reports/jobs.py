"""The quarterly report built by the worker (`reports.build`), so no page builds it."""

from __future__ import annotations

from datetime import date

from crm.core.errors import OperationError
from crm.core.jobs import JobContext, handler, periodic
from crm.pledges.schedule import Quarter
from crm.reports.build import not_begun, parse_quarter
from crm.reports.stored import BUILD, REBUILD_EVERY, rebuild


def _describe(payload: dict) -> str:
    return str(payload.get("quarter") or "This quarter")


@handler(BUILD, label="Adoption report", max_attempts=3, describe=_describe)
def build(payload: dict, job: JobContext) -> dict:
    """Build a quarter's report (the current one unless the payload names another) and store it
    for every process."""
    text = payload.get("quarter")
    try:
        quarter = parse_quarter(str(text)) if text else Quarter.of(date.today())
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    refusal = not_begun(quarter)
    if refusal:
        raise OperationError(refusal)
    report = rebuild(quarter)
    return {"quarter": f"{quarter.year}Q{quarter.number}", "sections": len(report.sections)}


periodic(BUILD, every=REBUILD_EVERY)
