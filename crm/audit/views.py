"""The audit trail across all records, newest first."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from crm.audit import display
from crm.audit.models import AuditEntry
from crm.core.access import Permission, requires
from crm.core.list_page import page_of
from crm.core.pagination import SortOption

bp = Blueprint("audit", __name__, url_prefix="/audit")
# The trail's filters, for every page that shows a record's history.
bp.add_app_template_filter(display.change_rows, "change_rows")
bp.add_app_template_filter(display.action_label, "action_label")
bp.add_app_template_filter(display.summary_html, "audit_summary")

NEWEST = SortOption("Newest first", (AuditEntry.id,), descending=True)


@bp.route("/")
@requires(Permission.USERS_MANAGE)
def index():
    stmt = sa.select(AuditEntry)
    object_type = request.args.get("type", "")
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    page = page_of(stmt, NEWEST)
    return render_template("audit/index.html", page=page, object_type=object_type)
