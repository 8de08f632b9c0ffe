"""Dismissing a pair as "not duplicates", so it is not suggested again."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.core.validation import clean_choice
from crm.duplicates import store
from crm.duplicates.models import DuplicateDismissal, DuplicateKind
from crm.extensions import db
from crm.organizations.models import Organization


def dismiss_pair(actor: Any, kind: DuplicateKind | str, first_id: int, second_id: int) -> bool:
    """Mark a pair "not duplicates"; False when it already was (a second click changes nothing)."""
    kind = clean_choice(DuplicateKind, kind, "a kind of record")
    if first_id == second_id:
        raise OperationError("A record is always the same as itself; nothing was dismissed.")
    model = Contact if kind is DuplicateKind.CONTACT else Organization
    found = db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.id.in_([first_id, second_id]))
    )
    if found != 2:
        raise OperationError(
            "One of the two records no longer exists (merged or deleted); nothing was dismissed."
        )
    low, high = sorted((first_id, second_id))
    exists = db.session.scalar(
        sa.select(DuplicateDismissal.id).where(
            DuplicateDismissal.kind == kind,
            DuplicateDismissal.low_id == low,
            DuplicateDismissal.high_id == high,
        )
    )
    if exists:
        return False
    db.session.add(
        DuplicateDismissal(
            kind=kind, low_id=low, high_id=high, dismissed_by_id=getattr(actor, "id", None)
        )
    )
    store.forget_pair(kind, low, high)
    audit.record(
        actor,
        AuditAction.UPDATE,
        kind.value,
        low,
        summary=f"Marked as not a duplicate of {kind.value} #{high}",
    )
    db.session.flush()
    return True
