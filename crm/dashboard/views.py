"""The home page: a dashboard for staff; other roles go on to their own home."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from crm.core.access import Permission, has_permission, requires
from crm.core.db import utcnow
from crm.core.jobs import presence
from crm.dashboard.figures import figures_for_page
from crm.engagements.models import Engagement
from crm.engagements.queries import follow_ups_for
from crm.events.models import Event
from crm.events.queries import status_counts
from crm.extensions import db
from crm.pledges.schedule import Quarter
from crm.reports.stored import figures_for

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@requires(Permission.ACCOUNT)  # every signed-in role has it
def home():
    # Every role lands here; what it shows depends on the role.
    if has_permission(current_user, Permission.OWN_CHAMPION_PROFILE):
        return redirect(url_for("my_champion.home"))
    if has_permission(current_user, Permission.OWN_PLEDGE):
        return redirect(url_for("my_pledge.home"))
    if not has_permission(current_user, Permission.DASHBOARD):
        return redirect(url_for("reports.index"))  # board readers: the report is their home
    return render_template(
        "dashboard/home.html",
        **_dashboard(),
        no_worker=(
            presence.no_worker() if has_permission(current_user, Permission.WORKER_STATUS) else None
        ),
    )


def _dashboard() -> dict:
    today = date.today()
    recent = db.session.scalars(
        sa.select(Engagement)
        .options(selectinload(Engagement.contacts), selectinload(Engagement.organization))
        .order_by(Engagement.occurred_on.desc(), Engagement.id.desc())
        .limit(8)
    ).all()
    figures, counted_at = figures_for_page(today)
    report, built_at = figures_for(Quarter.of(today))
    events = db.session.scalars(
        sa.select(Event).where(Event.ends_at >= utcnow()).order_by(Event.starts_at).limit(4)
    ).all()
    return {
        "stats": figures,  # None: being counted (a big database, no count stored yet)
        "counted_at": counted_at,  # None: counted for this page
        "follow_ups": follow_ups_for(current_user.id, today),
        "today": today,
        "recent": recent,
        "by_kind": figures["by_kind"] if figures else [],
        "pipeline": figures["pipeline"] if figures else [],
        "lapsing": figures["lapsing"] if figures else None,
        "to_review": figures["to_review"] if figures else None,
        "events": events,
        "event_counts": status_counts([e.id for e in events]),
        "quarter_report": report,  # None: being prepared
        "report_built_at": built_at,
    }
