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
from wsgi import app


class SchedulingWorker(jobs_worker.Worker):
    """Remembers each period of the check it queued or found queued."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.periods: set[str] = set()

    def schedule_periodic(self, now=None) -> None:
        super().schedule_periodic(now)
        if "jobs.noop" in self._scheduled:
            self.periods.add(self._scheduled["jobs.noop"])


period = float(sys.argv[1])
periodic("jobs.noop", every=timedelta(seconds=period), payload={"periodic": True})
jobs_worker.SCHEDULE_EVERY = period / 8
worker = SchedulingWorker(app, echo=lambda line: print(line, flush=True))
signal.signal(signal.SIGTERM, lambda _signum, _frame: worker.stop())
print(f"Worker {worker.name} started.", flush=True)
ran = worker.run()
print(json.dumps({"name": worker.name, "ran": ran, "periods": sorted(worker.periods)}))
