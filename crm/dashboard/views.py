"""The home page: a dashboard for staff; other roles go on to their own home."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from crm.champions.models import Champion, Endorsement, Stage, Verification
from crm.champions.queries import lapsing_condition
from crm.contacts.models import ConsentStatus, Contact
from crm.core.access import Permission, has_permission, requires
from crm.core.db import utcnow
from crm.core.jobs import presence
from crm.engagements.models import Engagement
from crm.engagements.queries import follow_ups_for
from crm.events.models import Event
from crm.events.queries import status_counts
from crm.extensions import db
from crm.organizations.models import Organization
from crm.pledges.schedule import Quarter
from crm.reports.views import cached_report

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
    count = lambda stmt: db.session.scalar(stmt)  # noqa: E731
    recent = db.session.scalars(
        sa.select(Engagement)
        .options(selectinload(Engagement.contacts), selectinload(Engagement.organization))
        .order_by(Engagement.occurred_on.desc(), Engagement.id.desc())
        .limit(8)
    ).all()
    by_kind = db.session.execute(
        sa.select(Organization.kind, sa.func.count())
        .group_by(Organization.kind)
        .order_by(sa.func.count().desc())
    ).all()
    return {
        "stats": {
            "contacts": count(
                sa.select(sa.func.count()).select_from(Contact).where(Contact.erased_at.is_(None))
            ),
            "organizations": count(sa.select(sa.func.count()).select_from(Organization)),
            "consented": count(
                sa.select(sa.func.count())
                .select_from(Contact)
                .where(Contact.consent_status == ConsentStatus.GRANTED)
            ),
            "engagements_30d": count(
                sa.select(sa.func.count())
                .select_from(Engagement)
                .where(Engagement.occurred_on >= today - timedelta(days=30))
            ),
        },
        "follow_ups": follow_ups_for(current_user.id, today),
        "today": today,
        "recent": recent,
        "by_kind": by_kind,
        **_advocacy(today),
        "quarter_report": _quarter_figures(today),
    }


def _quarter_figures(today: date):
    """This quarter's key figures against last quarter's, from the adoption report."""
    return cached_report(Quarter.of(today))


def _advocacy(today: date) -> dict:
    """The champion pipeline at a glance and the next events."""
    by_stage = sa.select(Champion.stage, sa.func.count()).group_by(Champion.stage)
    stages = dict(db.session.execute(by_stage).all())
    months = current_app.config["CHAMPION_LAPSING_MONTHS"]
    events = db.session.scalars(
        sa.select(Event).where(Event.ends_at >= utcnow()).order_by(Event.starts_at).limit(4)
    ).all()
    return {
        "pipeline": [(stage, stages.get(stage, 0)) for stage in Stage],
        "lapsing": db.session.scalar(
            sa.select(sa.func.count()).select_from(Champion).where(lapsing_condition(today, months))
        ),
        "to_review": db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Endorsement)
            .where(Endorsement.status == Verification.PENDING)
        ),
        "events": events,
        "event_counts": status_counts([e.id for e in events]),
    }
