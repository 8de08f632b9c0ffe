"""Writing the audit trail. Called by every domain operation, inside its transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from crm.audit.models import AuditAction, AuditEntry
from crm.core.db import utcnow
from crm.extensions import db

# Never copy these into the trail.
_SECRET_FIELDS = {"password_hash", "session_token", "version", "updated_at", "updated_by_id"}


def display_value(value: Any) -> Any:
    """A value as the trail keeps it: JSON's own types as they are, an enum as its value, a
    time as ISO 8601, anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


_display = display_value


def snapshot(obj: Any) -> dict[str, Any]:
    """Column values of `obj` now, to diff against after a change.

    A snapshot, not SQLAlchemy's attribute history: queries made while validating a change
    autoflush, which would reset the history before the audit is written.
    """
    mapper = sa.inspect(obj).mapper
    return {
        attr.key: getattr(obj, attr.key)
        for attr in mapper.column_attrs
        if attr.key not in _SECRET_FIELDS
    }


def changes_since(obj: Any, before: dict[str, Any]) -> dict[str, list]:
    """{field: [old, new]} for every column that differs from the snapshot."""
    after = snapshot(obj)
    return {
        key: [_display(before.get(key)), _display(value)]
        for key, value in after.items()
        if before.get(key) != value
    }


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


_BULK_COLUMNS = (
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "summary",
    "changes",
)


def record_many(
    actor: Any,
    action: AuditAction,
    object_type: str,
    entries: Iterable[tuple[int, dict | None]],
    *,
    summary: str = "",
) -> int:
    """An entry per (object id, changes), as `record` writes them, in one executemany: for
    imports, which change thousands of records a chunk. `changes` is {field: [old, new]} as
    `changes_since` gives it, its values already as `display_value` makes them (the caller
    knows their types; converting a million values again would cost a second an import).
    Returns how many."""
    from crm.core.bulk import insert_rows

    now = utcnow()
    actor_id = getattr(actor, "id", None)
    label = getattr(actor, "email", None) or "system"
    summary = summary[:300]
    rows = [
        (now, actor_id, label, action.value, object_type, object_id, summary, changes or None)
        for object_id, changes in entries
    ]
    insert_rows(AuditEntry.__table__, rows, _BULK_COLUMNS)
    return len(rows)


def record_each(
    actor: Any, action: AuditAction, object_type: str, ids: list[int], *, summary: str = ""
) -> None:
    """The same entry, without field changes ("created", "deleted"), for each of `ids`: one
    INSERT … SELECT over the ids sent as one parameter, no Python per record."""
    from crm.core.bulk import each_id

    if not ids:
        return
    table = AuditEntry.__table__
    postgres = db.session.get_bind().dialect.name == "postgresql"

    def value(column: str, given: Any) -> sa.ColumnElement:
        typed = sa.literal(given, table.c[column].type)
        # PostgreSQL types a SELECT's parameters itself (a NULL as text); SQLite must not
        # CAST (to DATETIME it would keep the year of a time).
        return sa.cast(typed, table.c[column].type) if postgres else typed

    source = each_id(ids)
    db.session.execute(
        table.insert().from_select(
            _BULK_COLUMNS[:-1],
            sa.select(
                value("at", utcnow()),
                value("actor_id", getattr(actor, "id", None)),
                value("actor_label", getattr(actor, "email", None) or "system"),
                value("action", action.value),
                value("object_type", object_type),
                source.c.value,
                value("summary", summary[:300]),
            ).select_from(source),
        )
    )


def own_entries(object_type: str, object_id: int) -> sa.ColumnElement[bool]:
    """The entries of this record, not of an earlier one that had its id: SQLite gives a
    deleted record's id to the next new one, so its trail starts after the last deletion
    recorded under that id (every "deleted" entry is written as the record goes)."""
    last_delete = (
        sa.select(sa.func.coalesce(sa.func.max(AuditEntry.id), 0))
        .where(
            AuditEntry.object_type == object_type,
            AuditEntry.object_id == object_id,
            AuditEntry.action == AuditAction.DELETE,
        )
        .scalar_subquery()
    )
    return sa.and_(
        AuditEntry.object_type == object_type,
        AuditEntry.object_id == object_id,
        AuditEntry.id > last_delete,
    )


def trail_for(object_type: str, object_id: int, limit: int = 100) -> list[AuditEntry]:
    """A record's history, newest first: its own entries only (see `own_entries`)."""
    stmt = (
        sa.select(AuditEntry)
        .where(own_entries(object_type, object_id))
        .options(selectinload(AuditEntry.actor))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))
