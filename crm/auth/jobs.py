"""Accounts' part of the hourly housekeeping: old login attempts go."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from crm.auth.operations import forget_old_login_attempts
from crm.core.housekeeping import task


@task("old login attempts")
def _login_attempts(now: datetime) -> int:
    config = current_app.config
    return forget_old_login_attempts(
        now,
        keep_days=config["LOGIN_ATTEMPT_KEEP_DAYS"],
        window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
    )
