"""`/api/v1`: the CRM's REST API, described by an OpenAPI 3.1 document built from the code.

flask-smorest turns each view's marshmallow schemas into the document (and validates what comes
in against them). Every request is signed in by a personal access token (`Authorization: Bearer
…`), never by the session cookie: the API takes no CSRF token, so a browser's cookies must not
work here. A token acts as its user (the same role table); a read-only token may only read.
Errors are RFC 9457 problem documents (`crm.core.errors.problem`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint as FlaskBlueprint
from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from crm.api import tokens
from crm.core.access import Permission, has_permission, is_public, public
from crm.core.errors import answer_problems_under, problem
from crm.core.http import client_address
from crm.extensions import csrf, login_manager

PREFIX = "/api/v1"
READING = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., Any])


class ProblemSchema(Schema):
    """An error, as RFC 9457 describes it (`application/problem+json`)."""

    type = fields.String(metadata={"description": "A URI naming the kind of problem"})
    title = fields.String(metadata={"description": "What kind of problem, for people"})
    status = fields.Integer(metadata={"description": "The HTTP status"})
    detail = fields.String(metadata={"description": "This occurrence, for people"})
    errors = fields.Dict(metadata={"description": "Each field's problems, when input was refused"})


class _Api(Api):
    ERROR_SCHEMA = ProblemSchema

    # flask-smorest answers every HTTP error of the whole app as its own JSON; the pages keep
    # theirs, and the API's are problem documents (crm.core.errors, under PREFIX).
    def _register_error_handlers(self) -> None:
        pass


bp = Blueprint("api_v1", __name__, url_prefix=PREFIX)
# The document itself: a plain blueprint, so it is not one of the operations it describes.
docs_bp = FlaskBlueprint("api_docs", __name__, url_prefix=PREFIX)


def api_requires(permission: Permission) -> Callable[[F], F]:
    """A role permission for an API route: 403 as a problem document when the token's user
    lacks it (the token itself was checked before the view)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_permission(current_user, permission):
                return problem(403, "Forbidden", "Your role does not allow this.")
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


@bp.before_request
def _sign_in_by_token():
    g._login_user = login_manager.anonymous_user()  # never the session cookie (see above)
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
    g._login_user, g.api_token = user, token
    g.acting_via = f"via API, token {token.name}"  # the audit trail says so
    if token.read_only and request.method not in READING:
        return problem(
            403, "The token is read-only", "Make a read and write token to change records."
        )
    return None


class MeSchema(Schema):
    id = fields.Integer(metadata={"description": "The user's id"})
    name = fields.String()
    email = fields.Email()
    role = fields.String(metadata={"description": "The user's role: what the token may do"})
    token_name = fields.String()
    token_access = fields.String(metadata={"enum": ["read-only", "read and write"]})
    token_expires_at = fields.AwareDateTime()


@bp.route("/me")
@bp.doc(tags=["Your account"])
@bp.response(200, MeSchema)
@api_requires(Permission.ACCOUNT)
def me():
    """Who the token acts as, and what the token is."""
    token = g.api_token
    return {
        "id": current_user.id,
        "name": current_user.name,
        "email": current_user.email,
        "role": str(current_user.role),
        "token_name": token.name,
        "token_access": token.access_label,
        "token_expires_at": token.expires_at,
    }


@docs_bp.route("/openapi.json")
@public
def openapi_json():
    """This API's OpenAPI 3.1 document (no token needed)."""
    document = current_app.extensions[_API].spec.to_dict()
    # flask-smorest lists the blueprint as a tag; the operations are tagged by resource.
    document["tags"] = [t for t in document.get("tags", []) if t["name"] != bp.name]
    return document


@docs_bp.route("/docs")
@public
def reference():
    """The API's reference, read from the document (Swagger UI, from static/vendor)."""
    return render_template("api/reference.html")


_API = "crm.api.v1"


def init_app(app: Flask) -> None:
    """The API on `app`: a document of its own per app (each test's app builds one)."""
    from crm.api import contacts  # noqa: F401  (its routes join the blueprint)

    app.config.setdefault("API_TITLE", "WEST Advocacy CRM")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    api = _Api(
        app,
        spec_kwargs={
            "info": {
                "description": "The WEST Advocacy CRM's API. Send a personal access token "
                "(made on your account's API tokens page) as `Authorization: Bearer …`; it "
                "acts as you, with your role's access."
            },
            "security": [{"token": []}],
        },
    )
    api.spec.components.security_scheme(
        "token", {"type": "http", "scheme": "bearer", "description": "A personal access token"}
    )
    csrf.exempt(bp)
    answer_problems_under(PREFIX + "/")
    api.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    app.extensions[_API] = api
