"""`/api/v1/organizations`: the organization list with its filters, an organization, and the
changes the organization pages make, through the same operations."""

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
from crm.core import table_counts
from crm.core.access import Permission
from crm.core.pagination import paginate
from crm.extensions import db
from crm.organizations import operations, queries
from crm.organizations.models import Organization, OrganizationKind
from crm.tags.operations import parse_tags

KIND = "organization"
KINDS = [k.value for k in OrganizationKind]


class OrganizationSchema(Schema):
    """An organization as the API reads and writes it."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    sector = fields.String(allow_none=True, validate=validate.Length(max=100))
    country = fields.String(
        allow_none=True, metadata={"description": "ISO 3166 alpha-2 code, or a country's name"}
    )
    website = fields.String(allow_none=True, validate=validate.Length(max=300))
    notes = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    tags = fields.List(
        fields.String(validate=validate.Length(1, 50)),
        load_default=list,
        validate=validate.Length(max=100),
    )
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "Changes with each save"})


class OrganizationChangesSchema(OrganizationSchema):
    """A change to an organization: only the fields sent change (used with partial=True)."""


class OrganizationListArgs(PageArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    kind = fields.String(load_default="", validate=validate.OneOf(["", *KINDS]))
    country = fields.String(load_default="", validate=validate.Length(max=2))
    tag = fields.String(load_default="", validate=validate.Length(max=50))
    sort = fields.String(load_default="name", validate=validate.OneOf(list(queries.SORTS)))


OrganizationPageSchema = page_schema(OrganizationSchema, "OrganizationPage")


_WRITABLE = writable(OrganizationSchema)


def _dump(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "kind": str(org.kind),
        "sector": org.sector,
        "country": org.country,
        "website": org.website,
        "notes": org.notes,
        "tags": [t.name for t in org.tags],
        "created_at": org.created_at,
        "updated_at": org.updated_at,
        "version": org.version,
    }


def _fields(data: dict[str, Any]) -> operations.OrganizationFields:
    return operations.OrganizationFields(
        name=data["name"],
        kind=data["kind"],
        sector=data.get("sector"),
        country=data.get("country"),
        website=data.get("website"),
        notes=data.get("notes"),
        # As the forms take them: trimmed, lower-case, each once.
        tags=parse_tags(",".join(data.get("tags") or [])),
    )


def _load(organization_id: int) -> Organization:
    return db.session.get(Organization, organization_id) or abort(404)


@bp.route("/organizations")
@bp.doc(tags=["Organizations"])
@api_requires(Permission.ORGANIZATIONS_VIEW)
@bp.arguments(OrganizationListArgs, location="query")
@bp.response(200, OrganizationPageSchema)
def list_organizations(args: dict[str, Any]):
    """Organizations, a page at a time, with the organization list's filters and sorts."""
    q = args["q"].strip()
    every = not (q or args["kind"] or args["country"] or args["tag"])
    page = paginate(
        queries.filtered(q, args["kind"], args["country"], args["tag"]),
        queries.SORTS[args["sort"]],
        after=args["after"],
        page_size=args["limit"],
        count_cap=count_cap(),
        count=args["total"],
        # Every organization: the count the worker stored, when past the cap.
        known_total=table_counts.known_total(KIND) if every and args["total"] else None,
    )
    items = [_dump(o) for o in page.items]
    return page_answer(page, items, "api_v1.list_organizations", args)


@bp.route("/organizations/<int:organization_id>")
@bp.doc(tags=["Organizations"])
@api_requires(Permission.ORGANIZATIONS_VIEW)
@bp.response(200, OrganizationSchema)
def get_organization(organization_id: int):
    """One organization, with its ETag (send it back as `If-Match` to change it safely)."""
    return answer(KIND, _load(organization_id), _dump)


@bp.route("/organizations", methods=["POST"])
@bp.doc(tags=["Organizations"])
@api_requires(Permission.ORGANIZATIONS_EDIT)
@idempotent
@bp.arguments(OrganizationSchema)
@bp.response(201, OrganizationSchema)
def create_organization(data: dict[str, Any]):
    """A new organization, checked as the organization form checks one (names are unique,
    ignoring case, accents and spacing)."""
    return created(KIND, lambda: operations.create_organization(current_user, _fields(data)), _dump)


@bp.route("/organizations/<int:organization_id>", methods=["PATCH"])
@bp.doc(tags=["Organizations"])
@api_requires(Permission.ORGANIZATIONS_EDIT)
@bp.arguments(OrganizationChangesSchema(partial=True))
@bp.response(200, OrganizationSchema)
def update_organization(data: dict[str, Any], organization_id: int):
    """Change the fields sent; the others keep their values."""
    org = _load(organization_id)
    values = _fields(merged(_dump(org), data, _WRITABLE))
    return changed(
        KIND,
        org,
        lambda version: operations.update_organization(
            current_user, org, values, expected_version=version
        ),
        _dump,
    )


@bp.route("/organizations/<int:organization_id>", methods=["DELETE"])
@bp.doc(tags=["Organizations"])
@api_requires(Permission.ORGANIZATIONS_DELETE)
@bp.response(204)
def delete_organization(organization_id: int):
    """Delete an organization nothing depends on (its contacts, pledges or accounts refuse)."""
    org = _load(organization_id)
    return deleted(KIND, org, lambda: operations.delete_organization(current_user, org))
