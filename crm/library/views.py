"""The library for members and staff and its review. The public page of shared case studies is
`crm.library.public`."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.core.access import Permission, has_permission, requires
from crm.core.countries import country_name
from crm.core.form_pages import submit_form
from crm.core.unit_of_work import attempt_flashed
from crm.extensions import db
from crm.library import operations, queries
from crm.library.forms import CaseStudyForm, NoteForm
from crm.library.models import CaseStudy, ReviewStatus
from crm.standards.queries import principle_choices

bp = Blueprint("library", __name__, url_prefix="/library")


def _is_staff() -> bool:
    return has_permission(current_user, Permission.LIBRARY_VIEW)


def _keeps_unknown_organizations() -> bool:
    """Someone who cannot browse the CRM's organizations (a champion, a representative):
    names not in the CRM are kept as typed for a lead to link, not refused."""
    return not has_permission(current_user, Permission.ORGANIZATIONS_VIEW)


def _visible(case_id: int) -> CaseStudy:
    """Staff see every case study; other contributors only their own (others answer 404)."""
    case = db.session.get(CaseStudy, case_id)
    if case is None or (not _is_staff() and case.created_by_id != current_user.id):
        abort(404)
    return case


def _fields(form: CaseStudyForm) -> operations.CaseStudyFields:
    return operations.CaseStudyFields(
        title=form.title.data,
        technology=form.technology.data,
        outcome=form.outcome.data,
        what_happened=form.what_happened.data,
        lessons=form.lessons.data,
        countries=operations.split_countries(form.countries.data),
        sectors=form.sectors.data,
        workers_reached=form.workers_reached.data,
        source_link=form.source_link.data,
        happened_on=form.happened_on.data,
        shareable=form.shareable.data,
        principle_ids=list(form.principle_ids.data or []),
        organization_names=operations.split_organizations(form.organizations.data),
    )


@bp.route("/")
@requires(Permission.LIBRARY_VIEW)
def index():
    filters = queries.filters_from(request.args)
    stmt = queries.filtered(filters).where(CaseStudy.status == ReviewStatus.PUBLISHED)
    return render_template(
        "library/index.html",
        cases=db.session.scalars(stmt.limit(500)).all(),
        filters=filters,
        public=False,
        pending=db.session.scalar(
            sa.select(sa.func.count())
            .select_from(CaseStudy)
            .where(CaseStudy.status == ReviewStatus.SUBMITTED)
        ),
        **queries.filter_choices(),
    )


@bp.route("/mine")
@requires(Permission.LIBRARY_CONTRIBUTE)
def mine():
    cases = db.session.scalars(
        sa.select(CaseStudy)
        .where(CaseStudy.created_by_id == current_user.id)
        .order_by(CaseStudy.id.desc())
    ).all()
    return render_template("library/mine.html", cases=cases)


@bp.route("/review")
@requires(Permission.LIBRARY_REVIEW)
def review():
    cases = db.session.scalars(
        sa.select(CaseStudy)
        .where(CaseStudy.status == ReviewStatus.SUBMITTED)
        .order_by(CaseStudy.id)
    ).all()
    return render_template("library/review.html", cases=cases)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.LIBRARY_CONTRIBUTE)
def new():
    form = CaseStudyForm(principle_choices=principle_choices())
    publish = has_permission(current_user, Permission.LIBRARY_REVIEW)
    saved = submit_form(
        form,
        lambda: operations.contribute(
            current_user,
            _fields(form),
            publish=publish,
            keep_unknown_organizations=_keeps_unknown_organizations(),
        ),
    )
    if saved.ok:
        flash(
            "The case study is published."
            if publish
            else "Thank you! A lead will review your case study before it is shared.",
            "success",
        )
        return redirect(url_for("library.detail", case_id=saved.value.id))
    return render_template("library/form.html", form=form, case=None, publish=publish), saved.status


@bp.route("/<int:case_id>")
@requires(Permission.LIBRARY_CONTRIBUTE)
def detail(case_id: int):
    case = _visible(case_id)
    note_form = NoteForm()
    note_form.version.data = str(case.version)
    return render_template("library/detail.html", case=case, note_form=note_form)


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@requires(Permission.LIBRARY_CONTRIBUTE)
def edit(case_id: int):
    case = _visible(case_id)
    reviewer = has_permission(current_user, Permission.LIBRARY_REVIEW)
    if not reviewer and case.created_by_id != current_user.id:
        abort(403)  # volunteers read everyone's, but edit only their own
    # The links it has stay offered (and ticked) after a newer version becomes current.
    form = CaseStudyForm(obj=case, principle_choices=principle_choices(keep=case.principles))
    if request.method == "GET":
        form.principle_ids.data = [p.id for p in case.principles]
        form.organizations.data = "\n".join(case.organization_names)
        form.countries.data = ", ".join(country_name(c) for c in case.country_list)
        form.version.data = str(case.version)
    saved = submit_form(
        form,
        lambda: operations.update(
            current_user,
            case,
            _fields(form),
            by_contributor=not reviewer,
            expected_version=form.loaded_version(),
            keep_unknown_organizations=_keeps_unknown_organizations(),
        ),
        record=case,
    )
    if saved.ok:
        flash("The case study is saved.", "success")
        return redirect(url_for("library.detail", case_id=case.id))
    return render_template(
        "library/form.html", form=form, case=case, publish=reviewer, conflict=saved.conflict
    ), saved.status


@bp.route("/<int:case_id>/publish", methods=["POST"])
@requires(Permission.LIBRARY_REVIEW)
def publish(case_id: int):
    case = db.session.get(CaseStudy, case_id) or abort(404)
    done = attempt_flashed(
        lambda: operations.publish(current_user, case, expected_version=NoteForm().loaded_version())
    )
    if done.ok:
        flash(f"Published: {case.title}.", "success")
    return redirect(url_for("library.detail", case_id=case.id))


@bp.route("/<int:case_id>/return", methods=["POST"])
@requires(Permission.LIBRARY_REVIEW)
def send_back(case_id: int):
    case = db.session.get(CaseStudy, case_id) or abort(404)
    form = NoteForm()
    done = attempt_flashed(
        lambda: operations.send_back(
            current_user, case, form.note.data or "", expected_version=form.loaded_version()
        ),
        refused="Not sent back: {}",
    )
    if done.ok:
        flash("Sent back to the contributor with your note.", "success")
    return redirect(url_for("library.detail", case_id=case.id))
