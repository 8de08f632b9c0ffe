"""Writing the audit trail. Called by every domain operation, inside its transaction."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa

from crm.audit.models import AuditAction, AuditEntry
from crm.extensions import db

# Never copy these into the trail.
_SECRET_FIELDS = {"password_hash", "session_token", "version", "updated_at", "updated_by_id"}


def _display(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def pending_changes(obj: Any) -> dict[str, list]:
    """Column changes of `obj` not yet flushed, as {field: [old, new]}."""
    state = sa.inspect(obj)
    changes: dict[str, list] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in _SECRET_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            changes[attr.key] = [_display(old), _display(new)]
    return changes


def record(
    actor: Any,
    action: AuditAction,
    object_type: str,
    object_id: int | None,
    *,
    summary: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None) or "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        changes=changes or None,
    )
    db.session.add(entry)
    return entry


def trail_for(object_type: str, object_id: int, limit: int = 100) -> list[AuditEntry]:
    stmt = (
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
