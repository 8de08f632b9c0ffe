"""Pledge pages for the team: the funnel and list, a pledge with its history and reports,
confirming, withdrawing, moving to a new version, accepting reports, progress charts."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.access import Permission, requires
from crm.core.errors import OperationError
from crm.core.unit_of_work import attempt, attempt_flashed
from crm.extensions import db
from crm.organizations import queries as org_queries
from crm.organizations.models import Organization
from crm.pledges import queries
from crm.pledges.forms import DetailsForm, MoveForm, PledgeForm, ReasonForm
from crm.pledges.models import Maturity, Pledge, ProgressReport, Standing
from crm.pledges.operations import lifecycle as pledge_ops
from crm.pledges.operations import progress_reports as report_ops
from crm.pledges.operations import signatories as signatory_ops
from crm.standards.models import Standard, StandardStatus
from crm.standards.queries import current_standard

bp = Blueprint("pledges", __name__, url_prefix="/pledges")
# The organization's record page shows its pledges.
bp.add_app_template_global(queries.pledges_of_organization, "pledges_of_organization")


def _load(pledge_id: int) -> Pledge:
    return db.session.get(Pledge, pledge_id) or abort(404)


def _signatory_id(form) -> int | None:
    ids = [i for i in (form.contact_ids.data or []) if isinstance(i, int)]
    if len(ids) > 1:
        raise OperationError("Choose one signatory.", field="contact_ids")
    return ids[0] if ids else None


def _selected(form) -> list[Contact]:
    ids = [i for i in (form.contact_ids.data or []) if isinstance(i, int)]
    return list(db.session.scalars(sa.select(Contact).where(Contact.id.in_(ids)))) if ids else []


@bp.route("/")
@requires(Permission.PLEDGES_VIEW)
def index():
    pledges = queries.all_pledges()
    standing = queries.schedules(pledges)
    wanted = request.args.get("standing", "")
    shown = [p for p in pledges if not wanted or standing[p.id].standing == wanted]
    return render_template(
        "pledges/index.html",
        pledges=shown,
        standing=standing,
        funnel=queries.funnel(pledges, standing),
        overdue=queries.overdue(pledges, standing),
        wanted=wanted,
        standings=list(Standing),
        today=date.today(),
    )


@bp.route("/progress")
@requires(Permission.PLEDGES_VIEW)
def progress():
    versions = db.session.scalars(
        sa.select(Standard)
        .where(Standard.id.in_(sa.select(Pledge.standard_id)))
        .order_by(Standard.id)
    ).all()
    chosen = request.args.get("version", "")
    standard = next((v for v in versions if v.version == chosen), None) or current_standard()
    if standard is None:
        abort(404)
    rows = queries.progress_by_principle(standard)
    chart = {
        "labels": [row.principle.code for row in rows],
        "datasets": [
            {"label": level.label, "data": [row.counts[level] for row in rows]}
            for level in Maturity
        ],
    }
    return render_template(
        "pledges/progress.html",
        standard=standard,
        versions=versions,
        rows=rows,
        levels=list(Maturity),
        chart=chart,
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.PLEDGES_EDIT)
def new():
    form = PledgeForm()
    standard = current_standard()
    if request.method == "GET":
        org = db.session.get(Organization, request.args.get("organization", type=int) or 0)
        if org is not None:
            form.organization.data = org.name
    refused = False
    if form.validate_on_submit():

        def create() -> Pledge:
            if standard is None:
                raise OperationError("No version of the standard is in force yet.")
            return pledge_ops.create_pledge(
                current_user,
                org_queries.by_name(form.organization.data),
                standard,
                signatory_id=_signatory_id(form),
                signed_on=form.signed_on.data,
                listed=form.listed.data,
            )

        done = attempt(create, form)
        if done.ok:
            pledge = done.value
            flash(f"The pledge of {pledge.organization.name} is saved.", "success")
            return redirect(url_for("pledges.detail", pledge_id=pledge.id))
        refused = True
    return render_template(
        "pledges/form.html", form=form, pledge=None, standard=standard, selected=_selected(form)
    ), 422 if form.errors or refused else 200


@bp.route("/<int:pledge_id>")
@requires(Permission.PLEDGES_VIEW)
def detail(pledge_id: int):
    pledge = _load(pledge_id)
    others = db.session.scalars(
        sa.select(Standard).where(
            Standard.status == StandardStatus.CURRENT, Standard.id != pledge.standard_id
        )
    ).all()
    move_form = MoveForm()
    move_form.standard_id.choices = [(str(s.id), s.version) for s in others]
    history = db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.organization_id == pledge.organization_id, Pledge.id != pledge.id)
        .order_by(Pledge.id.desc())
    ).all()
    points = queries.progress_over_quarters([pledge.id])
    codes = [p.code for p in pledge.standard.principles]
    chart = {
        "labels": [point.quarter.label for point in points],
        "levels": [level.label for level in Maturity],
        "datasets": [{"label": "Average", "data": [point.average for point in points]}]
        + [
            {
                "label": code,
                "data": [
                    point.levels[code].score if code in point.levels else None for point in points
                ],
                "hidden": True,
            }
            for code in codes
        ],
    }
    return render_template(
        "pledges/detail.html",
        pledge=pledge,
        chart=chart,
        schedule=queries.schedule_of(pledge),
        allowed=pledge_ops.TRANSITIONS[pledge.status],
        reason_form=ReasonForm(),
        move_form=move_form,
        points=points,
        other_pledges=history,
        representative=signatory_ops.representative_for(pledge),
        doubts=signatory_ops.signatory_doubts(pledge) if pledge.status.value == "signed" else [],
    )


@bp.route("/<int:pledge_id>/edit", methods=["GET", "POST"])
@requires(Permission.PLEDGES_EDIT)
def edit(pledge_id: int):
    pledge = _load(pledge_id)
    form = DetailsForm(obj=pledge)
    if request.method == "GET":
        form.contact_ids.data = [pledge.signatory_id] if pledge.signatory_id else []
        form.version.data = str(pledge.version)
    refused = False
    if form.validate_on_submit():
        done = attempt(
            lambda: pledge_ops.update_details(
                current_user,
                pledge,
                signatory_id=_signatory_id(form),
                signed_on=form.signed_on.data,
                listed=form.listed.data,
                expected_version=form.loaded_version(),
            ),
            form,
        )
        if done.ok:
            flash("The pledge is saved.", "success")
            return redirect(url_for("pledges.detail", pledge_id=pledge.id))
        refused = True
        if done.conflict:  # said at the top of the form, like any other refusal
            flash(done.error.message, "danger")
    return render_template(
        "pledges/form.html",
        form=form,
        pledge=pledge,
        standard=pledge.standard,
        selected=_selected(form),
    ), 422 if form.errors or refused else 200


@bp.route("/<int:pledge_id>/status", methods=["POST"])
@requires(Permission.PLEDGES_EDIT)
def change_status(pledge_id: int):
    """Sign, confirm, withdraw: one place, the lifecycle in `pledge_ops.transition`."""
    pledge = _load(pledge_id)
    form = ReasonForm()
    target = request.form.get("to", "")

    def change() -> User | None:
        if target == "active":
            return pledge_ops.confirm(current_user, pledge, expected_version=form.loaded_version())
        pledge_ops.transition(
            current_user,
            pledge,
            target,
            reason=form.reason.data,
            expected_version=form.loaded_version(),
        )
        return None

    done = attempt_flashed(change, refused="Not changed: {}")
    if not done.ok:
        return redirect(url_for("pledges.detail", pledge_id=pledge.id))
    flash(f"The pledge is now {pledge.status.label.lower()}.", "success")
    invited = done.value
    if invited is not None:
        flash(
            f"{invited.email} is invited to file progress reports: the invitation is on its way.",
            "success",
        )
    return redirect(url_for("pledges.detail", pledge_id=pledge.id))


@bp.route("/<int:pledge_id>/move", methods=["POST"])
@requires(Permission.PLEDGES_EDIT)
def move(pledge_id: int):
    pledge = _load(pledge_id)
    form = MoveForm()
    raw = form.standard_id.data or ""
    standard = db.session.get(Standard, int(raw)) if raw.isdigit() else None

    def move_it() -> None:
        if standard is None:
            raise OperationError("Choose the version to move to.")
        pledge_ops.move_to_version(
            current_user, pledge, standard, expected_version=form.loaded_version()
        )

    if attempt_flashed(move_it, refused="Not moved: {}").ok:
        flash(
            f"The pledge is now to version {standard.version}; earlier reports are kept.", "success"
        )
    return redirect(url_for("pledges.detail", pledge_id=pledge.id))


@bp.route("/reports/<int:report_id>")
@requires(Permission.PLEDGES_VIEW)
def report(report_id: int):
    report = db.session.get(ProgressReport, report_id) or abort(404)
    return render_template(
        "pledges/report.html",
        report=report,
        staff=True,
        editable=False,
        errors={},
        typed=None,
        levels=list(Maturity),
        accept_form=ReasonForm(),
    )


@bp.route("/reports/<int:report_id>/accept", methods=["POST"])
@requires(Permission.PLEDGES_EDIT)
def accept(report_id: int):
    report = db.session.get(ProgressReport, report_id) or abort(404)
    form = ReasonForm()
    done = attempt_flashed(
        lambda: report_ops.accept_report(
            current_user, report, expected_version=form.loaded_version()
        )
    )
    if done.ok:
        flash(f"The {report.period} report is accepted.", "success")
        if done.value:  # adopted
            flash("Every principle is verified: the pledge is now adopted.", "success")
    return redirect(url_for("pledges.report", report_id=report.id))
