"""Admin pages for the standard's versions and their principles."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from crm.core.access import Permission, requires
from crm.extensions import db
from crm.standards.models import Standard

bp = Blueprint("standards", __name__, url_prefix="/standards")


@bp.route("/")
@requires(Permission.STANDARDS_MANAGE)
def index():
    standards = db.session.scalars(sa.select(Standard).order_by(Standard.id.desc())).all()
    return render_template("standards/index.html", standards=standards)
