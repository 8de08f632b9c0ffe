"""Engagement pages: log, read, edit, the list, and "my follow-ups"."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.audit import display as audit_display
from crm.audit.operations import trail_for
from crm.auth.operations import staff_choices
from crm.contacts.models import Contact
from crm.core.access import Permission, requires
from crm.core.form_pages import submit_form
from crm.core.http import safe_next
from crm.core.list_page import page_of
from crm.core.unit_of_work import attempt_flashed
from crm.core.validation import known_choice
from crm.engagements import operations, queries
from crm.engagements.forms import EngagementForm
from crm.engagements.models import Engagement, EngagementKind
from crm.extensions import db
from crm.organizations.forms import organization_id_named
from crm.organizations.models import Organization

bp = Blueprint("engagements", __name__, url_prefix="/engagements")

# Engagements as the audit trail reads them (the trail sits below this domain).
audit_display.kind_labels("engagement", EngagementKind)


def _load(engagement_id: int) -> Engagement:
    return db.session.get(Engagement, engagement_id) or abort(404)


def _fields_from(form: EngagementForm) -> operations.EngagementFields:
    return operations.EngagementFields(
        kind=form.kind.data,
        occurred_on=form.occurred_on.data,
        summary=form.summary.data,
        heard=form.heard.data,
        organization_id=organization_id_named(form.organization),
        contact_ids=list(form.contact_ids.data or []),
        follow_up_on=form.follow_up_on.data,
        follow_up_owner_id=int(form.follow_up_owner_id.data)
        if form.follow_up_owner_id.data
        else None,
        follow_up_note=form.follow_up_note.data,
    )


def _selected_contacts(form: EngagementForm) -> list[Contact]:
    ids = [i for i in (form.contact_ids.data or []) if isinstance(i, int)]
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Contact).where(Contact.id.in_(ids))))


def _render_form(
    form: EngagementForm, engagement: Engagement | None, status: int = 200, conflict=False
):
    return (
        render_template(
            "engagements/form.html",
            form=form,
            engagement=engagement,
            selected_contacts=_selected_contacts(form),
            conflict=conflict,
        ),
        status,
    )


@bp.route("/")
@requires(Permission.ENGAGEMENTS_VIEW)
def index():
    kind = known_choice(EngagementKind, request.args.get("kind", ""))
    q = request.args.get("q", "").strip()
    open_only = request.args.get("open") == "1"
    stmt = queries.engagement_list(kind, q, open_only)
    page = page_of(stmt, queries.NEWEST)
    return render_template(
        "engagements/index.html",
        page=page,
        kind=kind,
        kinds=EngagementKind,
        q=q,
        open_only=open_only,
    )


@bp.route("/follow-ups")
@requires(Permission.ENGAGEMENTS_VIEW)
def my_follow_ups():
    follow_ups = queries.follow_ups_for(current_user.id, date.today())
    return render_template("engagements/follow_ups.html", follow_ups=follow_ups, today=date.today())


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.ENGAGEMENTS_EDIT)
def new():
    form = EngagementForm(owner_choices=staff_choices())
    if request.method == "GET":
        form.occurred_on.data = date.today()
        form.follow_up_owner_id.data = str(current_user.id)
        contact = db.session.get(Contact, request.args.get("contact", type=int) or 0)
        if contact is not None:
            form.contact_ids.data = [contact.id]
            if contact.organization:
                form.organization.data = contact.organization.name
        org_id = request.args.get("organization", type=int)
        if org_id:
            org = db.session.get(Organization, org_id)
            if org is not None:
                form.organization.data = org.name
    saved = submit_form(form, lambda: operations.log_engagement(current_user, _fields_from(form)))
    if saved.ok:
        flash("The engagement is logged.", "success")
        return redirect(url_for("engagements.detail", engagement_id=saved.value.id))
    return _render_form(form, None, saved.status)


@bp.route("/<int:engagement_id>")
@requires(Permission.ENGAGEMENTS_VIEW)
def detail(engagement_id: int):
    engagement = _load(engagement_id)
    return render_template(
        "engagements/detail.html",
        engagement=engagement,
        trail=trail_for("engagement", engagement.id),
    )


@bp.route("/<int:engagement_id>/edit", methods=["GET", "POST"])
@requires(Permission.ENGAGEMENTS_EDIT)
def edit(engagement_id: int):
    engagement = _load(engagement_id)
    form = EngagementForm(obj=engagement, owner_choices=staff_choices())
    if request.method == "GET":
        form.organization.data = engagement.organization.name if engagement.organization else ""
        form.contact_ids.data = [c.id for c in engagement.contacts]
        form.follow_up_owner_id.data = str(engagement.follow_up_owner_id or "")
    saved = submit_form(
        form,
        lambda: operations.update_engagement(
            current_user, engagement, _fields_from(form), expected_version=form.loaded_version()
        ),
        record=engagement,
    )
    if saved.ok:
        flash("The engagement is saved.", "success")
        return redirect(url_for("engagements.detail", engagement_id=engagement.id))
    if not form.version.data:
        form.version.data = str(engagement.version)
    return _render_form(form, engagement, saved.status, conflict=saved.conflict)


@bp.route("/<int:engagement_id>/follow-up-done", methods=["POST"])
@requires(Permission.ENGAGEMENTS_EDIT)
def follow_up_done(engagement_id: int):
    engagement = _load(engagement_id)
    done = attempt_flashed(
        lambda: operations.complete_follow_up(current_user, engagement), category="info"
    )
    if done.ok:
        flash("Follow-up marked done.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("engagements.my_follow_ups"))


@bp.route("/<int:engagement_id>/delete", methods=["POST"])
@requires(Permission.CONTACTS_DELETE)
def delete(engagement_id: int):
    engagement = _load(engagement_id)
    operations.delete_engagement(current_user, engagement)
    flash("The engagement is deleted.", "success")
    return redirect(url_for("engagements.index"))
