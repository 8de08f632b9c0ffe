"""`/api/v1`: the blueprint every resource adds its routes to, and how a request signs in.

Every request is signed in by a personal access token (`Authorization: Bearer …`), never by the
session cookie: the API takes no CSRF token, so a browser's cookies must not work here. A token
acts as its user (the same role table); a read-only token may only read. Errors are RFC 9457
problem documents (`crm.core.errors.problem`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint as FlaskBlueprint
from flask import current_app, g, request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser, is_json_request

from crm.api import rate_limit, tokens
from crm.core.access import Permission, has_permission, is_public
from crm.core.db import utcnow
from crm.core.errors import problem
from crm.core.http import client_address
from crm.extensions import login_manager

PREFIX = "/api/v1"
EXTENSION = "crm.api"  # app.extensions[EXTENSION]: the app's flask-smorest Api (its document)
READING = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., Any])


class _Parser(FlaskParser):
    """webargs reads JSON bodies with its own parser; this one reads them as every request of
    the app does (`CleanRequest.get_json`): nesting and size limited (400, not a 500 from
    RecursionError), control characters removed (PostgreSQL refuses NUL in text)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        return req.get_json(force=True)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()


bp = _Blueprint("api_v1", __name__, url_prefix=PREFIX)
# The document and its reference page: a plain blueprint, not operations the document lists.
docs_bp = FlaskBlueprint("api_docs", __name__, url_prefix=PREFIX)


def api_requires(permission: Permission) -> Callable[[F], F]:
    """A role permission for an API route: 403 as a problem document when the token's user
    lacks it, before anything the request sent is read (so the answer tells nothing more)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_permission(current_user, permission):
                return problem(403, "Forbidden", "Your role does not allow this.")
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


@bp.after_request
def _rate_headers(response):
    """Where the token stands against its rate limit, on every answer (a 429's included)."""
    standing = g.get("api_rate")
    if standing is not None:
        response.headers.update(standing.headers())
    return response


@bp.before_request
def _sign_in_by_token():
    g._login_user = login_manager.anonymous_user()  # never the session cookie (see above)
    # A body past the API's limit is refused (413) before a byte of it is read.
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or is_public(view):
        return None
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return problem(
            401,
            "A token is needed",
            "Send a personal access token as `Authorization: Bearer …`; make one on your "
            "account's API tokens page.",
            headers={"WWW-Authenticate": 'Bearer realm="west-crm"'},
        )
    found = tokens.user_for(raw.strip(), client_address())
    if found is None:
        return problem(
            401,
            "The token does not work",
            "The token is unknown, expired or revoked, or its account is deactivated.",
            headers={"WWW-Authenticate": 'Bearer realm="west-crm", error="invalid_token"'},
        )
    user, token = found
    standing = rate_limit.count(
        token.id, utcnow(), limit=current_app.config["API_REQUESTS_PER_MINUTE"]
    )
    g.api_rate = standing
    if standing is not None and standing.over:
        return problem(
            429,
            "Too many requests",
            f"This token may make {standing.limit} requests a minute; wait "
            f"{standing.reset} seconds.",
            headers={"Retry-After": str(standing.reset)},
        )
    g._login_user, g.api_token = user, token
    g.acting_via = f"via API, token {token.name}"  # the audit trail says so
    if token.read_only and request.method not in READING:
        return problem(
            403, "The token is read-only", "Make a read and write token to change records."
        )
    return None
