"""`/api/v1/engagements`: the engagement log (meetings, calls, listening sessions…) with its
filters, an engagement, logging and changing one, marking its follow-up done, deleting it."""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from marshmallow import Schema, fields, validate

from crm.api.blueprint import api_requires, bp
from crm.api.conventions import (
    PageArgs,
    answer,
    changed,
    count_cap,
    created,
    deleted,
    merged,
    page_answer,
    page_schema,
    writable,
)
from crm.api.idempotency import idempotent
from crm.core.access import Permission
from crm.core.pagination import paginate
from crm.engagements import operations, queries
from crm.engagements.models import Engagement, EngagementKind
from crm.extensions import db

KIND = "engagement"
KINDS = [k.value for k in EngagementKind]
_ID = fields.Integer(strict=True, validate=validate.Range(1, 2**31 - 1))


class EngagementSchema(Schema):
    """An engagement as the API reads and writes it."""

    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    occurred_on = fields.Date(required=True)
    summary = fields.String(required=True, validate=validate.Length(1, 300))
    heard = fields.String(allow_none=True, validate=validate.Length(max=20_000))
    organization_id = fields.Integer(allow_none=True, strict=True)
    contact_ids = fields.List(_ID, load_default=list, validate=validate.Length(max=500))
    follow_up_on = fields.Date(allow_none=True)
    follow_up_owner_id = fields.Integer(allow_none=True, strict=True)
    follow_up_note = fields.String(allow_none=True, validate=validate.Length(max=300))
    follow_up_done_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "Changes with each save"})


class EngagementChangesSchema(EngagementSchema):
    """A change to an engagement: only the fields sent change (used with partial=True)."""


class EngagementListArgs(PageArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    kind = fields.String(load_default="", validate=validate.OneOf(["", *KINDS]))
    open = fields.Boolean(
        load_default=False, metadata={"description": "Only those with a follow-up still to do"}
    )


EngagementPageSchema = page_schema(EngagementSchema, "EngagementPage")


_WRITABLE = writable(EngagementSchema)


def _dump(engagement: Engagement) -> dict[str, Any]:
    return {
        "id": engagement.id,
        "kind": str(engagement.kind),
        "occurred_on": engagement.occurred_on,
        "summary": engagement.summary,
        "heard": engagement.heard,
        "organization_id": engagement.organization_id,
        "contact_ids": sorted(c.id for c in engagement.contacts),
        "follow_up_on": engagement.follow_up_on,
        "follow_up_owner_id": engagement.follow_up_owner_id,
        "follow_up_note": engagement.follow_up_note,
        "follow_up_done_at": engagement.follow_up_done_at,
        "created_at": engagement.created_at,
        "updated_at": engagement.updated_at,
        "version": engagement.version,
    }


def _fields(data: dict[str, Any]) -> operations.EngagementFields:
    return operations.EngagementFields(
        kind=data["kind"],
        occurred_on=data["occurred_on"],
        summary=data["summary"],
        heard=data.get("heard"),
        organization_id=data.get("organization_id"),
        contact_ids=list(data.get("contact_ids") or []),
        follow_up_on=data.get("follow_up_on"),
        follow_up_owner_id=data.get("follow_up_owner_id"),
        follow_up_note=data.get("follow_up_note"),
    )


def _load(engagement_id: int) -> Engagement:
    return db.session.get(Engagement, engagement_id) or abort(404)


@bp.route("/engagements")
@bp.doc(tags=["Engagements"])
@api_requires(Permission.ENGAGEMENTS_VIEW)
@bp.arguments(EngagementListArgs, location="query")
@bp.response(200, EngagementPageSchema)
def list_engagements(args: dict[str, Any]):
    """The engagement log, newest first, with the log page's filters."""
    page = paginate(
        queries.engagement_list(args["kind"], args["q"].strip(), args["open"]),
        queries.NEWEST,
        after=args["after"],
        page_size=args["limit"],
        count_cap=count_cap(),
        count=args["total"],
    )
    items = [_dump(e) for e in page.items]
    return page_answer(page, items, "api_v1.list_engagements", args)


@bp.route("/engagements/<int:engagement_id>")
@bp.doc(tags=["Engagements"])
@api_requires(Permission.ENGAGEMENTS_VIEW)
@bp.response(200, EngagementSchema)
def get_engagement(engagement_id: int):
    """One engagement, with its ETag."""
    return answer(KIND, _load(engagement_id), _dump)


@bp.route("/engagements", methods=["POST"])
@bp.doc(tags=["Engagements"])
@api_requires(Permission.ENGAGEMENTS_EDIT)
@idempotent
@bp.arguments(EngagementSchema)
@bp.response(201, EngagementSchema)
def log_engagement(data: dict[str, Any]):
    """Log an engagement with contacts and/or an organization, and its follow-up if any."""
    return created(KIND, lambda: operations.log_engagement(current_user, _fields(data)), _dump)


@bp.route("/engagements/<int:engagement_id>", methods=["PATCH"])
@bp.doc(tags=["Engagements"])
@api_requires(Permission.ENGAGEMENTS_EDIT)
@bp.arguments(EngagementChangesSchema(partial=True))
@bp.response(200, EngagementSchema)
def update_engagement(data: dict[str, Any], engagement_id: int):
    """Change the fields sent; the others keep their values."""
    engagement = _load(engagement_id)
    values = _fields(merged(_dump(engagement), data, _WRITABLE))
    return changed(
        KIND,
        engagement,
        lambda version: operations.update_engagement(
            current_user, engagement, values, expected_version=version
        ),
        _dump,
    )


@bp.route("/engagements/<int:engagement_id>/follow-up-done", methods=["POST"])
@bp.doc(tags=["Engagements"])
@api_requires(Permission.ENGAGEMENTS_EDIT)
@bp.response(200, EngagementSchema)
def complete_follow_up(engagement_id: int):
    """Mark the engagement's follow-up done."""
    engagement = _load(engagement_id)

    def done() -> Engagement:
        operations.complete_follow_up(current_user, engagement)
        return engagement

    return changed(KIND, engagement, lambda _version: done(), _dump)


@bp.route("/engagements/<int:engagement_id>", methods=["DELETE"])
@bp.doc(tags=["Engagements"])
@api_requires(Permission.CONTACTS_DELETE)  # as the page: those who may delete contacts
@bp.response(204)
def delete_engagement(engagement_id: int):
    """Delete an engagement from the log."""
    engagement = _load(engagement_id)
    return deleted(KIND, engagement, lambda: operations.delete_engagement(current_user, engagement))
