"""`flask crm import FILE --type contacts [--dry-run]`: the web import, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from crm.auth.models import User
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.write_lock import is_locked
from crm.extensions import db
from crm.imports import operations, staged, uploads
from crm.imports.column_mapping import check_mapping, not_kept
from crm.imports.jobs import CRASHED, FAIL_TRIES
from crm.imports.models import ExistingPolicy, ImportRun, RecordType, RunStatus, SavedMapping
from crm.imports.phrases import counted, listed, singular
from crm.imports.running import Outcome, Progress, error_file

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "imports"


def _find(path_text: str) -> Path:
    """FILE as given, or else in the imports/ folder."""
    path = Path(path_text)
    if path.exists():
        return path
    fallback = DEFAULT_FOLDER / path_text
    if fallback.exists():
        return fallback
    raise click.ClickException(f"No file {path_text} (looked here and in {DEFAULT_FOLDER}).")


# Fields a file can do without but should rarely: what is lost without them.
IMPORTANT = {
    "contacts": {
        "email": "the contacts get no email address, and no row can be matched to a contact "
        "you have by email",
    },
    "participants": {
        "email": "no row can be matched to a contact you have by email",
    },
}


def _say_columns(
    file_name: str, total: int, headers: list[str], mapping: dict[str, str], spec, record_type: str
) -> None:
    """Which column is read as which field (by the labels the import page shows), which are
    left out, and a warning when an important field has no column."""
    click.echo(f"{file_name}: {counted(total, 'row')}.")
    read = [f"{h} → {spec.get(k).label}" for h, k in mapping.items() if spec.get(k)]
    click.echo(f"Columns read: {', '.join(read) if read else 'none recognized'}.")
    left = [h or "(no header)" for h in headers if h not in mapping]
    if left:
        click.echo(f"Left out: {', '.join(left)}.")
        for header in left:
            if why := not_kept(header):
                click.echo(f"  {header}: {why}")
    mapped = set(mapping.values())
    for key, loss in IMPORTANT.get(record_type, {}).items():
        if key not in mapped and spec.get(key):
            label = spec.get(key).label
            click.echo(
                f"Warning: no column is read as {label}, so {loss}. If the file has one, "
                f"name its header “{label}” or use a saved mapping (--mapping)."
            )


@click.command("import")
@click.argument("file")
@click.option(
    "--type",
    "record_type",
    required=True,
    type=click.Choice([t.value for t in RecordType]),
    help="What the rows are.",
)
@click.option(
    "--existing",
    type=click.Choice([p.value for p in ExistingPolicy]),
    default="skip",
    show_default=True,
    help="What to do with rows that match a record we have.",
)
@click.option("--mapping", "mapping_name", help="A column mapping saved on the import page.")
@click.option("--user", "user_email", help="The account the import is recorded under.")
@click.option("--dry-run", is_flag=True, help="Check and count everything, then change nothing.")
@with_appcontext
def import_command(
    file: str, record_type: str, existing: str, mapping_name: str | None,
    user_email: str | None, dry_run: bool,
) -> None:  # fmt: skip
    """Import a CSV or XLSX file (looked for in imports/ when not found where you are).

    The run is recorded (running); the file is checked without SQLite's write lock; the rows
    are written in short transactions holding it (`crm.imports.staged`). Whatever stops the
    import after the first marks the run failed, with the reason, and takes back what it
    had written."""
    path = _find(file)
    actor = None
    if user_email:
        actor = db.session.scalar(sa.select(User).where(User.email == user_email.lower()))
        if actor is None:
            raise click.ClickException(f"No user {user_email}.")
    actor_id = actor.id if actor else None
    stored_name = None
    try:
        run = operations.start_run(actor, record_type, path.name, path)
        stored_name = run.stored_name
        if mapping_name:
            saved = db.session.scalar(
                sa.select(SavedMapping).where(
                    SavedMapping.record_type == record_type, SavedMapping.name == mapping_name
                )
            )
            if saved is None:
                raise OperationError(f"No saved {record_type} mapping named “{mapping_name}”.")
            operations.apply_saved_mapping(run, saved)
        operations.set_mapping(run, run.mapping, existing)
        spec = operations.spec_for(record_type)
        _say_columns(path.name, run.total_rows, run.headers, run.mapping, spec, record_type)
        check_mapping(run.mapping, run.headers, spec)
        operations.ready(run)
        run.dry_run = dry_run
        run.status = RunStatus.RUNNING  # from here on it ends done or failed, never waits
        run.started_at = utcnow()
        db.session.commit()
    except OperationError as error:
        db.session.rollback()
        if stored_name:
            uploads.drop_cache(stored_name)  # no run is kept, so neither is its copy
        raise click.ClickException(error.message) from None
    run_id, total, headers = run.id, run.total_rows, list(run.headers)
    label = "Checking" if dry_run else "Importing"
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        state = {"done": 0}

        def advance(done: int, total: int) -> None:
            bar.update(done - state["done"])
            state["done"] = done

        outcome, extra_created = _check_then_write(run_id, actor_id, dry_run, advance)
    extra = listed([counted(n, singular(what), what) for what, n in extra_created.items() if n])
    if dry_run:
        summary = (
            f"would create {outcome.created:,}, update {outcome.updated:,}, "
            f"skip {outcome.skipped:,} and leave out {outcome.failed:,}"
        )
        if extra:
            summary += f"; it would also create {extra}"
        click.echo(f"Dry run, nothing changed. Of {counted(total, 'row')}, the import "
                   f"{summary}.")  # fmt: skip
    else:
        summary = (
            f"{outcome.created:,} created, {outcome.updated:,} updated, "
            f"{outcome.skipped:,} skipped, {outcome.failed:,} failed"
        )
        if extra:
            summary += f"; also created {extra}"
        click.echo(f"Import #{run_id} done: {summary}.")
    if outcome.failed:
        errors = Path(current_app.config["INSTANCE_DIR"]) / "imports" / f"errors-{path.stem}.csv"
        errors.write_text(error_file(headers, outcome.failed_rows), encoding="utf-8")
        rows = "The row left out" if outcome.failed == 1 else "The rows left out"
        click.echo(f"{rows}, with the reason for each: {errors}")


def _check_then_write(
    run_id: int, actor_id: int | None, dry_run: bool, progress: Progress
) -> tuple[Outcome, dict[str, int]]:
    """Check without the lock, write holding it, commit (a dry run: roll back and forget the
    run). Any failure marks the run failed with the reason and is told as a ClickException."""
    try:
        checked = staged.check_without_lock(actor_id, run_id, progress=progress)
        if staged.writes_in_steps() and not dry_run:
            outcome = staged.write_in_steps(checked, progress=progress)
        else:
            outcome = staged.write_with_lock(checked, progress=progress)
        extra_created = dict(checked.planned.importer.ctx.extra_created)
        if dry_run:
            db.session.rollback()
            _forget(run_id)
        else:
            db.session.commit()  # the copy of the file is deleted once this has committed
        return outcome, extra_created
    except OperationError as error:
        _failed(run_id, error.message)
        raise click.ClickException(error.message) from None
    except sa.exc.OperationalError as error:
        if not is_locked(error):
            _failed(run_id, CRASHED)
            raise
        seconds = current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        message = (
            f"The database stayed busy: another change held its write lock for more than "
            f"{seconds:g} seconds, so nothing was imported. Run the import again."
        )
        _failed(run_id, message)
        raise click.ClickException(message) from None
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt | SystemExit)
        _failed(run_id, STOPPED if interrupted else CRASHED)
        raise


STOPPED = "The import was stopped before it finished; nothing was imported."


def _failed(run_id: int, message: str) -> None:
    """The run marked failed with `message`, in a transaction of its own, tried a few times
    (each waits for SQLite's lock). Should even that fail, the run, which has no job, is
    failed by the housekeeping once it has run for longer than any import takes."""
    for attempt in range(1, FAIL_TRIES + 1):
        db.session.rollback()
        try:
            run = db.session.get(ImportRun, run_id)
            if run is not None and run.status is RunStatus.RUNNING:  # not ended by another
                operations.fail(run, message)
                db.session.commit()
            return
        except sa.exc.OperationalError:
            db.session.rollback()
            if attempt == FAIL_TRIES:
                raise


def _forget(run_id: int) -> None:
    """A dry run's run and its copy of the file, gone (as if never started)."""
    run = db.session.get(ImportRun, run_id)
    if run is not None:
        uploads.drop_cache(run.stored_name)
        db.session.delete(run)
        db.session.commit()
