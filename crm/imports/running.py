"""Running an import: read and check every row (`plan`), then write them (`write`).

The caller commits (or, for a dry run, rolls back) once at the end, so an import either
completes or changes nothing. `crm.imports.staged` runs the two steps in two transactions, so
SQLite's write lock is held only while the rows are written. Rows that fail a check do not stop
the run: they go to the error file, with the reason, to be fixed and uploaded again.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.core.bulk import insert_rows
from crm.core.db import utcnow
from crm.core.export import FORMULA_START, safe_cell
from crm.core.gc_pause import paused_gc
from crm.extensions import db
from crm.imports.importers.base import Context, Importer
from crm.imports.importers.contacts import ContactImporter
from crm.imports.importers.endorsements import EndorsementImporter
from crm.imports.importers.organizations import OrganizationImporter
from crm.imports.importers.participants import ParticipantImporter
from crm.imports.importers.pledges import PledgeImporter
from crm.imports.models import ImportItem, ImportRun, RunStatus
from crm.imports.rows import CREATE, FAIL, SKIP, UPDATE, Row
from crm.imports.table_reader import TableReader

CHUNK_ROWS = 5000  # rows read, checked and written at a time
Progress = Callable[[int, int], None]  # rows done, rows in all

# Which importer reads which record type (`RecordType` values).
IMPORTERS: dict[str, type[Importer]] = {
    "organizations": OrganizationImporter,
    "contacts": ContactImporter,
    "participants": ParticipantImporter,
    "endorsements": EndorsementImporter,
    "pledges": PledgeImporter,
}


def _importer_for(record_type: str, ctx: Context) -> Importer:
    return IMPORTERS[record_type](ctx)


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


@dataclass
class Plan:
    """A whole file read, validated and matched, nothing written yet: what `write` writes.
    A 100,000-row contacts file is about 250 MB of rows in memory (see benchmarks/)."""

    importer: Importer
    rows: list[Row]
    headers: list[str]


def execute(
    run: ImportRun,
    reader: TableReader,
    ctx: Context,
    *,
    progress: Progress | None = None,
) -> Outcome:
    """Import every row of the file into the session (flushed, never committed) and fill in
    the run: counts, error file, items for undo, status done. Checking and writing in one
    transaction: `plan` then `write` in two, for an import that must not hold SQLite's write
    lock while it checks (`crm.imports.staged`)."""
    return write(run, plan(run, reader, ctx, progress=progress), progress=progress)


def plan(
    run: ImportRun, reader: TableReader, ctx: Context, *, progress: Progress | None = None
) -> Plan:
    """Read, validate and match every row of the file: reads only, nothing is written."""
    importer = _importer_for(run.record_type, ctx)
    ctx.checked_at = utcnow()
    rows: list[Row] = []
    with paused_gc():
        for chunk in _chunks(_rows(reader, run.mapping), CHUNK_ROWS):
            importer.check(chunk)
            rows.extend(chunk)
            if progress:
                # Checking is the larger half of the work: shown as the first half.
                progress(len(rows) // 2, max(run.total_rows, len(rows)))
    return Plan(importer, rows, list(reader.info.headers))


def write(run: ImportRun, planned: Plan, *, progress: Progress | None = None) -> Outcome:
    """Write what `plan` found, after checking again what others may have changed since (a
    record created with an email the plan took for new, one deleted that a row updates)."""
    with paused_gc():
        return _write(run, planned, progress)


def _write(run: ImportRun, planned: Plan, progress: Progress | None) -> Outcome:
    importer, rows = planned.importer, planned.rows
    importer.recheck([r for r in rows if r.action != FAIL])
    writing = [r for r in rows if r.action in (CREATE, UPDATE)]
    total = max(run.total_rows, len(rows))
    for start in range(0, len(writing), CHUNK_ROWS):
        importer.write(writing[start : start + CHUNK_ROWS])
        if progress:
            done = min(start + CHUNK_ROWS, len(writing))
            progress(len(rows) // 2 + (len(rows) - len(rows) // 2) * done // len(writing), total)
    return finish(run, planned, progress=progress)


def write_part(importer: Importer, rows: list[Row], run_id: int) -> None:
    """One part of a checked file written in a transaction of its own (`crm.imports.staged`
    writes a large file on SQLite part after part): checked again against what others changed
    since the check or the part before, written, and its undo items written with it, so that
    whatever stops the import later can take back what the parts before it wrote."""
    importer.recheck([r for r in rows if r.action != FAIL])
    writing = [r for r in rows if r.action in (CREATE, UPDATE)]
    if writing:
        importer.write(writing)
    _write_items(importer.ctx, run_id)


def finish(run: ImportRun, planned: Plan, *, progress: Progress | None = None) -> Outcome:
    """The run filled in once every row is written: counts, error file, the undo items not
    written yet, its audit entry, status done (flushed, not committed)."""
    importer, rows = planned.importer, planned.rows
    total = max(run.total_rows, len(rows))
    outcome = Outcome()
    for row in rows:
        if row.action == CREATE:
            outcome.created += 1
        elif row.action == UPDATE:
            outcome.updated += 1
        elif row.action == SKIP:
            outcome.skipped += 1
        else:
            outcome.failed += 1
            outcome.failed_rows.append(row)
    if progress:
        progress(len(rows), total)
    ctx = importer.ctx
    _write_items(ctx, run.id)
    run.created_count = outcome.created
    run.updated_count = outcome.updated
    run.skipped_count = outcome.skipped
    run.failed_count = outcome.failed
    run.extra_created = dict(ctx.extra_created)
    run.review = ctx.review[:1000]
    run.error_file = error_file(planned.headers, outcome.failed_rows) if outcome.failed else None
    run.status = RunStatus.DONE
    run.finished_at = utcnow()
    run.total_rows = len(rows)
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


def _write_items(ctx: Context, run_id: int) -> None:
    """The undo items of what was written since the last call (each is written once)."""
    items = ctx.take_items(run_id)
    while batch := list(islice(items, 20_000)):
        insert_rows(ImportItem.__table__, batch)


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
