"""The API's part of the hourly housekeeping."""

from __future__ import annotations

from datetime import datetime

from crm.api import idempotency, tokens
from crm.core.housekeeping import task


@task("expired API tokens")
def _expired_tokens(now: datetime) -> int:
    return tokens.forget_expired(now)


@task("old API idempotency keys")
def _old_idempotency_keys(now: datetime) -> int:
    return idempotency.forget_old(now)
