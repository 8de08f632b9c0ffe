"""`/api/v1/tags`: every tag in use (tags are made by tagging a contact or an organization)."""

from __future__ import annotations

from marshmallow import Schema, fields

from crm.api.blueprint import api_requires, bp
from crm.core.access import Permission
from crm.tags.operations import all_tag_names


class TagListSchema(Schema):
    items = fields.List(fields.String(), metadata={"description": "Tag names, A to Z"})


@bp.route("/tags")
@bp.doc(tags=["Tags"])
@api_requires(Permission.CONTACTS_VIEW)
@bp.response(200, TagListSchema)
def list_tags():
    """Every tag's name, as the lists' tag filter offers them."""
    return {"items": all_tag_names()}
