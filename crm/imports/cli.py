"""`flask crm import FILE --type contacts [--dry-run]`: the web import, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from crm.extensions import db
from crm.imports.models import ExistingPolicy, RecordType

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
    """Import a CSV or XLSX file (looked for in imports/ when not found where you are)."""
    from crm.auth.models import User
    from crm.core.errors import OperationError
    from crm.imports import operations
    from crm.imports.engine import error_file
    from crm.imports.fields import check_mapping
    from crm.imports.models import SavedMapping

    path = _find(file)
    actor = None
    if user_email:
        actor = db.session.scalar(sa.select(User).where(User.email == user_email.lower()))
        if actor is None:
            raise click.ClickException(f"No user {user_email}.")
    try:
        run = operations.start_run(actor, record_type, path.name, path)
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
        mapped = ", ".join(f"{h} → {k}" for h, k in run.mapping.items())
        click.echo(f"{path.name}: {run.total_rows:,} rows. Columns: {mapped or 'none recognized'}")
        check_mapping(run.mapping, run.headers, operations.spec_for(record_type))
        run.dry_run = dry_run
        with click.progressbar(length=run.total_rows, label="Importing", file=sys.stderr) as bar:
            state = {"done": 0}

            def advance(done: int, total: int) -> None:
                bar.update(done - state["done"])
                state["done"] = done

            outcome = operations.perform(actor, run, progress=advance)
    except OperationError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    headers = list(run.headers)
    summary = (
        f"{outcome.created:,} created, {outcome.updated:,} updated, "
        f"{outcome.skipped:,} skipped, {outcome.failed:,} failed"
    )
    extra = ", ".join(
        f"{n:,} {what.removesuffix('s') if n == 1 else what}"
        for what, n in run.extra_created.items()
    )
    if extra:
        summary += f" (also created: {extra})"
    if dry_run:
        stored = operations.stored_path(run)
        db.session.rollback()
        stored.unlink(missing_ok=True)  # no run is kept, so neither is its copy of the file
        click.echo(f"Dry run, nothing changed: {summary}.")
    else:
        run_id, stored_name = run.id, run.stored_name
        db.session.commit()
        operations.forget_upload(stored_name)
        click.echo(f"Import #{run_id} done: {summary}.")
    if outcome.failed:
        errors = Path(current_app.config["INSTANCE_DIR"]) / "imports" / f"errors-{path.stem}.csv"
        errors.write_text(error_file(headers, outcome.failed_rows), encoding="utf-8")
        click.echo(f"The failed rows, with the reason for each: {errors}")
