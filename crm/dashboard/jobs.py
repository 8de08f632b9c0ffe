"""The dashboard's figures counted by the worker (`dashboard.figures`), once a minute."""

from __future__ import annotations

from datetime import date

from crm.core.jobs import JobContext, handler, periodic
from crm.dashboard.figures import COUNT, COUNT_EVERY, store_figures


@handler(COUNT, label="Dashboard figures", max_attempts=2)
def count(payload: dict, job: JobContext) -> dict:
    """Count what the dashboard shows and store it for every process."""
    figures = store_figures(date.today())
    return {"contacts": figures["contacts"], "organizations": figures["organizations"]}


periodic(COUNT, every=COUNT_EVERY)
