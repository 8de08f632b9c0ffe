"""Each domain's part of the hourly housekeeping (crm.core.housekeeping, which imports no
domain, runs these tasks)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from crm.core.housekeeping import task


@task("old login attempts")
def _login_attempts(now: datetime) -> int:
    from crm.auth.operations import forget_old_login_attempts

    config = current_app.config
    return forget_old_login_attempts(
        now,
        keep_days=config["LOGIN_ATTEMPT_KEEP_DAYS"],
        window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
    )


@task("uploads never imported")
def _stale_uploads(now: datetime) -> int:
    # Imports are being reworked as jobs (branch import_jobs): this only calls the function
    # they keep; it can move into crm/imports once that lands.
    from crm.imports.operations import forget_stale_drafts

    return forget_stale_drafts()
