"""The dashboard's figures, counted by the worker every minute and shared by every process.

Counting the contact table on every view is what held the dashboard to a few requests a second
at a million contacts. The `dashboard.figures` job counts them once a minute (periodic, so one
job a minute however many workers run) and keeps them in the shared store; the page reads them
and says when they were counted. Why a job and not a counts table kept by the operations: a
counter row that every insert updates serializes writers on PostgreSQL, and triggers slow bulk
imports; a count once a minute costs a fraction of one core-second at a million rows.

When nothing is stored yet (a new install, the worker not started): a small database (no
counted table past `COUNT_CAP` rows, by capped counts) is counted in the request, as before; a
big one shows that the figures are being counted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from crm.champions.models import Champion, Endorsement, Stage, Verification
from crm.champions.queries import lapsing_condition
from crm.contacts.models import ConsentStatus, Contact
from crm.core import shared_store, table_counts
from crm.duplicates.models import DuplicateKind, DuplicatePair, pairs_table
from crm.engagements.models import Engagement
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind

KEY = "dashboard:figures"
COUNT = "dashboard.figures"
COUNT_EVERY = timedelta(minutes=1)
KEEP = timedelta(hours=1)  # a stopped worker's last count is not shown for ever
COUNTED_TABLES = (Contact, Organization, Engagement, Champion, Endorsement)
# What a stored count must hold to be shown (one stored by an older version is counted again).
FIGURES = {"contacts", "organizations", "consented", "engagements_30d", "by_kind", "pipeline",
           "lapsing", "to_review"}  # fmt: skip


def count_figures(today: date) -> dict[str, Any]:
    """Every figure the dashboard shows, counted now (whole-table work: the job's)."""
    count = lambda stmt: db.session.scalar(stmt) or 0  # noqa: E731
    by_kind = db.session.execute(
        sa.select(Organization.kind, sa.func.count())
        .group_by(Organization.kind)
        .order_by(sa.func.count().desc())
    ).all()
    stages = dict(
        db.session.execute(
            sa.select(Champion.stage, sa.func.count()).group_by(Champion.stage)
        ).all()
    )
    months = current_app.config["CHAMPION_LAPSING_MONTHS"]
    return {
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
        "by_kind": [[_value(kind), n] for kind, n in by_kind],
        "pipeline": {_value(stage): n for stage, n in stages.items()},
        "lapsing": count(
            sa.select(sa.func.count()).select_from(Champion).where(lapsing_condition(today, months))
        ),
        "to_review": count(
            sa.select(sa.func.count())
            .select_from(Endorsement)
            .where(Endorsement.status == Verification.PENDING)
        ),
    }


def _value(member: Any) -> Any:
    return getattr(member, "value", member)


def store_figures(today: date) -> dict[str, Any]:
    figures = count_figures(today)
    shared_store.put(KEY, figures, expires_in=KEEP)
    # The lists' totals: every contact (erased ones stay listed), every organization, the
    # duplicate pairs of each kind.
    pairs = dict(
        db.session.execute(
            sa.select(DuplicatePair.kind, sa.func.count()).group_by(DuplicatePair.kind)
        ).all()
    )
    table_counts.store(
        {
            "contact": db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) or 0,
            "organization": figures["organizations"],
            **{pairs_table(kind): pairs.get(kind, 0) for kind in DuplicateKind},
        }
    )
    return figures


def figures_for_page(today: date) -> tuple[dict[str, Any] | None, datetime | None]:
    """What the dashboard shows, and when it was counted: the stored figures; or, with none
    stored, counted now on a small database (no time: they are current); or (None, None)."""
    entry = shared_store.get(KEY)
    if entry is not None and isinstance(entry.value, dict) and entry.value.keys() >= FIGURES:
        return _shown(entry.value), entry.stored_at
    if table_counts.all_small(COUNTED_TABLES):
        return _shown(count_figures(today)), None
    return None, None


def _shown(figures: dict[str, Any]) -> dict[str, Any]:
    """Stored values as the template wants them: kinds and stages as their enums (a kind or
    stage no longer known is left out)."""
    kinds = {k.value: k for k in OrganizationKind}
    pipeline = figures.get("pipeline") or {}
    return {
        **figures,
        "by_kind": [(kinds[k], n) for k, n in figures.get("by_kind") or [] if k in kinds],
        "pipeline": [(stage, int(pipeline.get(stage.value, 0))) for stage in Stage],
    }
