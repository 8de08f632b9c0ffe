"""`/api/v1/me`: who the token acts as."""

from __future__ import annotations

from flask import g
from flask_login import current_user
from marshmallow import Schema, fields

from crm.api.blueprint import api_requires, bp
from crm.core.access import Permission


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
@api_requires(Permission.ACCOUNT)
@bp.response(200, MeSchema)
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
