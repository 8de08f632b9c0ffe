"""Undoing an import: what it created is removed and what it updated is put back, unless
records it created have been used since (then nothing is undone) or someone changed a field
again after it (that change is kept)."""

from __future__ import annotations

from typing import Any, TypedDict

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.contacts.models import search_text_for, sort_name_for
from crm.core.bulk import among, update_rows
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.gc_pause import paused_gc
from crm.core.search_ddl import delete_in_bulk
from crm.extensions import db
from crm.imports import audit_trail
from crm.imports.models import ImportItem, ImportRun, ItemAction, RunStatus
from crm.imports.phrases import counted, listed, records
from crm.imports.running import CHUNK_ROWS
from crm.tags.models import Tag
from crm.workgroups.models import Task

# Rows that belong to a record and go with it: deleting the record with these is no loss.
OWNED = {
    "contact": {"contact_tag"},
    "organization": {"organization_tag"},
    "pledge": {"pledge_change"},
    "endorsement": {"endorsement_principle"},
    "participation": set(),
}
# Undo order: records that point at others first.
UNDO_ORDER = ["participation", "endorsement", "pledge", "contact", "organization"]


def _in_use(table_name: str, ids: list[int]) -> list[str]:
    """Where records of `table_name` among `ids` are referred to from outside what they own."""
    target = db.metadata.tables[table_name]
    found: list[str] = []
    for other in db.metadata.sorted_tables:
        if other.name in OWNED.get(table_name, set()):
            continue
        for fk in other.foreign_keys:
            if fk.column.table is not target or fk.parent.table is not other:
                continue
            count = 0
            for start in range(0, len(ids), 5000):
                count += db.session.execute(
                    sa.select(sa.func.count())
                    .select_from(other)
                    .where(fk.parent.in_(ids[start : start + 5000]))
                ).scalar_one()
            if count:
                found.append(records(count, other.name))
    # Tasks name their record by type and id, without a foreign key.
    tasks = sum(
        db.session.execute(
            sa.select(sa.func.count())
            .select_from(Task)
            .where(Task.record_type == table_name, Task.record_id.in_(ids[start : start + 5000]))
        ).scalar_one()
        for start in range(0, len(ids), 5000)
    )
    if tasks:
        found.append(records(tasks, "task"))
    return found


def _still_created(run: ImportRun, table_name: str, ids: list[int]) -> list[int]:
    """Those of `ids` that are still the records the run created: present, and created while
    it ran. SQLite gives a freed id to the next new record, so a record the run created and
    someone deleted can have an id that now belongs to a record made by hand after the
    import; that one is not the run's to remove."""
    if not ids:
        return []
    table = db.metadata.tables[table_name]
    began = run.started_at or run.created_at
    found: list[int] = []
    for start in range(0, len(ids), 50_000):
        query = sa.select(table.c.id).where(among(table.c.id, ids[start : start + 50_000]))
        if began is not None:
            query = query.where(table.c.created_at >= began)
        if run.finished_at is not None:
            query = query.where(table.c.created_at <= run.finished_at)
        found.extend(db.session.scalars(query))
    return sorted(found)


class Undone(TypedDict):
    """What undoing a run did."""

    removed: int  # records removed, of every table
    by_table: dict[str, int]  # records removed, per table
    restored: int  # records the run had updated, put back
    kept: int  # fields changed since the run, which keep their new value


def undo_run(actor: Any, run: ImportRun) -> Undone:
    """Remove what the run created and put back what it updated. Refused, changing nothing,
    when records it created have since been used elsewhere. An updated field that someone
    changed again after the import keeps their change."""
    with paused_gc():
        return _undo(actor, run)


def _undo(actor: Any, run: ImportRun) -> Undone:
    if run.status is not RunStatus.DONE:
        raise OperationError(
            f"Only a finished import can be undone; this one is {run.status.label.lower()}."
        )
    undone = _take_back(actor, run)
    run.status = RunStatus.UNDONE
    run.undone_at = utcnow()
    run.undone_by_id = getattr(actor, "id", None)
    removed = undone["by_table"]
    summary = ", ".join(f"{records(n, t)} removed" for t, n in removed.items()) or "nothing created"
    audit.record(
        actor,
        AuditAction.UPDATE,
        "import_run",
        run.id,
        summary=f"Undid the import of {run.file_name}: {summary}; "
        f"{counted(undone['restored'], 'record')} restored"
        + (f" ({counted(undone['kept'], 'later edit')} kept)" if undone["kept"] else ""),
    )
    db.session.flush()
    return undone


def half_written(run: ImportRun) -> bool:
    """Whether a run that has not finished wrote some of its rows: a large file is written on
    SQLite part after part, each part with its undo items (`crm.imports.staged`)."""
    return run.status in (RunStatus.QUEUED, RunStatus.RUNNING) and (
        db.session.scalar(sa.select(ImportItem.id).where(ImportItem.run_id == run.id).limit(1))
        is not None
    )


def take_back(actor: Any, run: ImportRun) -> Undone:
    """What a run that did not finish wrote, removed and put back as an undo would, and its
    undo items deleted (there is nothing left to undo): a failed import leaves nothing of its
    own behind. The records' trails say they were made and removed (others could see them
    meanwhile). Refused, changing nothing, when others have used those records since."""
    with paused_gc():
        undone = _take_back(actor, run)
    db.session.execute(sa.delete(ImportItem.__table__).where(ImportItem.run_id == run.id))
    return undone


def _take_back(actor: Any, run: ImportRun) -> Undone:
    items = db.session.execute(
        sa.select(
            ImportItem.table_name,
            ImportItem.record_id,
            ImportItem.record_id_last,
            ImportItem.action,
            ImportItem.before,
        ).where(ImportItem.run_id == run.id)
    ).all()
    created: dict[str, list[int]] = {}
    updated: list[tuple[str, int, dict]] = []
    for table_name, record_id, last, action, before in items:
        if action is ItemAction.CREATED:
            created.setdefault(table_name, []).extend(range(record_id, (last or record_id) + 1))
        else:
            updated.append((table_name, record_id, before or {}))
    by_table: dict[str, list[tuple[int, dict]]] = {}
    for table_name, record_id, before in updated:
        by_table.setdefault(table_name, []).append((record_id, before))
    kept = 0
    for table_name, befores in by_table.items():
        for start in range(0, len(befores), CHUNK_ROWS):
            kept += _put_back(actor, run, table_name, befores[start : start + CHUNK_ROWS])
    removed: dict[str, int] = {}
    for table_name in UNDO_ORDER:
        ids = _still_created(run, table_name, created.get(table_name, []))
        if not ids:
            continue
        used = _in_use(table_name, ids)
        if used:
            raise OperationError(
                f"Records this import created have been used since (by {listed(used)}); "
                "undoing it would destroy that. Nothing was undone."
            )
        table = db.metadata.tables[table_name]
        for owned in OWNED[table_name]:
            child = db.metadata.tables[owned]
            for fk in child.foreign_keys:
                if fk.column.table is table:
                    for start in range(0, len(ids), 5000):
                        db.session.execute(
                            sa.delete(child).where(fk.parent.in_(ids[start : start + 5000]))
                        )
        delete_in_bulk(db.session, table_name, ids)
        for start in range(0, len(ids), 20_000):
            audit_trail.removed(
                actor, table_name, ids[start : start + 20_000], run.id, run.file_name
            )
        removed[table_name] = len(ids)
    db.session.flush()
    db.session.expire_all()
    db.session.flush()
    return {
        "removed": sum(removed.values()),
        "by_table": removed,
        "restored": len(updated),
        "kept": kept,
    }


_NAME_FIELDS = ("first_name", "last_name", "email")


def _put_back(actor: Any, run: ImportRun, table_name: str, records: list[tuple[int, dict]]) -> int:
    """Put back the values a run replaced on these records (a chunk of one table), where
    they still hold what the run wrote, and take off the tags it added; each record's trail
    says what was put back. A statement per set of columns, not per record. Returns how many
    fields were kept because someone changed them since."""
    table = db.metadata.tables[table_name]
    wanted = sorted(
        {c for _, before in records for c in before if c in table.c and not c.startswith("_")}
    )
    # A contact's folded name (sort and search) follows its name and email.
    refold = table_name == "contact" and bool(set(wanted) & set(_NAME_FIELDS))
    if refold:
        wanted = sorted({*wanted, *_NAME_FIELDS})
    current = {}
    if wanted:
        ids = [record_id for record_id, _ in records]
        query = sa.select(table.c.id, *(table.c[c] for c in wanted)).where(among(table.c.id, ids))
        if run.finished_at is not None and "created_at" in table.c:
            # A record made after the run on the id of one it updated (SQLite reuses a deleted
            # record's id) is not the one it updated: treated as deleted since.
            query = query.where(table.c.created_at <= run.finished_at)
        current = {row[0]: row._mapping for row in db.session.execute(query)}
    tags_now = _tags_of([(table_name, r) for r, before in records if before.get("_added_tags")])
    kept = 0
    restored: list[tuple[int, dict[str, Any]]] = []
    untag: list[dict] = []
    entries: list[tuple[int, dict]] = []
    for record_id, before in records:
        columns = [c for c in before if c in table.c and not c.startswith("_")]
        held = current.get(record_id)  # the record's values now
        if columns and held is None:
            continue  # deleted since
        restore: dict[str, Any] = {}
        changes: dict[str, list[Any]] = {}
        if held is not None:  # None: only tags to take off (no column was read)
            for column in columns:
                value = held[column]
                old, new = before[column]
                if _same(value, new):
                    restore[column] = old
                    changes[column] = [audit.display_value(value), old]
                else:
                    kept += 1
            if refold and set(restore) & set(_NAME_FIELDS):
                first, last, email = (restore.get(c, held[c]) for c in _NAME_FIELDS)
                restore["sort_name"] = sort_name_for(first, last)
                restore["search_text"] = search_text_for(first, last, email)
        if restore:
            restored.append((record_id, restore))
        added = before.get("_added_tags", [])
        if added:
            untag.extend({"_record": record_id, "_tag": tag_id} for tag_id in added)
            had = tags_now.get((table_name, record_id), [])
            left = [name for tag_id, name in had if tag_id not in added]
            if len(left) != len(had):
                changes["tags"] = [", ".join(n for _, n in had), ", ".join(left)]
        if changes:
            entries.append((record_id, changes))
    update_rows(table, restored)
    if untag:
        link = db.metadata.tables[f"{table_name}_tag"]
        db.session.connection().execute(
            sa.delete(link).where(
                link.c[f"{table_name}_id"] == sa.bindparam("_record"),
                link.c.tag_id == sa.bindparam("_tag"),
            ),
            untag,
        )
    audit_trail.changed(actor, table_name, entries, audit_trail.RESTORED, run.id, run.file_name)
    return kept


def _tags_of(records: list[tuple[str, int]]) -> dict[tuple[str, int], list[tuple[int, str]]]:
    """{(table, record id): [(tag id, name), ...] by name} for these records, a query per
    table (not per record)."""
    ids_by_table: dict[str, list[int]] = {}
    for table_name, record_id in records:
        ids_by_table.setdefault(table_name, []).append(record_id)
    found: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for table_name, ids in ids_by_table.items():
        link = db.metadata.tables[f"{table_name}_tag"]
        owner = link.c[f"{table_name}_id"]
        for record_id, tag_id, name in db.session.execute(
            sa.select(owner, link.c.tag_id, Tag.name)
            .join(Tag, Tag.id == link.c.tag_id)
            .where(among(owner, ids))
            .order_by(owner, Tag.name)
        ):
            found.setdefault((table_name, record_id), []).append((tag_id, name))
    return found


def _same(current: Any, stored: Any) -> bool:
    if current is None or stored is None:
        return current is stored
    if hasattr(current, "value"):
        current = current.value
    return str(current) == str(stored)
