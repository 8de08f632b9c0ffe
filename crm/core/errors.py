"""Errors operations raise for the user to read, and the app's error pages."""

from __future__ import annotations

import logging

from flask import Flask, flash, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from crm.extensions import db

log = logging.getLogger(__name__)


class OperationError(Exception):
    """A change that was refused; the message is shown to the user as it is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(OperationError):
    """Someone else saved the record after this user loaded it (optimistic locking)."""


CONFLICT_MESSAGE = (
    "Someone else saved this record while you were editing it, so your changes were not saved."
)


def register(app: Flask) -> None:
    def page(code: int, title: str, message: str):
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(400)
    def bad_request(error):
        return page(400, "Bad request", getattr(error, "description", "") or "")

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return page(
            400,
            "The form has expired",
            "This form was open too long or was not sent from this site. Go back, reload the "
            "page and submit it again; nothing was saved.",
        )

    @app.errorhandler(403)
    def forbidden(error):
        return page(403, "Not allowed", "Your account does not have access to this page.")

    @app.errorhandler(404)
    def not_found(error):
        return page(404, "Not found", "There is nothing at this address. It may have been deleted.")

    @app.errorhandler(405)
    def method_not_allowed(error):
        return page(405, "Not allowed", "This page cannot be used that way.")

    @app.errorhandler(413)
    def too_large(error):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        return page(
            413,
            "File too large",
            f"The upload is larger than the {limit_mb:.0f} MB limit; nothing was saved.",
        )

    @app.errorhandler(StaleDataError)
    def stale(error):
        flash(CONFLICT_MESSAGE, "danger")
        return redirect(request.url)

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        # On SQLite one writer at a time: a large import holds the write lock for its whole
        # run (all or nothing), and a save that waited `busy_timeout` for it gives up here.
        from flask import g

        db.session.rollback()
        if "database is locked" in str(error.orig):
            g.reading_only = True  # the page reads the user; it must not queue for the lock
            body, status = page(
                503,
                "The database is busy",
                "Another large change, such as an import, is being written. Nothing was saved; "
                "go back and try again in a minute.",
            )
            return body, status, {"Retry-After": "60"}
        log.exception("Database error", exc_info=error)
        return server_error(error)

    @app.errorhandler(500)
    def server_error(error):
        return page(
            500,
            "Something went wrong",
            "The error has been logged and nothing was half-saved. Try again in a moment.",
        )


def check_version(record, expected: int | None) -> None:
    """Refuse a save made from a form loaded before someone else's save."""
    if expected is not None and record.version != expected:
        raise ConflictError(CONFLICT_MESSAGE)
