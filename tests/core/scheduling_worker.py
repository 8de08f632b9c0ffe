"""A worker process with one more periodic job, a check every `PERIOD` seconds, looking at its
schedule several times a period: `python -m tests.core.scheduling_worker PERIOD`, for
tests/core/test_worker_processes.py (production periods are a minute or more, too long for a
test). SIGTERM stops it; it then prints, as JSON, the periods it queued or found queued."""

from __future__ import annotations

import json
import signal
import sys
from datetime import timedelta

from crm.core.jobs import periodic
from crm.core.jobs import worker as jobs_worker
from crm.core.jobs.registry import PERIODIC
from wsgi import app

period = float(sys.argv[1])
# The check alone: the app's own periodic work (the report built, the dashboard counted) would
# keep a worker busy for longer than these two-second periods on a loaded machine.
PERIODIC.clear()
periodic("jobs.noop", every=timedelta(seconds=period), payload={"periodic": True})
jobs_worker.SCHEDULE_EVERY = period / 8


class RecordingWorker(jobs_worker.Worker):
    """Remembers every period it queued or found queued (the worker keeps only the last)."""

    looked: set[str] = set()

    def schedule_periodic(self, now=None) -> None:
        super().schedule_periodic(now)
        self.looked.update(self._scheduled.values())


worker = RecordingWorker(app, echo=lambda line: print(line, flush=True))
signal.signal(signal.SIGTERM, lambda _signum, _frame: worker.stop())
print(f"Worker {worker.name} started.", flush=True)
ran = worker.run()
print(json.dumps({"name": worker.name, "ran": ran, "periods": sorted(worker.looked)}))
