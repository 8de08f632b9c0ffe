"""Putting the API on an app: flask-smorest builds the OpenAPI 3.1 document from each route's
marshmallow schemas (and validates what comes in against them)."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

# Each resource's routes join the blueprints as its module is imported.
from crm.api import (  # noqa: F401
    account,
    contacts,
    docs,
    engagements,
    events,
    organizations,
    tags,
)
from crm.api.blueprint import EXTENSION, PREFIX, bp, docs_bp
from crm.core.errors import answer_problems_under
from crm.extensions import csrf


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


def init_app(app: Flask) -> None:
    """The API on `app`, with a document of its own (each test's app builds one)."""
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
    app.extensions[EXTENSION] = api
