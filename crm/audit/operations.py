"""Writing the audit trail. Called by every domain operation, inside its transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol

import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import selectinload

from crm.audit.models import AuditAction, AuditEntry
from crm.core.bulk import each_id, insert_rows
from crm.core.db import Actor, TrackedMixin, utcnow
from crm.core.errors import check_version
from crm.core.jobs.queue import audited_by
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


def actor_label(actor: Any) -> str:
    """Who, as the trail keeps it in words: the actor's email, and how they acted when it was
    not through the pages (the API says "via API, token NAME" in `g.acting_via`)."""
    label = getattr(actor, "email", None) or "system"
    via = g.get("acting_via") if has_app_context() else None
    return f"{label} ({via})"[:254] if via and actor is not None else label


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
        actor_label=actor_label(actor),
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        changes=changes or None,
    )
    db.session.add(entry)
    return entry


class Audited(Protocol):
    """A record the trail names by its id (any model)."""

    @property
    def id(self) -> int: ...


class Tracked(Audited, Protocol):
    """A record that keeps who changed it last (crm.core.db.TrackedMixin)."""

    def touch(self, actor: Actor | None) -> None: ...


def add_recorded(actor: Actor | None, obj: Tracked, object_type: str, *, summary: str) -> None:
    """Add a new record made by `actor`, flush for its id and record its creation."""
    # Reading the actor's id must not flush the record first: it would lose its creator.
    with db.session.no_autoflush:
        obj.touch(actor)
    db.session.add(obj)
    db.session.flush()
    record(actor, AuditAction.CREATE, object_type, obj.id, summary=summary)


def delete_recorded(actor: Actor | None, obj: Audited, object_type: str, *, summary: str) -> None:
    """Record the deletion of `obj` by `actor`, and delete it (flushed)."""
    record(actor, AuditAction.DELETE, object_type, obj.id, summary=summary)
    db.session.delete(obj)
    db.session.flush()


@contextmanager
def updating(
    actor: Actor | None,
    obj: Audited,
    object_type: str,
    *,
    expected_version: int | None = None,
    leave_out: Collection[str] = (),
) -> Iterator[dict[str, list]]:
    """Change `obj` in the block and keep on the trail what changed.

    First refuses a save from a form loaded before someone else's (`check_version`); after
    the block, when anything changed, marks the record as changed by `actor` (if it keeps
    that) and records an UPDATE with the fields, then flushes. The block adds to the dict it
    is given what the columns do not show (tags, linked records: {field: [old, new]}).
    `leave_out` names columns derived from others, not worth a line on the trail. An error
    in the block records nothing.
    """
    check_version(obj, expected_version)
    before = snapshot(obj)
    extra: dict[str, list] = {}
    yield extra
    changes = {k: v for k, v in changes_since(obj, before).items() if k not in leave_out}
    changes.update(extra)
    if changes:
        if isinstance(obj, TrackedMixin):
            obj.touch(actor)
        record(actor, AuditAction.UPDATE, object_type, obj.id, changes=changes)
    db.session.flush()


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
    now = utcnow()
    actor_id = getattr(actor, "id", None)
    label = actor_label(actor)
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
                value("actor_label", actor_label(actor)),
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


@audited_by
def _job_changed(actor: Any, job_id: int, summary: str) -> None:
    """An admin retried or cancelled a job (crm.core.jobs.queue, which cannot import us)."""
    record(actor, AuditAction.UPDATE, "job", job_id, summary=summary)
