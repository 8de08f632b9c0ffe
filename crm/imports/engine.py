"""Running an import: read, check and write the rows a chunk at a time, in one transaction.

The caller commits (or, for a dry run, rolls back) once at the end, so an import either
completes or changes nothing. Rows that fail a check do not stop the run: they go to the error
file, with the reason, to be fixed and uploaded again.
"""

from __future__ import annotations

import csv
import io
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.contacts.models import search_text_for, sort_name_for
from crm.core.bulk import among, insert_rows
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.export import FORMULA_START, safe_cell
from crm.core.gc_pause import paused_gc
from crm.core.search_ddl import delete_in_bulk
from crm.extensions import db
from crm.imports import trail
from crm.imports.fields import Spec
from crm.imports.models import ExistingPolicy, ImportItem, ImportRun, ItemAction, RunStatus
from crm.imports.reading import TableReader
from crm.imports.wording import counted, listed, records
from crm.tags.models import Tag
from crm.workgroups.models import Task

CHUNK_ROWS = 5000
Progress = Callable[[int, int], None]  # rows done, rows in all

CREATE, UPDATE, SKIP, FAIL = "create", "update", "skip", "fail"


@dataclass(slots=True)
class Row:
    line: int  # as numbered in a spreadsheet (the header is line 1)
    cells: list[str]  # one per header
    headers: list[str]
    values: dict[str, str]  # {field key: stripped cell}, mapped columns only
    errors: dict[str, str] = field(default_factory=dict)  # {field key or "row": message}
    action: str = CREATE
    record_id: int | None = None
    note: str = ""  # what matched, or why it was skipped
    cleaned: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)  # for an update: {column: new value}
    # For an update, the audit trail's {field: [old, new]}, as an edit on the form records it.
    audit: dict[str, list] | None = None

    @property
    def raw(self) -> dict[str, str]:
        """{header: cell}, for the error file and the preview (built only for those)."""
        return dict(zip(self.headers, self.cells, strict=True))

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)
        self.action = FAIL

    @property
    def reason(self) -> str:
        return "; ".join(self.errors.values())


@dataclass
class Context:
    """What one run knows while it goes: who runs it, how, and what it changed."""

    actor: Any
    policy: ExistingPolicy
    file_name: str
    fuzzy_threshold: int = 90
    run_id: int | None = None  # named on the audit trail of every record the run writes
    # Ids of created records as compact arrays (a million-row file makes a million of them),
    # updated records with the values they had.
    created_ids: dict[str, array] = field(default_factory=dict)
    updates: list[tuple[str, int, dict]] = field(default_factory=list)
    extra_created: dict[str, int] = field(default_factory=dict)
    review: list[dict] = field(default_factory=list)

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "id", None)

    def created(self, table: str, ids: list[int]) -> None:
        self.created_ids.setdefault(table, array("q")).extend(ids)

    def updated(self, table: str, record_id: int, before: dict) -> None:
        self.updates.append((table, record_id, before))

    def audit_created(self, table: str, ids: list[int]) -> None:
        """The records' trails: created by this run (one bulk insert)."""
        trail.created(self.actor, table, ids, self.run_id, self.file_name)

    def audit_updated(self, table: str, rows: list[Row]) -> None:
        """The trails of the records these rows updated: what changed, old → new (one bulk
        insert). Called once the rows' tags are linked, so an entry has those too."""
        changes = [(r.record_id, r.audit) for r in rows if r.action == UPDATE and r.audit]
        trail.changed(self.actor, table, changes, trail.UPDATED, self.run_id, self.file_name)

    def items(self, run_id: int) -> Iterator[dict]:
        created = ItemAction.CREATED.value
        for table, ids in self.created_ids.items():
            for first, last in _id_ranges(ids):
                yield {"run_id": run_id, "table_name": table, "record_id": first,
                       "record_id_last": last, "action": created, "before": None}  # fmt: skip
        for table, record_id, before in self.updates:
            yield {"run_id": run_id, "table_name": table, "record_id": record_id,
                   "record_id_last": None, "action": ItemAction.UPDATED.value,
                   "before": before}  # fmt: skip


def _id_ranges(ids: array) -> Iterator[tuple[int, int]]:
    """Consecutive runs in `ids` as (first, last)."""
    if not ids:
        return
    first = last = ids[0]
    for record_id in islice(ids, 1, None):
        if record_id != last + 1:
            yield first, last
            first = record_id
        last = record_id
    yield first, last


class Importer:
    """One record type: `check` validates and matches a chunk of rows (no writes), `write`
    creates and updates what passed. Both are called chunk after chunk, in file order, so an
    importer can remember what earlier rows held (duplicates inside the file)."""

    spec: Spec
    table_name: str

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def write(self, rows: list[Row]) -> None:
        raise NotImplementedError


def _importer_for(record_type: str, ctx: Context) -> Importer:
    # Here, not at the top: the importers the registry names import this module (a real cycle).
    from crm.imports import registry

    return registry.IMPORTERS[record_type](ctx)


def _rows(reader: TableReader, mapping: dict[str, str]) -> Iterator[Row]:
    headers = reader.info.headers
    wanted = [(headers.index(header), key) for header, key in mapping.items() if header in headers]
    for line, cells, extra in reader.cells():
        values = {key: cells[index].strip() for index, key in wanted}
        if "'" in "".join(cells):  # rare: one join per row finds it
            values = {key: _undefused(value) for key, value in values.items()}
        row = Row(line, cells, headers, values)
        if extra:
            row.fail(
                "row",
                f"values past the last column ({extra[:60]}); is a delimiter or a header missing?",
            )
        yield row


def _undefused(value: str) -> str:
    """A cell as it was before an export defused it: our error file (like every export)
    writes "'+49 30 1234" so a spreadsheet does not run it as a formula, and a fixed error
    file uploaded again must give back "+49 30 1234"."""
    if value[:1] == "'" and value[1:2] and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


@dataclass
class Preview:
    """What an import would do with a file's first rows: the first few to show, and how many
    of the rows checked each action would take."""

    rows: list[Row]  # the first rows, to show
    counts: dict[str, int]  # {CREATE, UPDATE, SKIP, FAIL: rows} over the rows checked
    checked: int  # how many rows were checked, from the top of the file
    complete: bool  # every row of the file was checked
    tried: bool = True  # the rows were also written (the caller rolled that back)

    @property
    def writes(self) -> int:
        """Rows the import would write (create or update)."""
        return self.counts[CREATE] + self.counts[UPDATE]


def preview(
    run: ImportRun,
    reader: TableReader,
    ctx: Context,
    limit: int = 20,
    count: int = 0,
    *,
    write: bool = True,
    seconds: float | None = None,
) -> Preview:
    """The first `limit` rows as the import would see them, problems and what each would do,
    and the actions of the first `count` rows (at least `limit`) counted, or of as many as
    `seconds` allow (a contacts file goes through 2,000 rows in a tenth of a second, event
    participants, a row at a time through their operation, a few hundred a second).

    With `write`, the rows are also written into the session as the import would write them,
    for the caller to roll back: only writing tells some rows apart (an update with nothing
    empty to fill is skipped, an operation refuses a row), and the preview must say what the
    import will do."""
    importer = _importer_for(run.record_type, ctx)
    shown: list[Row] = []
    counts = dict.fromkeys((CREATE, UPDATE, SKIP, FAIL), 0)
    checked = 0
    started = time.monotonic()
    rows = islice(_rows(reader, run.mapping), max(limit, count))
    size = limit
    while chunk := list(islice(rows, size)):
        importer.check(chunk)
        if write:
            importer.write([r for r in chunk if r.action in (CREATE, UPDATE)])
        for row in chunk:
            counts[row.action] += 1
        checked += len(chunk)
        shown.extend(chunk[: max(0, limit - len(shown))])
        size = CHUNK_ROWS
        if seconds is not None:
            # As many rows as the time left allows, at the pace so far.
            spent = time.monotonic() - started
            size = min(CHUNK_ROWS, int((seconds - spent) * checked / spent) if spent else size)
            if size < 1:
                break
    return Preview(shown, counts, checked, complete=checked >= run.total_rows, tried=write)


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    failed_rows: list[Row] = field(default_factory=list)


def execute(
    run: ImportRun,
    reader: TableReader,
    ctx: Context,
    *,
    progress: Progress | None = None,
) -> Outcome:
    """Import every row of the file into the session (flushed, never committed) and fill in
    the run: counts, error file, items for undo, status done."""
    with paused_gc():
        return _execute(run, reader, ctx, progress)


def _execute(
    run: ImportRun, reader: TableReader, ctx: Context, progress: Progress | None
) -> Outcome:
    importer = _importer_for(run.record_type, ctx)
    outcome = Outcome()
    done = 0
    for chunk in _chunks(_rows(reader, run.mapping), CHUNK_ROWS):
        importer.check(chunk)
        importer.write([r for r in chunk if r.action in (CREATE, UPDATE)])
        for row in chunk:
            if row.action == CREATE:
                outcome.created += 1
            elif row.action == UPDATE:
                outcome.updated += 1
            elif row.action == SKIP:
                outcome.skipped += 1
            else:
                outcome.failed += 1
                outcome.failed_rows.append(row)
        done += len(chunk)
        if progress:
            progress(done, max(run.total_rows, done))
    items = ctx.items(run.id)
    while batch := list(islice(items, 20_000)):
        insert_rows(ImportItem.__table__, batch)
    run.created_count = outcome.created
    run.updated_count = outcome.updated
    run.skipped_count = outcome.skipped
    run.failed_count = outcome.failed
    run.extra_created = dict(ctx.extra_created)
    run.review = ctx.review[:1000]
    run.error_file = (
        error_file(reader.info.headers, outcome.failed_rows) if outcome.failed else None
    )
    run.status = RunStatus.DONE
    run.finished_at = utcnow()
    run.total_rows = done
    audit.record(
        ctx.actor,
        AuditAction.CREATE,
        "import_run",
        run.id,
        summary=(
            f"Imported {run.record_type.label.lower()} from {run.file_name}: "
            f"{outcome.created} created, {outcome.updated} updated, {outcome.skipped} skipped, "
            f"{outcome.failed} failed"
        ),
    )
    db.session.flush()
    return outcome


def error_file(headers: list[str], rows: list[Row]) -> str:
    """The failed rows as they were, with the line they came from and why, as CSV: fix them
    in a spreadsheet and upload the file again (the extra columns are ignored)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["reason", "line", *headers])
    for row in rows:
        # Defused like every export: a cell starting with = would run in a spreadsheet.
        cells = [row.reason, row.line, *(row.raw.get(h, "") for h in headers)]
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()


# Undo ----------------------------------------------------------------------------------------

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
                count += db.session.scalar(
                    sa.select(sa.func.count())
                    .select_from(other)
                    .where(fk.parent.in_(ids[start : start + 5000]))
                )
            if count:
                found.append(records(count, other.name))
    # Tasks name their record by type and id, without a foreign key.

    tasks = sum(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Task)
            .where(Task.record_type == table_name, Task.record_id.in_(ids[start : start + 5000]))
        )
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


def undo(actor: Any, run: ImportRun) -> dict[str, int]:
    """Remove what the run created and put back what it updated. Refused, changing nothing,
    when records it created have since been used elsewhere. An updated field that someone
    changed again after the import keeps their change."""
    with paused_gc():
        return _undo(actor, run)


def _undo(actor: Any, run: ImportRun) -> dict[str, int]:
    if run.status is not RunStatus.DONE:
        raise OperationError(
            f"Only a finished import can be undone; this one is {run.status.label.lower()}."
        )
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
            trail.removed(actor, table_name, ids[start : start + 20_000], run.id, run.file_name)
        removed[table_name] = len(ids)
    run.status = RunStatus.UNDONE
    run.undone_at = utcnow()
    run.undone_by_id = getattr(actor, "id", None)
    summary = ", ".join(f"{records(n, t)} removed" for t, n in removed.items()) or "nothing created"
    audit.record(
        actor,
        AuditAction.UPDATE,
        "import_run",
        run.id,
        summary=f"Undid the import of {run.file_name}: {summary}; "
        f"{counted(len(updated), 'record')} restored"
        + (f" ({counted(kept, 'later edit')} kept)" if kept else ""),
    )
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
    batches: dict[tuple[str, ...], list[dict]] = {}
    untag: list[dict] = []
    entries: list[tuple[int, dict]] = []
    for record_id, before in records:
        columns = [c for c in before if c in table.c and not c.startswith("_")]
        held = current.get(record_id)  # the record's values now
        if columns and held is None:
            continue  # deleted since
        restore, changes = {}, {}
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
            batches.setdefault(tuple(sorted(restore)), []).append(
                {"_id": record_id, **{f"p_{c}": v for c, v in restore.items()}}
            )
        added = before.get("_added_tags", [])
        if added:
            untag.extend({"_record": record_id, "_tag": tag_id} for tag_id in added)
            had = tags_now.get((table_name, record_id), [])
            left = [name for tag_id, name in had if tag_id not in added]
            if len(left) != len(had):
                changes["tags"] = [", ".join(n for _, n in had), ", ".join(left)]
        if changes:
            entries.append((record_id, changes))
    for columns, params in batches.items():
        values: dict[str, Any] = {c: sa.bindparam(f"p_{c}") for c in columns}
        if "version" in table.c:
            values["version"] = table.c.version + 1
        db.session.connection().execute(
            sa.update(table).where(table.c.id == sa.bindparam("_id")).values(values), params
        )
    if untag:
        link = db.metadata.tables[f"{table_name}_tag"]
        db.session.connection().execute(
            sa.delete(link).where(
                link.c[f"{table_name}_id"] == sa.bindparam("_record"),
                link.c.tag_id == sa.bindparam("_tag"),
            ),
            untag,
        )
    trail.changed(actor, table_name, entries, trail.RESTORED, run.id, run.file_name)
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
