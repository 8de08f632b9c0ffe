"""Admin pages for the standard's versions and their principles."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.audit.operations import trail_for
from crm.core.access import Permission, requires
from crm.core.form_pages import submit_form
from crm.core.unit_of_work import attempt_flashed
from crm.extensions import db
from crm.standards import operations, queries
from crm.standards.forms import PrincipleForm, StandardForm, StatusForm, SupersedeForm
from crm.standards.models import Principle, Standard, StandardStatus

bp = Blueprint("standards", __name__, url_prefix="/standards")


def _load(standard_id: int) -> Standard:
    return db.session.get(Standard, standard_id) or abort(404)


def _load_principle(standard_id: int, principle_id: int) -> Principle:
    principle = db.session.get(Principle, principle_id)
    if principle is None or principle.standard_id != standard_id:
        abort(404)
    return principle


def _fields(form: PrincipleForm) -> operations.PrincipleFields:
    return operations.PrincipleFields(
        code=form.code.data, title=form.title.data, text=form.text.data
    )


def _detail_url(standard: Standard, anchor: str | None = None) -> str:
    return url_for("standards.detail", standard_id=standard.id, _anchor=anchor)


def _refuse_if_frozen(standard: Standard):
    """A frozen version's edit pages say why and go back to the version."""
    reason = operations.editable_reason(standard)
    if reason:
        flash(reason, "warning")
        return redirect(_detail_url(standard))
    return None


@bp.route("/")
@requires(Permission.STANDARDS_MANAGE)
def index():
    standards = queries.all_standards()
    return render_template(
        "standards/index.html",
        standards=standards,
        usage=queries.usage_by_standard(),
        empty=queries.Usage(),
    )


@bp.route("/<int:standard_id>")
@requires(Permission.STANDARDS_MANAGE)
def detail(standard_id: int):
    standard = _load(standard_id)
    return render_template(
        "standards/detail.html",
        standard=standard,
        usage=queries.usage_of(standard),
        frozen=operations.editable_reason(standard),
        moves=operations.allowed_moves(standard),
        status_form=StatusForm(),
        trail=trail_for("standard", standard.id),
    )


@bp.route("/<int:standard_id>/edit", methods=["GET", "POST"])
@requires(Permission.STANDARDS_MANAGE)
def edit(standard_id: int):
    standard = _load(standard_id)
    if (refused := _refuse_if_frozen(standard)) is not None:
        return refused
    form = StandardForm(obj=standard)
    saved = submit_form(
        form,
        lambda: operations.update_standard(
            current_user, standard, form.title.data, expected_version=form.loaded_version()
        ),
    )
    if saved.ok:
        flash(f"Version {standard.version} is saved.", "success")
        return redirect(_detail_url(standard))
    if saved.conflict or not form.version.data:  # a deliberate second save wins
        form.version.data = str(operations.standard_fingerprint(standard))
    return render_template(
        "standards/edit.html", form=form, standard=standard, conflict=saved.conflict
    ), saved.status


@bp.route("/<int:standard_id>/supersede", methods=["GET", "POST"])
@requires(Permission.STANDARDS_MANAGE)
def supersede(standard_id: int):
    source = _load(standard_id)
    form = SupersedeForm()
    if request.method == "GET":
        form.version.data = _next_version(source)
        form.title.data = source.title
    saved = submit_form(
        form,
        lambda: operations.supersede(current_user, source, form.version.data, form.title.data),
    )
    if saved.ok:
        standard = saved.value
        flash(
            f"Draft version {standard.version} is created from {source.version}. "
            "Edit its principles, then open a consultation or make it current.",
            "success",
        )
        return redirect(_detail_url(standard))
    return render_template("standards/supersede.html", form=form, source=source), saved.status


def _next_version(source: Standard) -> str:
    """The next major version not taken yet: 1.0 → 2.0 (or 3.0 when 2.0 exists)."""
    taken = {s.version for s in queries.all_standards()}
    major = queries.version_key(source.version)[0] + 1
    while f"{major}.0" in taken:
        major += 1
    return f"{major}.0"


@bp.route("/<int:standard_id>/status", methods=["POST"])
@requires(Permission.STANDARDS_MANAGE)
def status(standard_id: int):
    standard = _load(standard_id)
    form = StatusForm()
    previous = queries.current_standard()
    done = attempt_flashed(
        lambda: operations.set_status(current_user, standard, form.status.data or ""),
        refused="Status not changed: {}",
    )
    if done.ok:
        message = f"Version {standard.version} is now {operations.STATUS_PHRASES[standard.status]}"
        if previous is not None and previous.status == StandardStatus.RETIRED:
            message += f"; version {previous.version} is retired"
        flash(message + ".", "success")
    return redirect(_detail_url(standard))


# --- principles ---------------------------------------------------------------------------------


@bp.route("/<int:standard_id>/principles/new", methods=["GET", "POST"])
@requires(Permission.STANDARDS_MANAGE)
def new_principle(standard_id: int):
    standard = _load(standard_id)
    if (refused := _refuse_if_frozen(standard)) is not None:
        return refused
    form = PrincipleForm()
    if request.method == "GET":
        form.code.data = f"P{len(standard.principles) + 1}"
    saved = submit_form(
        form, lambda: operations.add_principle(current_user, standard, _fields(form))
    )
    if saved.ok:
        principle = saved.value
        flash(f"{principle.label} is added.", "success")
        return redirect(_detail_url(standard, f"principle-{principle.id}"))
    return render_template(
        "standards/principle.html", form=form, standard=standard, principle=None
    ), saved.status


@bp.route("/<int:standard_id>/principles/<int:principle_id>/edit", methods=["GET", "POST"])
@requires(Permission.STANDARDS_MANAGE)
def edit_principle(standard_id: int, principle_id: int):
    principle = _load_principle(standard_id, principle_id)
    standard = principle.standard
    if (
        not operations.can_fill_in(standard, principle)
        and (refused := _refuse_if_frozen(standard)) is not None
    ):
        return refused
    form = PrincipleForm(obj=principle)
    saved = submit_form(
        form,
        lambda: operations.update_principle(
            current_user, principle, _fields(form), expected_version=form.loaded_version()
        ),
    )
    if saved.ok:
        flash(f"{principle.label} is saved.", "success")
        return redirect(_detail_url(standard, f"principle-{principle.id}"))
    if saved.conflict or not form.version.data:  # a deliberate second save wins
        form.version.data = str(operations.principle_fingerprint(principle))
    return render_template(
        "standards/principle.html",
        form=form,
        standard=standard,
        principle=principle,
        conflict=saved.conflict,
    ), saved.status


@bp.route("/<int:standard_id>/principles/<int:principle_id>/delete", methods=["POST"])
@requires(Permission.STANDARDS_MANAGE)
def delete_principle(standard_id: int, principle_id: int):
    principle = _load_principle(standard_id, principle_id)
    standard = principle.standard
    label = principle.label
    done = attempt_flashed(
        lambda: operations.remove_principle(current_user, principle), refused="Not removed: {}"
    )
    if done.ok:
        flash(f"{label} is removed from version {standard.version}.", "success")
    return redirect(_detail_url(standard, "principles"))


@bp.route("/<int:standard_id>/principles/<int:principle_id>/move", methods=["POST"])
@requires(Permission.STANDARDS_MANAGE)
def move_principle(standard_id: int, principle_id: int):
    principle = _load_principle(standard_id, principle_id)
    standard = principle.standard
    attempt_flashed(
        lambda: operations.move_principle(
            current_user, principle, request.form.get("direction", "")
        ),
        refused="Not moved: {}",
    )
    return redirect(_detail_url(standard, f"principle-{principle_id}"))
