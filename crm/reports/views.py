"""The quarterly adoption report: the page, its downloads, and the figures on the dashboard."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from crm.core.access import Permission, requires
from crm.pledges.schedule import Quarter
from crm.reports import formats, render
from crm.reports.build import Report, not_begun, parse_quarter
from crm.reports.stored import page_for, report_for

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.app_template_filter("report_value")
def report_value(value: object) -> str:
    """A count as the report shows it: 1,234; a gap as a dash."""
    return formats.text(value)


@bp.app_template_filter("report_change")
def report_change(now: object, before: object) -> str:
    """A count's change on the quarter before, with its sign: "+3", "−2", "no change"."""
    if now == before:
        return "no change"
    return formats.change_text(now, before)


@bp.app_template_filter("report_rows")
def report_rows(frame) -> list[list[str]]:
    """A section's cells as the page shows them (see `crm.reports.formats`)."""
    return formats.display_rows(frame)


def recent_quarters(count: int = 8) -> list[Quarter]:
    quarter = Quarter.of(date.today())
    quarters = []
    for _ in range(count):
        quarters.append(quarter)
        quarter = quarter.previous()
    return quarters


def _quarter(text: str | None) -> Quarter:
    if not text:
        return Quarter.of(date.today())
    try:
        quarter = parse_quarter(text)
    except ValueError:
        abort(404)
    if not_begun(quarter):
        abort(404)  # a quarter that has not begun has no figures yet
    return quarter


@bp.route("/")
@requires(Permission.REPORTS_VIEW)
def index():
    text = request.args.get("quarter", "")
    try:
        quarter = parse_quarter(text) if text else Quarter.of(date.today())
    except ValueError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("reports.index"))
    refusal = not_begun(quarter)
    if refusal:
        flash(f"{refusal} Here is the current quarter.", "warning")
        return redirect(url_for("reports.index"))
    page, built_at = page_for(quarter)
    quarters = recent_quarters()
    if quarter not in quarters:  # an older (or later) quarter asked for by its address
        quarters = sorted([*quarters, quarter], reverse=True)
    if page is None:
        return render_template("reports/preparing.html", quarter=quarter, quarters=quarters)
    return render_template(
        "reports/index.html",
        page=page,
        built_at=built_at,
        quarter=quarter,
        code=f"{quarter.year}Q{quarter.number}",
        quarters=quarters,
    )


def _stored_or_preparing(code: str) -> Report:
    """The report a download is made from; while it is being prepared, back to its page (which
    says so) instead of building it in this request."""
    quarter = _quarter(code)
    report, _built_at = report_for(quarter)
    if report is None:
        flash(f"The report for {quarter.label} is being prepared; download it in a few minutes.",
              "info")  # fmt: skip
        abort(redirect(url_for("reports.index", quarter=code)))
    return report


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/<code>.xlsx")
@requires(Permission.REPORTS_VIEW)
def xlsx(code: str):
    report = _stored_or_preparing(code)
    return _download(
        render.xlsx_bytes(report),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"west-adoption-report-{code}.xlsx",
    )


@bp.route("/<code>.pdf")
@requires(Permission.REPORTS_VIEW)
def pdf(code: str):
    report = _stored_or_preparing(code)
    return _download(
        render.pdf_bytes(report), "application/pdf", f"west-adoption-report-{code}.pdf"
    )


@bp.route("/<code>/<section>.csv")
@requires(Permission.REPORTS_VIEW)
def csv(code: str, section: str):
    report = _stored_or_preparing(code)
    found = render.section_by_slug(report, section)
    if found is None:
        abort(404)
    _name, frame = found
    return _download(
        render.csv_bytes(frame), "text/csv; charset=utf-8", f"west-{section}-{code}.csv"
    )
