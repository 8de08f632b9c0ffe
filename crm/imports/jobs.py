"""Large imports run in a thread of the web process, so the page can show their progress.

The thread does what a request would: one transaction, committed at the end or rolled back on
any error, after which the run is marked failed with the reason (nothing was imported).
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app

from crm.auth.models import User
from crm.core.errors import OperationError
from crm.extensions import db
from crm.imports import operations
from crm.imports.models import ImportRun, RunStatus

log = logging.getLogger(__name__)


def run_in_background(run: ImportRun, actor: User | None) -> threading.Thread:
    """Mark the run queued (committed) and start it in a thread."""
    operations.ready(run)
    run_id, actor_id = run.id, getattr(actor, "id", None)  # read before the commit expires them
    run.status = RunStatus.QUEUED
    db.session.commit()
    app = current_app._get_current_object()
    thread = threading.Thread(
        target=_work, args=(app, run_id, actor_id), daemon=True, name=f"import-{run_id}"
    )
    thread.start()
    return thread


def _work(app: Flask, run_id: int, actor_id: int | None) -> None:
    with app.app_context():
        try:
            run = db.session.get(ImportRun, run_id)
            stored_name = run.stored_name
            actor = db.session.get(User, actor_id) if actor_id else None
            operations.write_progress(run, 0, run.total_rows)
            operations.perform(
                actor, run, progress=lambda done, total: operations.write_progress(run, done, total)
            )
            db.session.commit()
            operations.forget_upload(stored_name)
        except Exception as error:  # noqa: BLE001 - any failure: roll back and say so
            db.session.rollback()
            if not isinstance(error, OperationError):
                log.exception("Import %s failed", run_id)
            mark_failed(run_id, error)
        finally:
            db.session.remove()


def mark_failed(run_id: int, error: Exception) -> None:
    from crm.core.db import utcnow

    run = db.session.get(ImportRun, run_id)
    if run is None:
        return
    stored_name = run.stored_name
    run.status = RunStatus.FAILED
    run.finished_at = utcnow()
    run.message = (
        error.message
        if isinstance(error, OperationError)
        else "The import stopped on an unexpected error and was rolled back; nothing was imported."
    )
    db.session.commit()
    operations.forget_upload(stored_name)
