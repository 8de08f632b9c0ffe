"""Organization pages: list, record with its people and timeline, editing, deletion."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
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
from crm.core import table_counts
from crm.core.access import Permission, has_permission, requires
from crm.core.countries import country_choices
from crm.core.form_pages import submit_form
from crm.core.list_page import chosen_sort, page_of
from crm.core.timeline import timeline_for
from crm.core.unit_of_work import attempt
from crm.core.validation import known_choice
from crm.extensions import db
from crm.organizations import operations, queries
from crm.organizations.forms import OrganizationForm
from crm.organizations.models import Organization, OrganizationKind
from crm.tags.operations import all_tag_names, parse_tags

bp = Blueprint("organizations", __name__, url_prefix="/organizations")

# Organizations as the audit trail reads them (the trail sits below this domain).
audit_display.kind_labels("organization", OrganizationKind)


# The people at an organization, for its page: contacts stand on this domain, so they register
# how they are listed (crm/contacts/views.py).
People = Callable[[int], tuple[list, int]]  # organization id -> (the first people, how many)
_PEOPLE: list[People] = []


def lists_people(people: People) -> People:
    _PEOPLE.append(people)
    return people


@audit_display.names("organization")
def _organization_name(organization_id: int) -> str | None:
    return db.session.scalar(sa.select(Organization.name).where(Organization.id == organization_id))


def _load(organization_id: int) -> Organization:
    return db.session.get(Organization, organization_id) or abort(404)


def _fields_from(form: OrganizationForm) -> operations.OrganizationFields:
    return operations.OrganizationFields(
        name=form.name.data,
        kind=form.kind.data,
        sector=form.sector.data,
        country=form.country.data,
        website=form.website.data,
        notes=form.notes.data,
        tags=parse_tags(form.tags.data),
    )


@bp.route("/")
@requires(Permission.ORGANIZATIONS_VIEW)
def index():
    args = request.args
    sort_key, sort = chosen_sort(queries.SORTS, "name")
    q = args.get("q", "").strip()
    kind = known_choice(OrganizationKind, args.get("kind", ""))
    country, tag = args.get("country", ""), args.get("tag", "")
    every = not (q or kind or country or tag)
    page = page_of(
        queries.filtered(q, kind, country, tag),
        sort,
        # Every organization: the count the worker stored, when past the cap (not counted here).
        known_total=table_counts.known_total("organization") if every else None,
    )
    return render_template(
        "organizations/index.html",
        page=page,
        q=q,
        sort_key=sort_key,
        sorts=queries.SORTS,
        kinds=OrganizationKind,
        countries=country_choices(),
        tags=all_tag_names(),
    )


@bp.route("/lookup")
@requires(Permission.ORGANIZATIONS_VIEW)
def lookup():
    return jsonify(
        [{"id": o.id, "label": o.name} for o in queries.lookup(request.args.get("q", ""))]
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.ORGANIZATIONS_EDIT)
def new():
    form = OrganizationForm()
    saved = submit_form(
        form, lambda: operations.create_organization(current_user, _fields_from(form))
    )
    if saved.ok:
        flash(f"{saved.value.name} is saved.", "success")
        return redirect(url_for("organizations.detail", organization_id=saved.value.id))
    return render_template("organizations/form.html", form=form, organization=None), saved.status


@bp.route("/<int:organization_id>")
@requires(Permission.ORGANIZATIONS_VIEW)
def detail(organization_id: int):
    org = _load(organization_id)
    show_people = has_permission(current_user, Permission.CONTACTS_VIEW)
    contacts, contact_count = _PEOPLE[0](org.id) if show_people and _PEOPLE else ([], 0)
    return render_template(
        "organizations/detail.html",
        organization=org,
        contacts=contacts,
        contact_count=contact_count,
        timeline=timeline_for("organization", org.id) if show_people else [],
        trail=trail_for("organization", org.id),
    )


@bp.route("/<int:organization_id>/edit", methods=["GET", "POST"])
@requires(Permission.ORGANIZATIONS_EDIT)
def edit(organization_id: int):
    org = _load(organization_id)
    form = OrganizationForm(obj=org)
    if request.method == "GET":
        form.tags.data = org.tag_names
    saved = submit_form(
        form,
        lambda: operations.update_organization(
            current_user, org, _fields_from(form), expected_version=form.loaded_version()
        ),
        record=org,
    )
    if saved.ok:
        flash(f"{org.name} is saved.", "success")
        return redirect(url_for("organizations.detail", organization_id=org.id))
    if not form.version.data:
        form.version.data = str(org.version)
    return render_template(
        "organizations/form.html", form=form, organization=org, conflict=saved.conflict
    ), saved.status


@bp.route("/<int:organization_id>/delete", methods=["POST"])
@requires(Permission.ORGANIZATIONS_DELETE)
def delete(organization_id: int):
    org = _load(organization_id)
    name = org.name
    if not attempt(lambda: operations.delete_organization(current_user, org)).ok:
        return redirect(url_for("organizations.detail", organization_id=organization_id))
    flash(f"{name} is deleted.", "success")
    return redirect(url_for("organizations.index"))
