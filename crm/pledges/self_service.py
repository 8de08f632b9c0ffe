"""An organization representative's pages: their organization's pledge and progress reports.

A representative sees exactly one organization, the one their account is linked to; every
other pledge or report answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.core.access import Permission, requires
from crm.core.unit_of_work import attempt
from crm.extensions import db
from crm.pledges import queries
from crm.pledges.forms import QuarterForm
from crm.pledges.models import Maturity, Pledge, PledgeStatus, ProgressReport, ReportStatus
from crm.pledges.operations import progress_reports as report_ops
from crm.pledges.schedule import Quarter, reportable_quarters

bp = Blueprint("my_pledge", __name__, url_prefix="/me/pledge")


def _my_pledges() -> list[Pledge]:
    if current_user.organization_id is None:
        return []
    return list(
        db.session.scalars(
            sa.select(Pledge)
            .where(Pledge.organization_id == current_user.organization_id)
            .order_by(Pledge.id.desc())
        )
    )


def _my_pledge(pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.organization_id != current_user.organization_id:
        abort(404)
    return pledge


def _my_report(report_id: int) -> ProgressReport:
    report = db.session.get(ProgressReport, report_id)
    if report is None or report.pledge.organization_id != current_user.organization_id:
        abort(404)
    return report


def _quarter_choices(pledge: Pledge) -> list[tuple[str, str]]:
    if pledge.activated_on is None:
        return []
    quarters = reportable_quarters(pledge.activated_on, date.today())
    return [(f"{q.year}-{q.number}", q.label) for q in reversed(quarters)]


@bp.route("/")
@requires(Permission.OWN_PLEDGE)
def home():
    pledges = _my_pledges()
    live = [p for p in pledges if p.status is not PledgeStatus.WITHDRAWN]
    forms = {}
    for pledge in live:
        form = QuarterForm()
        form.quarter.choices = _quarter_choices(pledge)
        forms[pledge.id] = form
    return render_template(
        "pledges/me.html",
        pledges=pledges,
        live=live,
        schedules=queries.schedules(pledges),
        quarter_forms=forms,
    )


@bp.route("/<int:pledge_id>/reports", methods=["POST"])
@requires(Permission.OWN_PLEDGE)
def start_report(pledge_id: int):
    pledge = _my_pledge(pledge_id)
    form = QuarterForm()
    try:
        year, number = (int(part) for part in (form.quarter.data or "").split("-"))
        quarter = Quarter(year, number)
    except ValueError:
        flash("Choose the quarter the report covers.", "danger")
        return redirect(url_for("my_pledge.home"))
    done = attempt(lambda: report_ops.start_report(current_user, pledge, quarter))
    if not done.ok:
        return redirect(url_for("my_pledge.home"))
    return redirect(url_for("my_pledge.report", report_id=done.value.id))


def _answers_from(form, report: ProgressReport) -> dict[int, report_ops.Answer]:
    answers = {}
    for assessment in report.answers:
        pid = assessment.principle_id
        # A field missing from the post (not a field emptied) keeps what was saved.
        answers[pid] = report_ops.Answer(
            level=form.get(f"level_{pid}", assessment.level.value),
            evidence=form.get(f"evidence_{pid}", assessment.evidence or ""),
            comment=form.get(f"comment_{pid}", assessment.comment or ""),
        )
    return answers


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@requires(Permission.OWN_PLEDGE)
def report(report_id: int):
    report = _my_report(report_id)
    errors: dict[str, str] = {}
    typed = None
    if request.method == "POST":
        action = request.form.get("action", "save")
        version = request.form.get("version", type=int)
        answers = _answers_from(request.form, report)
        store = report_ops.submit_report if action == "submit" else report_ops.save_report
        done = attempt(
            lambda: store(current_user, report, answers, expected_version=version), show=False
        )
        if done.conflict:
            flash(done.error.message, "danger")
            typed = request.form
        elif not done.ok:
            errors[done.error.field or "form"] = done.error.message
            typed = request.form
        else:
            if action == "submit":
                flash(f"Your {report.period} report is submitted. Thank you!", "success")
                return redirect(url_for("my_pledge.home"))
            flash("Draft saved; you can finish it later.", "success")
            return redirect(url_for("my_pledge.report", report_id=report.id))
    return render_template(
        "pledges/report.html",
        report=report,
        staff=False,
        editable=report.status is ReportStatus.DRAFT,
        errors=errors,
        typed=typed,
        levels=list(Maturity),
    ), 422 if errors else 200


@bp.route("/reports/<int:report_id>/correct", methods=["POST"])
@requires(Permission.OWN_PLEDGE)
def correct(report_id: int):
    report = _my_report(report_id)
    done = attempt(lambda: report_ops.correct_report(current_user, report))
    if not done.ok:
        return redirect(url_for("my_pledge.report", report_id=report.id))
    flash(
        f"A correction of your {report.period} report: change what needs changing, then submit.",
        "info",
    )
    return redirect(url_for("my_pledge.report", report_id=done.value.id))


@bp.route("/reports/<int:report_id>/delete", methods=["POST"])
@requires(Permission.OWN_PLEDGE)
def delete_draft(report_id: int):
    report = _my_report(report_id)
    if not attempt(lambda: report_ops.delete_draft(current_user, report)).ok:
        return redirect(url_for("my_pledge.report", report_id=report.id))
    flash("The draft is deleted.", "success")
    return redirect(url_for("my_pledge.home"))
