"""What each kind of job does, and the periodic work the worker schedules.

Domains register their handlers at import time (`crm.register_jobs` imports them all):

    @handler("imports.run", label="Import", max_attempts=3)
    def run_import(payload: dict, job: JobContext) -> dict | None: ...

    periodic("pledges.remind", every=timedelta(days=1))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crm.core.errors import OperationError

if TYPE_CHECKING:
    from crm.core.jobs.worker import JobContext

Handler = Callable[[dict, "JobContext"], "dict | None"]


@dataclass(frozen=True)
class Kind:
    name: str
    run: Handler
    label: str
    max_attempts: int = 5
    describe: Callable[[dict], str] | None = None  # one line on the Jobs page


@dataclass(frozen=True)
class Periodic:
    kind: str
    every: timedelta
    payload: dict = field(default_factory=dict)

    def period_start(self, now: datetime) -> datetime:
        """The start of the period `now` is in, counted from the Unix epoch (UTC): a daily job's
        period starts at midnight UTC, an hourly one's on the hour."""
        step = int(self.every.total_seconds())
        return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=now.tzinfo)

    def key(self, now: datetime) -> str:
        # Seconds only for periods that are not whole minutes (keys already queued keep their
        # form).
        stamp = "%Y-%m-%dT%H:%M" if self.every.total_seconds() % 60 == 0 else "%Y-%m-%dT%H:%M:%S"
        return f"{self.kind}@{self.period_start(now).strftime(stamp)}"


KINDS: dict[str, Kind] = {}
PERIODIC: list[Periodic] = []


def handler(
    name: str,
    *,
    label: str | None = None,
    max_attempts: int = 5,
    describe: Callable[[dict], str] | None = None,
) -> Callable[[Handler], Handler]:
    """Register `fn(payload, job)` as what a job of kind `name` does. It runs in its own
    transaction, committed with the job marked done; `max_attempts` counts transient failures
    and runs cut short by a worker that died. `describe(payload)` says what a job is about on
    the Jobs page ("To ana@example.org: Your invitation")."""

    def register(fn: Handler) -> Handler:
        KINDS[name] = Kind(name, fn, label or name, max_attempts, describe)
        return fn

    return register


def periodic(kind: str, every: timedelta, payload: dict[str, Any] | None = None) -> None:
    """Queue `kind` once per period, however many workers run."""
    if not any(p.kind == kind for p in PERIODIC):
        PERIODIC.append(Periodic(kind, every, payload or {}))


def label_of(kind: str) -> str:
    found = KINDS.get(kind)
    return found.label if found else kind


def describe(kind: str, payload: dict) -> str:
    found = KINDS.get(kind)
    if found is None or found.describe is None:
        return ""
    try:
        return found.describe(payload or {})
    except (KeyError, TypeError, ValueError):
        return ""


NOOP_MAX_SLEEP = 30.0  # seconds


@handler("jobs.noop", label="Check (does nothing)")
def _noop(payload: dict, job: JobContext) -> dict:
    """Does nothing: to check that a worker runs jobs, and to time the queue itself. With
    `{"sleep": seconds}` (at most 30) it takes that long: a job to stop a worker in the middle
    of, in tests. Says which worker ran it, on which attempt."""
    try:
        seconds = min(max(float(payload.get("sleep") or 0), 0.0), NOOP_MAX_SLEEP)
    except (TypeError, ValueError):
        raise OperationError("A check job's sleep must be a number of seconds.") from None
    if seconds:
        time.sleep(seconds)
    return {"attempts": job.attempts, "worker": job.worker}
