"""Several requests to the provider in flight at once for one sending job.

A provider across a network answers each request after a while (SendGrid: 100–300 ms); one
request at a time, a worker would mostly wait. So the job's thread claims a batch, renders it
and hands the request to a small pool of threads that only post (no database, no app), then
claims the next, up to `CRM_CAMPAIGN_REQUESTS_IN_FLIGHT` requests outstanding; as each answer
comes back, the job's thread records it and commits. Every database write stays in the job's
thread and session, each request's result committed on its own: a refused request goes back to
the queue (or fails) without touching the others, and a worker killed meanwhile leaves only the
claims of the requests in flight to be taken back and sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from crm.campaigns import delivery, worker
from crm.core.db import utcnow

# Claims in hand longer than this are renewed, so the tick never takes back a live one.
RENEW_AFTER = worker.CLAIM_LEASE.total_seconds() / 4


def send(
    provider,
    *,
    campaign_id: int,
    job_id: int | None,
    batch_size: int,
    in_flight: int,
    go_on: Callable[[dict[str, int]], bool],
) -> dict[str, int]:
    """Claim, post and record batches of one campaign until nothing is due, a request is put
    back for later (a rate limit, the provider down), or `go_on(counts so far)` says stop;
    the requests already in flight are always waited for and recorded. Returns the counts,
    with `claimed` and `exhausted` (the last claim found nothing due)."""
    total = {"sent": 0, "retry": 0, "failed": 0, "claimed": 0, "exhausted": 0}
    concurrent = getattr(provider, "concurrent", False)
    if not concurrent:
        in_flight = 1  # a provider that writes files posts in the job's thread, one by one
    outstanding: dict[Future, list[delivery.Pending]] = {}
    composers: dict[int, delivery.Composer] = {}  # each campaign prepared once a job
    claiming = True
    renewed = time.monotonic()
    pool = ThreadPoolExecutor(in_flight, thread_name_prefix="campaign-post")  # idle: no threads
    try:
        while True:
            while claiming and len(outstanding) < in_flight:
                now = utcnow()
                messages = worker.claim(batch_size, now, campaign_id=campaign_id, job_id=job_id)
                total["claimed"] += len(messages)
                if not messages:
                    total["exhausted"] = 1
                    claiming = False
                    break
                requests, failed = worker.prepare(messages, now, composers)
                total["failed"] += failed
                for batch, carried in requests:
                    outstanding[_start(pool if concurrent else None, provider, batch)] = carried
                claiming = go_on(total)
            if not outstanding:
                return total
            done, _ = wait(outstanding, return_when=FIRST_COMPLETED)
            for future in done:
                carried = outstanding.pop(future)
                outcome = worker.record(carried, future.result(), utcnow())
                total[outcome] += len(carried)
                if outcome == "retry":
                    claiming = False  # the provider asked us to wait: no new requests
            if outstanding and time.monotonic() - renewed > RENEW_AFTER:
                worker.keep_claim(sorted(m.id for c in outstanding.values() for m in c))
                renewed = time.monotonic()
    finally:
        # An error in the job's thread: the posts already started finish (their claims stay,
        # tagged with the job, for its next attempt to take back); nothing new starts.
        pool.shutdown(wait=True, cancel_futures=True)


def _start(pool: ThreadPoolExecutor | None, provider, batch: delivery.Batch) -> Future:
    """The request posted by the pool, or (no pool) here and now."""
    if pool is not None:
        return pool.submit(worker.post, provider, batch)
    done: Future = Future()
    done.set_result(worker.post(provider, batch))
    return done
