"""Where an upload's bytes are kept, and when they go.

A web upload's bytes are kept in the database (`ImportUpload`) until its run ends, so any
worker on any machine can import it; each machine reads them from a cache file under
`instance/imports/`, written again from the database when it is missing. The command line reads
its file on its own machine and keeps no copy in the database. The file holds personal data:
once its run has ended, or was never started, it goes.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from crm.core.after_commit import after_commit
from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.extensions import db
from crm.imports.models import ImportRun, ImportUpload, RunStatus


def upload_dir() -> Path:
    path = Path(current_app.config["INSTANCE_DIR"]) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_path(run: ImportRun) -> Path:
    return upload_dir() / run.stored_name


def cached_upload(run: ImportRun) -> Path:
    """The run's file on this machine: the cache, written again from the database if missing
    (another machine took the upload, or the cache was cleaned)."""
    path = stored_path(run)
    if path.exists():
        return path
    data = db.session.scalar(
        sa.select(ImportUpload.data).where(ImportUpload.stored_name == run.stored_name)
    )
    if data is None:
        raise OperationError("The uploaded file is no longer on the server; upload it again.")
    # Written aside and renamed, so a process reading the cache never sees half a file.
    temp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
    return path


def forget_upload(stored_name: str) -> None:
    """The run has ended (or was never kept): its bytes leave the database with this
    transaction, and this machine's cache once it commits. A rolled-back transaction keeps both,
    so the run can still be read. The file holds personal data and nothing needs it any more
    (the failed rows are kept in the run)."""
    db.session.execute(sa.delete(ImportUpload).where(ImportUpload.stored_name == stored_name))
    after_commit(lambda: drop_cache(stored_name))


def drop_cache(stored_name: str) -> None:
    """Delete this machine's copy of an upload now."""
    (upload_dir() / stored_name).unlink(missing_ok=True)


def forget_stale_drafts(days: int = 7) -> int:
    """Uploads left at the mapping step for a week are dropped, file and all."""
    cutoff = utcnow() - timedelta(days=days)
    stale = db.session.scalars(
        sa.select(ImportRun).where(
            ImportRun.status == RunStatus.DRAFT, ImportRun.created_at < cutoff
        )
    ).all()
    for run in stale:
        forget_upload(run.stored_name)
        db.session.delete(run)
    db.session.flush()
    return len(stale)


LIVE = (RunStatus.DRAFT, RunStatus.QUEUED, RunStatus.RUNNING)  # runs that still read their file


CACHE_GRACE = timedelta(days=1)  # an unknown cache file may be a command-line import under way


def forget_ended_uploads() -> int:
    """Bytes kept for a run that has ended or is gone (a run ended by a path that could not
    delete them): deleted. Returns how many."""
    live = sa.select(ImportRun.stored_name).where(ImportRun.status.in_(LIVE))
    gone = rows_touched(
        db.session.execute(sa.delete(ImportUpload).where(ImportUpload.stored_name.not_in(live)))
    )
    db.session.flush()
    return gone


def sweep_cache() -> int:
    """Delete this machine's cached uploads of runs that have ended: the worker that ran a run
    deletes its own machine's copy, this deletes the copies other machines (a web server that
    took the upload) kept. A file whose run is unknown is left a day: the command line's run is
    not committed until its import is. Returns how many files went."""
    folder = upload_dir()
    files = {path.name: path for path in folder.glob("*.upload")}
    # Left by earlier versions (progress beside the upload) or by a process that died mid-write.
    leftovers = [*folder.glob("*.upload.progress"), *folder.glob("*.upload.*.tmp")]
    if not files and not leftovers:
        return 0
    known = dict(
        db.session.execute(
            sa.select(ImportRun.stored_name, ImportRun.status).where(
                ImportRun.stored_name.in_(list(files))
            )
        ).all()
    )
    old = time.time() - CACHE_GRACE.total_seconds()
    gone = 0
    for name, path in files.items():
        if known.get(name) in LIVE:
            continue
        try:
            if name in known or path.stat().st_mtime < old:
                path.unlink(missing_ok=True)
                gone += 1
        except OSError:
            continue
    for path in leftovers:
        try:
            if path.suffix == ".progress" or path.stat().st_mtime < old:
                path.unlink(missing_ok=True)
                gone += 1
        except OSError:
            continue
    return gone
