"""Contact pages: the list, a contact's record and timeline, editing, export and erasure."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from crm.audit import display as audit_display
from crm.audit.operations import trail_for
from crm.auth.operations import staff_choices
from crm.contacts import operations, queries
from crm.contacts.forms import ContactForm
from crm.contacts.models import ConsentStatus, Contact
from crm.core.access import Permission, requires
from crm.core.countries import country_choices, language_name
from crm.core.form_pages import submit_form
from crm.core.list_page import chosen_sort, cursor, page_size
from crm.core.timeline import timeline_for
from crm.core.unit_of_work import attempt
from crm.core.validation import known_choice
from crm.extensions import db
from crm.organizations import queries as org_queries
from crm.organizations import views as organization_views
from crm.organizations.forms import organization_id_named
from crm.organizations.models import OrganizationKind
from crm.tags.operations import all_tag_names, parse_tags

bp = Blueprint("contacts", __name__, url_prefix="/contacts")

# Consent as the audit trail reads it (the trail sits below this domain).
audit_display.value_labels("consent_status", ConsentStatus)


@organization_views.lists_people
def _people_of_organization(organization_id: int) -> tuple[list[Contact], int]:
    return (
        queries.contacts_of_organization(organization_id),
        queries.count_of_organization(organization_id),
    )


def _load(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id) or abort(404)


def _fields_from(form: ContactForm) -> operations.ContactFields:
    return operations.ContactFields(
        first_name=form.first_name.data,
        last_name=form.last_name.data or "",
        email=form.email.data,
        phone=form.phone.data,
        title=form.title.data,
        organization_id=organization_id_named(form.organization),
        country=form.country.data,
        languages=(form.languages.data or "").split(","),
        tags=parse_tags(form.tags.data),
        owner_id=int(form.owner_id.data) if form.owner_id.data else None,
        notes=form.notes.data,
        consent_status=form.consent_status.data,
        consent_source=form.consent_source.data,
    )


def id_url(endpoint: str, key: str):
    """url_for(endpoint, key=id) for a page of ids: the route is built once, the ids put in."""
    marker = "2147483647"
    values: dict[str, Any] = {key: int(marker)}  # url_for takes any value for a route argument
    head, tail = url_for(endpoint, **values).split(marker)
    return lambda record_id: f"{head}{int(record_id)}{tail}"


@bp.route("/")
@requires(Permission.CONTACTS_VIEW)
def index():
    args = request.args
    owner = args.get("owner", "")
    filters = queries.ContactFilters(
        q=args.get("q", "").strip(),
        kind=known_choice(OrganizationKind, args.get("kind", "")),
        country=args.get("country", ""),
        tag=args.get("tag", ""),
        owner=str(current_user.id) if owner == "me" else owner,
    )
    sort_key, sort = chosen_sort(queries.SORTS, queries.SEARCH_SORT if filters.q else "name")
    page = queries.contact_page(
        filters,
        sort,
        **cursor(),
        page_size=page_size(),
        count_cap=current_app.config["COUNT_CAP"],
    )
    return render_template(
        "contacts/index.html",
        page=page,
        contact_url=id_url("contacts.detail", "contact_id"),
        organization_url=id_url("organizations.detail", "organization_id"),
        filters=filters,
        owner_arg=owner,
        sort_key=sort_key,
        sorts=queries.SORTS,
        kinds=OrganizationKind,
        countries=country_choices(),
        tags=all_tag_names(),
        owners=staff_choices(),
    )


@bp.route("/lookup")
@requires(Permission.CONTACTS_VIEW)
def lookup():
    results = queries.lookup(request.args.get("q", ""))
    return jsonify(
        [
            {
                "id": c.id,
                "label": f"{c.full_name}"
                + (f" <{c.email}>" if c.email else "")
                + (f" — {c.organization.name}" if c.organization else ""),
            }
            for c in results
        ]
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CONTACTS_EDIT)
def new():
    form = ContactForm(owner_choices=staff_choices())
    if request.method == "GET":
        form.owner_id.data = str(current_user.id)
        org = org_queries.by_name(request.args.get("organization", ""))
        if org is not None:
            form.organization.data = org.name
            form.country.data = org.country  # most people work where their organization is
    saved = submit_form(form, lambda: operations.create_contact(current_user, _fields_from(form)))
    if saved.ok:
        flash(f"{saved.value.full_name} is saved.", "success")
        return redirect(url_for("contacts.detail", contact_id=saved.value.id))
    return render_template("contacts/form.html", form=form, contact=None), saved.status


@bp.route("/<int:contact_id>")
@requires(Permission.CONTACTS_VIEW)
def detail(contact_id: int):
    # With its organization, in one statement rather than a lazy load.
    contact = db.session.get(Contact, contact_id, options=queries.detail_options()) or abort(404)
    return render_template(
        "contacts/detail.html",
        contact=contact,
        timeline=timeline_for("contact", contact.id),
        trail=trail_for("contact", contact.id),
    )


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@requires(Permission.CONTACTS_EDIT)
def edit(contact_id: int):
    contact = _load(contact_id)
    if contact.erased_at is not None:
        flash("This contact was erased and can no longer be edited.", "warning")
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    form = ContactForm(obj=contact, owner_choices=staff_choices())
    if request.method == "GET":
        form.organization.data = contact.organization.name if contact.organization else ""
        form.tags.data = contact.tag_names
        form.languages.data = ", ".join(language_name(c) for c in contact.language_list)
        form.owner_id.data = str(contact.owner_id or "")
    saved = submit_form(
        form,
        lambda: operations.update_contact(
            current_user, contact, _fields_from(form), expected_version=form.loaded_version()
        ),
        record=contact,
    )
    if saved.ok:
        flash(f"{contact.full_name} is saved.", "success")
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    if not form.version.data:
        form.version.data = str(contact.version)
    return render_template(
        "contacts/form.html", form=form, contact=contact, conflict=saved.conflict
    ), saved.status


@bp.route("/<int:contact_id>/delete", methods=["POST"])
@requires(Permission.CONTACTS_DELETE)
def delete(contact_id: int):
    contact = _load(contact_id)
    name = contact.full_name
    if not attempt(lambda: operations.delete_contact(current_user, contact)).ok:
        return redirect(url_for("contacts.detail", contact_id=contact_id))
    flash(f"{name} is deleted.", "success")
    return redirect(url_for("contacts.index"))


@bp.route("/<int:contact_id>/export.json", methods=["POST"])
@requires(Permission.PERSONAL_DATA)
def export(contact_id: int):
    contact = _load(contact_id)
    data = operations.export_personal_data(current_user, contact)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=contact-{contact.id}.json"},
    )


@bp.route("/<int:contact_id>/erase", methods=["POST"])
@requires(Permission.PERSONAL_DATA)
def erase(contact_id: int):
    contact = _load(contact_id)
    if request.form.get("confirm") != "ERASE":
        flash("Type ERASE in the box to confirm the erasure; nothing was changed.", "warning")
        return redirect(url_for("contacts.detail", contact_id=contact.id))
    if attempt(lambda: operations.erase_contact(current_user, contact)).ok:
        flash("The contact's personal data is erased. Aggregate history is kept.", "success")
    return redirect(url_for("contacts.detail", contact_id=contact.id))
