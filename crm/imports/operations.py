"""Import runs: upload, map, preview, run (now, or as a job for a large file), undo. Shared by
the web pages, the worker and `flask crm import`. Operations flush; the caller commits once, or
rolls back. Where an upload's bytes are kept is `crm.imports.uploads`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.validation import clean_choice
from crm.extensions import db
from crm.imports import running
from crm.imports.column_mapping import Spec, auto_map, check_mapping
from crm.imports.importers.base import Context
from crm.imports.models import (
    ExistingPolicy,
    ImportRun,
    ImportUpload,
    RecordType,
    RunStatus,
    SavedMapping,
)
from crm.imports.phrases import counted, listed, megabytes, records
from crm.imports.rows import Row
from crm.imports.table_reader import TableReader
from crm.imports.undo import Undone, half_written, take_back, undo_run
from crm.imports.uploads import (
    cached_upload,
    forget_stale_drafts,
    forget_upload,
    sweep_cache,
    upload_dir,
)


def spec_for(record_type: RecordType | str) -> Spec:
    return running.IMPORTERS[RecordType(record_type).value].spec


def _reader(path: Path, file_name: str) -> TableReader:
    config = current_app.config
    return TableReader(
        path,
        file_name,
        max_rows=config["IMPORT_MAX_ROWS"],
        max_unpacked=config["IMPORT_MAX_UNPACKED_BYTES"],
    )


def reader_for(run: ImportRun) -> TableReader:
    return _reader(cached_upload(run), run.file_name)


def start_run(
    actor: Any, record_type: RecordType | str, file_name: str, data: bytes | Path
) -> ImportRun:
    """Keep the upload and describe it; refuse a file that cannot be imported, up front.

    `data` as bytes (a web upload) is kept in the database too, for whichever worker imports
    it; a file on disk (the command line) is copied to this machine's cache only."""
    actor_id = getattr(actor, "id", None)
    record_type = clean_choice(RecordType, record_type, "something we import")
    file_name = os.path.basename((file_name or "").replace("\\", "/")).strip() or "upload.csv"
    limit = current_app.config["IMPORT_MAX_BYTES"]
    size = data.stat().st_size if isinstance(data, Path) else len(data)
    if size > limit:
        raise OperationError(
            f"“{file_name}” is {size / (1024 * 1024):.1f} MB; the most one import takes is "
            f"{megabytes(limit)}. Split it into smaller files."
        )
    if not size:
        raise OperationError(f"“{file_name}” is empty.")
    stored_name = f"{uuid.uuid4().hex}.upload"
    path = upload_dir() / stored_name
    if isinstance(data, Path):
        shutil.copyfile(data, path)
    else:
        path.write_bytes(data)
    try:
        reader = _reader(path, file_name)
        total = reader.count_rows()
        if total == 0:
            raise OperationError(f"“{file_name}” has a header row but no rows to import.")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    # Only now the database: from the command line this takes SQLite's write lock, which
    # copying and counting a large file would hold for a second or two.
    forget_stale_drafts()
    sweep_cache()
    info = reader.info
    if not isinstance(data, Path):
        db.session.add(ImportUpload(stored_name=stored_name, data=data))
    run = ImportRun(
        record_type=record_type,
        file_name=file_name[:255],
        stored_name=stored_name,
        file_format=info.file_format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        headers=info.headers,
        total_rows=total,
        mapping=auto_map(info.headers, spec_for(record_type)),
        created_by_id=actor_id,
    )
    db.session.add(run)
    db.session.flush()
    return run


def set_mapping(run: ImportRun, mapping: dict[str, str], policy: ExistingPolicy | str) -> None:
    _editable(run)
    run.policy = clean_choice(ExistingPolicy, policy, "a choice for existing records")
    # Kept even when incomplete, so the page shows what the user chose; checked on import.
    known = set(spec_for(run.record_type).keys)
    run.mapping = {h: k for h, k in mapping.items() if h in run.headers and k in known}
    db.session.flush()


def save_mapping(actor: Any, run: ImportRun, name: str) -> SavedMapping:
    name = " ".join((name or "").split())
    if not name:
        raise OperationError("Give the mapping a name to save it.", field="mapping_name")
    if len(name) > 100:
        raise OperationError("The mapping name is too long (at most 100 characters).")
    saved = db.session.scalar(
        sa.select(SavedMapping).where(
            SavedMapping.record_type == run.record_type, SavedMapping.name == name
        )
    )
    if saved is None:
        saved = SavedMapping(
            name=name, record_type=run.record_type, created_by_id=getattr(actor, "id", None)
        )
        db.session.add(saved)
    saved.mapping = dict(run.mapping)
    db.session.flush()
    return saved


def apply_saved_mapping(run: ImportRun, saved: SavedMapping) -> None:
    _editable(run)
    if saved.record_type != run.record_type:
        raise OperationError("That mapping is for another kind of record.")
    run.mapping = {h: k for h, k in saved.mapping.items() if h in run.headers}
    db.session.flush()


def _editable(run: ImportRun) -> None:
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        raise OperationError("This import has started; its columns and choices cannot change now.")
    if run.status is not RunStatus.DRAFT:
        raise OperationError(
            "This import has ended; upload the file again to import it with other choices."
        )


def context(actor: Any, run: ImportRun) -> Context:
    return Context(
        actor=actor,
        policy=run.policy,
        file_name=run.file_name,
        run_id=run.id,
        fuzzy_threshold=current_app.config["IMPORT_FUZZY_THRESHOLD"],
    )


PREVIEW_ROWS = 20  # rows shown in the preview
PREVIEW_LOCK_WAIT_MS = 3000  # how long a preview waits for rows another import is writing
PREVIEW_SECONDS = 1.0  # how long a preview goes on counting rows, after the ones it shows


def check(
    actor: Any, run: ImportRun, *, limit: int = PREVIEW_ROWS, write: bool = True
) -> running.Preview:
    """The first rows checked as the import would check them, and what the import would do
    with each row of a file small enough to import while the page waits, as far as a second
    goes (the others are checked as they import).

    The rows are written, as the import would write them, inside a savepoint rolled back at
    the end, so the preview says what the import will do (an update with nothing to fill is
    skipped, an operation refuses a row) and nothing is kept. When another import holds the
    records it would write, the rows are only checked, rather than wait for it. Without
    `write` (a mapping that cannot import), the first rows are only checked."""
    if not write:
        return running.preview(run, reader_for(run), context(actor, run), limit, write=False)
    most = current_app.config["IMPORT_BACKGROUND_ROWS"]
    count = most if run.total_rows <= most else 0
    savepoint = db.session.begin_nested()
    try:
        with _waiting_at_most(PREVIEW_LOCK_WAIT_MS):
            return running.preview(
                run, reader_for(run), context(actor, run), limit, count, seconds=PREVIEW_SECONDS
            )
    except sa.exc.OperationalError:
        pass  # locked: checked without writing, below
    finally:
        savepoint.rollback()
    return running.preview(
        run, reader_for(run), context(actor, run), limit, count, write=False,
        seconds=PREVIEW_SECONDS,
    )  # fmt: skip


@contextmanager
def _waiting_at_most(milliseconds: int) -> Iterator[None]:
    """Lock waits of the session's transaction cut to `milliseconds`: PostgreSQL's for the rest
    of the savepoint it is in, SQLite's (the connection's) until the block ends."""
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(sa.text(f"SET LOCAL lock_timeout = {int(milliseconds)}"))
        yield
        return
    connection = db.session.connection()
    before = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(before)}")


def preview(actor: Any, run: ImportRun, limit: int = PREVIEW_ROWS) -> list[Row]:
    """The first rows checked as the import would check them; nothing is written."""
    return check(actor, run, limit=limit).rows


def ready(run: ImportRun) -> None:
    """Refuse to run an import that cannot run: wrong state or an incomplete mapping."""
    if run.status is RunStatus.RUNNING:
        raise OperationError("This import is already running; it runs once.")
    if run.status not in (RunStatus.DRAFT, RunStatus.QUEUED):
        raise OperationError("This file was already imported; each upload is imported once.")
    check_mapping(run.mapping, run.headers, spec_for(run.record_type))


def perform(
    actor: Any, run: ImportRun, *, progress: running.Progress | None = None
) -> running.Outcome:
    """Import the whole file. The caller commits, or rolls back for a dry run."""
    ready(run)
    run.status = RunStatus.RUNNING
    run.started_at = run.started_at or utcnow()
    return running.execute(run, reader_for(run), context(actor, run), progress=progress)


def plan(actor: Any, run: ImportRun, *, progress: running.Progress | None = None) -> running.Plan:
    """Read, validate and match the whole file; nothing is written (a transaction that only
    reads will do: `crm.imports.staged`)."""
    if run.status is not RunStatus.RUNNING:
        ready(run)
    check_mapping(run.mapping, run.headers, spec_for(run.record_type))
    return running.plan(run, reader_for(run), context(actor, run), progress=progress)


def write_planned(
    run: ImportRun, planned: running.Plan, *, progress: running.Progress | None = None
) -> running.Outcome:
    """Write what `plan` found and let the upload go with the same commit. The caller commits,
    or rolls back for a dry run."""
    run.status = RunStatus.RUNNING
    run.started_at = run.started_at or utcnow()
    outcome = running.write(run, planned, progress=progress)
    forget_upload(run.stored_name)
    return outcome


def finish_planned(
    run: ImportRun, planned: running.Plan, *, progress: running.Progress | None = None
) -> running.Outcome:
    """Mark done a run whose rows are all written (`crm.imports.staged.write_in_steps`) and let
    the upload go with the same commit. The caller commits."""
    outcome = running.finish(run, planned, progress=progress)
    forget_upload(run.stored_name)
    return outcome


def import_now(
    actor: Any, run: ImportRun, *, progress: running.Progress | None = None
) -> running.Outcome:
    """Import the whole file and let its upload go with the same commit (a small file on the
    page, or a job)."""
    outcome = perform(actor, run, progress=progress)
    forget_upload(run.stored_name)
    return outcome


def fail(run: ImportRun, message: str, actor: Any = None) -> None:
    """The run ends without importing anything, saying why; its upload goes. What it had
    written already (a large file is written on SQLite part after part) is taken back first,
    in the same transaction; should others have used those records since, they are kept and
    the run's message says so."""
    if half_written(run):
        try:
            with db.session.begin_nested():
                taken = take_back(actor, run)
        except OperationError as refused:
            message = f"{message} What it had written so far was kept: {refused.message}"
        else:
            done = [f"{records(n, table)} removed" for table, n in taken["by_table"].items()]
            if taken["restored"]:
                done.append(f"{counted(taken['restored'], 'record')} put back")
            if done:
                message = f"{message} What it had written so far was taken back: {listed(done)}."
    run.status = RunStatus.FAILED
    run.finished_at = utcnow()
    run.message = message
    forget_upload(run.stored_name)
    db.session.flush()


NOT_UNDOABLE = {
    RunStatus.UNDONE: "This import was already undone.",
    RunStatus.FAILED: "This import failed, so nothing was imported and there is nothing to undo.",
    RunStatus.DRAFT: "This file has not been imported yet, so there is nothing to undo.",
    RunStatus.QUEUED: "This import has not started yet; it can be undone once it has finished.",
    RunStatus.RUNNING: "This import is still running; it can be undone once it has finished.",
}


def undo(actor: Any, run: ImportRun) -> Undone:
    if run.status in NOT_UNDOABLE:
        raise OperationError(NOT_UNDOABLE[run.status])
    return undo_run(actor, run)


def discard(run: ImportRun) -> None:
    """Forget an upload that was never imported."""
    _editable(run)
    forget_upload(run.stored_name)
    db.session.delete(run)
    db.session.flush()
