"""The campaign jobs' kinds, and how a campaign's sending and its scheduled start are queued.

The operations queue them and `crm.campaigns.jobs` runs them; both import this module (the jobs
module imports the operations, so the operations cannot import it).
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime

from flask import current_app

from crm.core.jobs import enqueue

SEND = "campaigns.send"
START = "campaigns.start"
TICK = "campaigns.tick"


def batch_size() -> int:
    return current_app.config["CAMPAIGN_BATCH_SIZE"]


def _send_key(campaign_id: int) -> str:
    return f"{SEND}:{campaign_id}:{secrets.token_hex(6)}"


def queue_sending(campaign_id: int, messages: int, *, run_at: datetime | None = None) -> int:
    """A sending job per lane: as many as the batches `messages` make, up to the lanes
    configured (at least one). Returns how many."""
    lanes = current_app.config["CAMPAIGN_SEND_LANES"]
    jobs = max(1, min(lanes, math.ceil(messages / batch_size())))
    for _ in range(jobs):
        enqueue(
            SEND, {"campaign_id": campaign_id}, run_at=run_at, unique_key=_send_key(campaign_id)
        )
    return jobs


def start_key(campaign_id: int, when: datetime) -> str:
    return f"{START}:{campaign_id}:{when:%Y%m%dT%H%M%S}"
