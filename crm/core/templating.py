"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Flask, request, url_for
from flask_login import current_user

from crm.core.access import Permission, has_permission
from crm.core.countries import country_name, country_options, language_name


def register(app: Flask) -> None:
    app.jinja_env.filters["country"] = country_name
    app.jinja_env.filters["language"] = language_name
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["d"] = format_date
    app.jinja_env.filters["ago"] = time_ago
    app.jinja_env.globals["Permission"] = Permission
    app.jinja_env.globals["country_options"] = country_options
    # The audit trail's filters are registered by crm.audit (the core imports no domain).
    app.jinja_env.globals["url_with"] = url_with

    @app.context_processor
    def inject_access():
        return {"can": lambda permission: has_permission(current_user, permission)}


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%d %b %Y")


def time_ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = (datetime.now(UTC) - value).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def url_with(**changes) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    args: dict[str, Any] = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    assert request.endpoint is not None, "only a page that a route matched links to itself"
    return url_for(request.endpoint, **(request.view_args or {}), **args)
