"""Errors operations raise for the user to read, and the app's error pages."""

from __future__ import annotations

import logging

from flask import Flask, Response, flash, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

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


# Paths whose errors are answered as RFC 9457 problem documents instead of pages (the API's),
# registered by the domain that serves them.
_PROBLEM_PATHS: list[str] = []


def answer_problems_under(prefix: str) -> None:
    if prefix not in _PROBLEM_PATHS:
        _PROBLEM_PATHS.append(prefix)


def wants_problem() -> bool:
    return any(request.path.startswith(prefix) for prefix in _PROBLEM_PATHS)


def problem(
    status: int, title: str, detail: str = "", *, headers: dict | None = None, **extra
) -> Response:
    """An `application/problem+json` answer (RFC 9457): `title` says what kind of problem,
    `detail` this occurrence; `extra` members (such as each field's `errors`) go beside them."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    def page(code: int, title: str, message: str):
        if wants_problem():
            return problem(code, title, message)
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(HTTPException)
    def any_other(error: HTTPException):
        """What no handler below names (401, 409, 412, 422, 429 …): a problem document on the
        API's paths (with the fields' `errors` a validation gave), Werkzeug's page elsewhere."""
        if not wants_problem():
            return error
        data = getattr(error, "data", None) or {}
        extra = {"errors": data.get("errors") or data.get("messages")} if data else {}
        headers = dict(data.get("headers") or {}) if data else {}
        code = error.code or 500
        return problem(
            code,
            error.name,
            error.description or "",
            headers=headers,
            **{k: v for k, v in extra.items() if v},
        )

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
        if wants_problem():
            limit = request.max_content_length or 0
            return problem(
                413, "Request too large", f"A request's body may be at most {limit:,} bytes."
            )
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
            title = "The database is busy"
            message = (
                "Another large change, such as an import, is being written. Nothing was saved; "
                "go back and try again in a minute."
            )
            if wants_problem():
                return problem(503, title, message, headers={"Retry-After": "60"})
            body, status = page(503, title, message)
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
