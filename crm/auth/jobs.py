"""Accounts' part of the hourly housekeeping: old login attempts and ended sign-ins go."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from crm.auth import sessions
from crm.auth.operations import (
    FORGOT_JOB,
    forget_old_login_attempts,
    send_forgotten_password_link,
)
from crm.core.housekeeping import task
from crm.core.jobs import JobContext, handler


@handler(FORGOT_JOB, label="Password link asked for", max_attempts=3)
def _forgotten_password(payload: dict, job: JobContext) -> dict:
    sent = send_forgotten_password_link(
        str(payload.get("email") or ""),
        per_address_hour=current_app.config["FORGOT_PER_ADDRESS_HOUR"],
    )
    return {"sent": sent}  # the job page says no more: who asked is nobody's business


@task("old login attempts")
def _login_attempts(now: datetime) -> int:
    config = current_app.config
    return forget_old_login_attempts(
        now,
        keep_days=config["LOGIN_ATTEMPT_KEEP_DAYS"],
        window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
    )


@task("ended sign-ins")
def _expired_sessions(now: datetime) -> int:
    return sessions.forget_expired(now)
