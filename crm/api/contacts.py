"""`/api/v1/contacts`: the contact list with its filters, a contact, and the changes the
contact pages make, through the same operations (validation, audit trail, permissions)."""

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
from crm.contacts import operations, queries
from crm.contacts.models import ConsentStatus, Contact
from crm.core.access import Permission
from crm.extensions import db
from crm.organizations.models import OrganizationKind
from crm.tags.operations import parse_tags

KIND = "contact"


class ContactSchema(Schema):
    """A contact as the API reads and writes it."""

    id = fields.Integer(dump_only=True)
    first_name = fields.String(required=True, validate=validate.Length(1, 100))
    last_name = fields.String(load_default="", validate=validate.Length(max=100))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    title = fields.String(allow_none=True, validate=validate.Length(max=150))
    organization_id = fields.Integer(allow_none=True, strict=True)
    country = fields.String(
        allow_none=True, metadata={"description": "ISO 3166 alpha-2 code, or a country's name"}
    )
    languages = fields.List(
        fields.String(validate=validate.Length(max=50)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "ISO 639-1 codes (or names), as `language_list` shows them"},
    )
    tags = fields.List(
        fields.String(validate=validate.Length(1, 50)),
        load_default=list,
        validate=validate.Length(max=100),
    )
    owner_id = fields.Integer(allow_none=True, strict=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    consent_status = fields.String(
        load_default=ConsentStatus.UNKNOWN.value,
        validate=validate.OneOf([s.value for s in ConsentStatus]),
    )
    consent_source = fields.String(allow_none=True, validate=validate.Length(max=100))
    consent_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    erased = fields.Boolean(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(dump_only=True, metadata={"description": "Changes with each save"})


class ContactChangesSchema(ContactSchema):
    """A change to a contact: only the fields sent change (used with partial=True)."""


class ContactListArgs(PageArgs):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    country = fields.String(load_default="", validate=validate.Length(max=2))
    tag = fields.String(load_default="", validate=validate.Length(max=50))
    owner = fields.String(
        load_default="",
        validate=validate.Regexp(r"^(none|[0-9]{1,10})?$"),
        metadata={"description": "A user id, or `none` for contacts nobody owns"},
    )
    kind = fields.String(
        load_default="",
        validate=validate.OneOf(["", *[k.value for k in OrganizationKind]]),
        metadata={"description": "Their organization's kind"},
    )
    organization_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    updated_since = fields.AwareDateTime(
        load_default=None, metadata={"description": "Changed at or after this time (for sync)"}
    )
    sort = fields.String(
        load_default="", validate=validate.OneOf(["", *queries.SORTS])
    )  # default: by name, or newest first for a search


ContactPageSchema = page_schema(ContactSchema, "ContactPage")


_WRITABLE = writable(ContactSchema)


def _dump(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "title": contact.title,
        "organization_id": contact.organization_id,
        "country": contact.country,
        "languages": contact.language_list,
        "tags": [t.name for t in contact.tags],
        "owner_id": contact.owner_id,
        "notes": contact.notes,
        "consent_status": str(contact.consent_status),
        "consent_source": contact.consent_source,
        "consent_at": contact.consent_at,
        "erased": contact.erased_at is not None,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "version": contact.version,
    }


def _fields(data: dict[str, Any]) -> operations.ContactFields:
    return operations.ContactFields(
        first_name=data["first_name"],
        last_name=data.get("last_name") or "",
        email=data.get("email"),
        phone=data.get("phone"),
        title=data.get("title"),
        organization_id=data.get("organization_id"),
        country=data.get("country"),
        languages=list(data.get("languages") or []),
        # As the forms take them: trimmed, lower-case, each once.
        tags=parse_tags(",".join(data.get("tags") or [])),
        owner_id=data.get("owner_id"),
        notes=data.get("notes"),
        consent_status=data.get("consent_status") or ConsentStatus.UNKNOWN,
        consent_source=data.get("consent_source"),
    )


def _load(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id) or abort(404)


@bp.route("/contacts")
@bp.doc(tags=["Contacts"])
@api_requires(Permission.CONTACTS_VIEW)
@bp.arguments(ContactListArgs, location="query")
@bp.response(200, ContactPageSchema)
def list_contacts(args: dict[str, Any]):
    """Contacts, a page at a time, with the contact list's filters and sorts."""
    filters = queries.ContactFilters(
        q=args["q"].strip(),
        kind=args["kind"],
        country=args["country"],
        tag=args["tag"],
        owner=args["owner"],
        organization_id=args["organization_id"],
        updated_since=args["updated_since"],
    )
    sort = queries.SORTS[args["sort"] or (queries.SEARCH_SORT if filters.q else "name")]
    page = queries.contact_page(
        filters,
        sort,
        after=args["after"],
        page_size=args["limit"],
        count_cap=count_cap(),
        count=args["total"],
        whole=True,
    )
    items = [_dump(c) for c in page.items]
    return page_answer(page, items, "api_v1.list_contacts", args)


@bp.route("/contacts/<int:contact_id>")
@bp.doc(tags=["Contacts"])
@api_requires(Permission.CONTACTS_VIEW)
@bp.response(200, ContactSchema)
def get_contact(contact_id: int):
    """One contact, with its ETag (send it back as `If-Match` to change it safely)."""
    return answer(KIND, _load(contact_id), _dump)


@bp.route("/contacts", methods=["POST"])
@bp.doc(tags=["Contacts"])
@api_requires(Permission.CONTACTS_EDIT)
@idempotent
@bp.arguments(ContactSchema)
@bp.response(201, ContactSchema)
def create_contact(data: dict[str, Any]):
    """A new contact, checked as the contact form checks one."""
    return created(KIND, lambda: operations.create_contact(current_user, _fields(data)), _dump)


@bp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@bp.doc(tags=["Contacts"])
@api_requires(Permission.CONTACTS_EDIT)
@bp.arguments(ContactChangesSchema(partial=True))
@bp.response(200, ContactSchema)
def update_contact(data: dict[str, Any], contact_id: int):
    """Change the fields sent; the others keep their values."""
    contact = _load(contact_id)
    values = _fields(merged(_dump(contact), data, _WRITABLE))
    return changed(
        KIND,
        contact,
        lambda version: operations.update_contact(
            current_user, contact, values, expected_version=version
        ),
        _dump,
    )


@bp.route("/contacts/<int:contact_id>", methods=["DELETE"])
@bp.doc(tags=["Contacts"])
@api_requires(Permission.CONTACTS_DELETE)
@bp.response(204)
def delete_contact(contact_id: int):
    """Delete a contact with no history (otherwise refused: erase their personal data)."""
    contact = _load(contact_id)
    return deleted(KIND, contact, lambda: operations.delete_contact(current_user, contact))
