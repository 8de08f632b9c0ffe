"""The public page of shared case studies (`/learn/`): published case studies their contributor
agreed to share, for anyone, without logging in."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from crm.core.access import public
from crm.extensions import db
from crm.library import queries
from crm.library.models import CaseStudy

bp = Blueprint("public_library", __name__, url_prefix="/learn")


@bp.route("/")
@public
def index():
    filters = queries.filters_from(request.args)
    return render_template(
        "library/index.html",
        cases=db.session.scalars(queries.filtered(filters, public_only=True).limit(500)).all(),
        filters=filters,
        public=True,
        **queries.filter_choices(),
    )


@bp.route("/<int:case_id>")
@public
def detail(case_id: int):
    case = db.session.get(CaseStudy, case_id)
    if case is None or not case.is_public:
        abort(404)
    return render_template("library/public_detail.html", case=case)
