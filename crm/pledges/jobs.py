"""The daily pledge reminders, run by the worker's schedule (no cron): `pledges.remind`."""

from __future__ import annotations

from datetime import date, timedelta

from crm.core.jobs import JobContext, handler, periodic
from crm.pledges.reminders import queue_reminders

REMIND = "pledges.remind"


@handler(REMIND, label="Pledge reminders", max_attempts=3)
def remind(payload: dict, job: JobContext) -> dict:
    """Queue the progress-report reminders due today, each with its email as a `mail.send`
    job, committed with this job (so each reminder goes once, whoever runs it)."""
    queued, problems = queue_reminders(date.today())
    return {"queued": queued, "problems": problems}


periodic(REMIND, every=timedelta(days=1))
