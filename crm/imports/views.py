"""Import pages: upload → map columns → preview → import → the run, its errors and undo."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup, escape

from crm.audit import display as audit_display
from crm.core.access import Permission, has_permission, requires
from crm.core.errors import OperationError
from crm.core.unit_of_work import attempt, attempt_flashed, discard_changes
from crm.extensions import db
from crm.imports import audit_trail, jobs, operations, queries
from crm.imports.column_mapping import Spec, check_mapping, missing_message, not_kept
from crm.imports.models import ExistingPolicy, ImportRun, RecordType, RunStatus, SavedMapping
from crm.imports.phrases import counted, listed, megabytes, records
from crm.imports.rows import CREATE, FAIL, SKIP, UPDATE, Row
from crm.imports.running import Preview
from crm.imports.undo import Undone

bp = Blueprint("imports", __name__, url_prefix="/imports")


@audit_display.summary_link
def _link_run(entry) -> Markup | None:
    """An import named in a record's history ("Import #12 (file.csv)") links to its run, for
    those who may open imports. Registered with the trail, which sits below this domain."""
    text = entry.summary or ""
    found = (
        audit_trail.RUN_IN_SUMMARY.match(text) if entry.object_type in audit_trail.AUDITED else None
    )
    if not (found and has_permission(current_user, Permission.IMPORTS)):
        return None
    link = Markup('<a href="{}">{}</a>').format(
        url_for("imports.show", run_id=int(found["id"])), found["run"]
    )
    return escape(found["before"] or "") + link + escape(found["after"])


TEMPLATE_FOLDER = Path(__file__).resolve().parents[2] / "imports"


@bp.errorhandler(413)
def too_large(error):
    """An upload over the web limit: the limit, what to do instead, and the way back."""
    limit = megabytes(current_app.config["MAX_CONTENT_LENGTH"])
    cli_limit = megabytes(current_app.config["IMPORT_MAX_BYTES"])
    message = (
        f"The file is larger than the {limit} an upload can be, so nothing was imported. "
        "Split it into smaller files and upload each, or import it from the command line "
        f"(flask crm import), which takes files up to {cli_limit}."
    )
    return render_template(
        "errors/error.html",
        code=413,
        title="File too large",
        message=message,
        back_url=url_for("imports.index"),
        back_label="Back to Imports",
    ), 413


def _run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/")
@requires(Permission.IMPORTS)
def index():
    runs = queries.latest_runs()
    return render_template(
        "imports/index.html",
        runs=runs,
        shown=queries.shown_statuses(runs),
        record_types=list(RecordType),
        max_size=megabytes(current_app.config["MAX_CONTENT_LENGTH"]),
    )


@bp.route("/upload", methods=["POST"])
@requires(Permission.IMPORTS)
def upload():
    upload = request.files.get("file")
    record_type = request.form.get("record_type", "")
    if upload is None or not upload.filename:
        flash("Choose a CSV or Excel file to upload.", "danger")
        return redirect(url_for("imports.index"))
    done = attempt_flashed(
        lambda: operations.start_run(current_user, record_type, upload.filename, upload.read()),
        refused="{} Nothing was imported.",
    )
    if not done.ok:
        return redirect(url_for("imports.index"))
    return redirect(url_for("imports.mapping", run_id=done.value.id))


@bp.route("/<int:run_id>/mapping", methods=["GET", "POST"])
@requires(Permission.IMPORTS)
def mapping(run_id: int):
    run = _run(run_id)
    if run.status is not RunStatus.DRAFT:
        return redirect(url_for("imports.show", run_id=run.id))
    spec = operations.spec_for(run.record_type)
    if request.method == "POST":

        def change() -> ResponseReturnValue:
            if request.form.get("action") == "apply_saved":
                saved = db.session.get(SavedMapping, request.form.get("saved_id", type=int) or 0)
                if saved is None:
                    raise OperationError("Choose a saved mapping to apply.")
                missing = [h for h in saved.mapping if h not in run.headers]
                if missing and len(missing) == len(saved.mapping):
                    names = ", ".join(list(saved.mapping)[:5]) + (", …" if len(missing) > 5 else "")
                    raise OperationError(
                        f"None of the columns the mapping “{saved.name}” reads ({names}) "
                        "are in this file, so it was not applied; the columns are as they were."
                    )
                operations.apply_saved_mapping(run, saved)
                if missing:
                    flash(
                        f"Applied the mapping “{saved.name}”, but this file has no "
                        f"{'column' if len(missing) == 1 else 'columns'} "
                        f"{', '.join('“' + h + '”' for h in missing)}; check the columns below.",
                        "warning",
                    )
                else:
                    flash(f"Applied the mapping “{saved.name}”.", "success")
                return redirect(url_for("imports.mapping", run_id=run.id, applied=saved.id))
            chosen = {
                header: request.form.get(f"col-{index}", "")
                for index, header in enumerate(run.headers)
            }
            operations.set_mapping(
                run, {h: k for h, k in chosen.items() if k}, request.form.get("policy", "skip")
            )
            if request.form.get("mapping_name", "").strip():
                saved = operations.save_mapping(current_user, run, request.form["mapping_name"])
                flash(f"Saved the mapping as “{saved.name}”.", "success")
            return redirect(url_for("imports.preview", run_id=run.id))

        done = attempt_flashed(change)
        if not done.ok:
            return redirect(url_for("imports.mapping", run_id=run.id))
        return done.value
    reader = operations.reader_for(run)
    saved = db.session.scalars(
        sa.select(SavedMapping)
        .where(SavedMapping.record_type == run.record_type)
        .order_by(SavedMapping.name)
    ).all()
    missing = spec.missing(run.mapping)
    return render_template(
        "imports/mapping.html",
        run=run,
        spec=spec,
        required=[
            (spec.label_of(group), next((h for h, k in run.mapping.items() if k in group), None))
            for group in spec.required
        ],
        required_keys=sorted({key for group in spec.required for key in group}),
        missing=missing_message(missing) if missing else None,
        not_kept={h: why for h in run.headers if (why := not_kept(h))},
        sample=reader.info.sample,
        info=reader.info,
        sheet_is_first=reader.sheet_index == 0,
        saved=saved,
        applied_id=request.args.get("applied", type=int),
        policies=list(ExistingPolicy),
    )


@bp.route("/<int:run_id>/preview")
@requires(Permission.IMPORTS)
def preview(run_id: int):
    run = _run(run_id)
    if run.status is not RunStatus.DRAFT:
        return redirect(url_for("imports.show", run_id=run.id))
    spec = operations.spec_for(run.record_type)
    problem = None
    try:
        check_mapping(run.mapping, run.headers, spec)
    except OperationError as error:
        problem = error.message
    result = None
    try:
        result = operations.check(current_user, run, write=problem is None)
    except OperationError as error:
        problem = problem or error.message
    finally:
        discard_changes()  # a preview never writes
    columns = [(h, run.mapping.get(h)) for h in run.headers]
    return render_template(
        "imports/preview.html",
        run=run,
        spec=spec,
        rows=result.rows if result else [],
        details={row.line: _row_detail(row, spec, run.policy, result.tried) for row in result.rows}
        if result
        else {},
        result=result,
        summary=_preview_summary(result, run.total_rows) if result and not problem else [],
        columns=columns,
        problem=problem,
        background=run.total_rows > current_app.config["IMPORT_BACKGROUND_ROWS"],
    )


NOTHING_TO_CHANGE = "; nothing to change"  # how an importer notes an update it skipped


def _row_detail(row: Row, spec: Spec, policy: ExistingPolicy, tried: bool) -> str:
    """What the preview says under a row's badge (its problems are said on their cells)."""
    note = row.note
    if row.action == UPDATE and row.changes:
        verb = "will fill in" if policy is ExistingPolicy.FILL else "will change"
        return f"{note}; {verb} {listed(_field_names(row.changes, spec))}".removeprefix("; ")
    if row.action == UPDATE and tried and row.cleaned.get("tags"):
        return f"{note}; will add tags".removeprefix("; ")
    if row.action == SKIP and note.endswith(NOTHING_TO_CHANGE):
        why = (
            "the record has no empty field the file can fill"
            if policy is ExistingPolicy.FILL
            else "the record already has the file's values"
        )
        return f"{note.removesuffix(NOTHING_TO_CHANGE)}; {why}"
    return note


def _field_names(changes: dict, spec: Spec) -> list[str]:
    """The fields an update changes, by their names in the mapping: {"organization_id": …,
    "_added_tags": …} -> ["organization", "tags"]."""
    names: list[str] = []
    for column in changes:
        key = {"_added_tags": "tags", "consent_status": "consent"}.get(
            column, column.removesuffix("_id")
        )
        found = spec.get(key)
        name = (found.label if found else key.replace("_", " ")).lower()
        if name not in names:
            names.append(name)
    return names


def _preview_summary(result: Preview, total: int) -> list[str]:
    """What the import will do with the rows checked, in two or three sentences."""
    shown, checked, counts = len(result.rows), result.checked, result.counts
    what = [
        (counts[CREATE], "added"),
        (counts[UPDATE], "updated"),
        (counts[SKIP], "left unchanged"),
        (counts[FAIL], "left out"),
    ]
    what = [(n, verb) for n, verb in what if n]
    parts = [f"{n:,} {verb}" for n, verb in what]
    parts[0] = parts[0].replace(" ", " will be ", 1)
    everything = len(what) == 1  # every row checked does the same
    if result.complete and total == 1:
        sentences = [
            "The file's only row is below, checked exactly as the import will check it: "
            f"it will be {what[0][1]}."
        ]
    elif result.complete and shown == total:
        every, rows = ("both", "Both rows") if total == 2 else ("all", f"All {total:,} rows")
        outcome = f"{every} will be {what[0][1]}" if everything else listed(parts)
        sentences = [f"{rows} are below, checked exactly as the import will check them: {outcome}."]
    else:
        scope = (
            f"The first {shown:,} of {total:,} rows are below, checked exactly as the import "
            "will check them."
        )
        if result.complete:
            of = f"Of the file's {checked:,} rows"
            outcome = f"All {checked:,} will be {what[0][1]}." if everything else ""
        else:
            of = f"Of the first {checked:,}"
            outcome = f"All of the first {checked:,} will be {what[0][1]}." if everything else ""
        outcome = outcome or f"{of}, {listed(parts)}."
        if not result.complete:
            rest = total - checked
            outcome += (
                f" The other {counted(rest, 'row')} {'is' if rest == 1 else 'are'} checked "
                "the same way as the import reads them."
            )
        sentences = [scope, outcome]
    if not result.tried:
        sentences.append(
            "Another import is writing some of the same records right now, so these rows were "
            "checked but not tried: a row shown as an update may turn out to be unchanged."
        )
    failed = counts[FAIL]
    if failed:
        below = sum(1 for row in result.rows if row.action == FAIL)
        if failed == 1:
            among = "" if below else " (not among those below)"
            sentences.append(
                f"The row left out has a problem{among}: it will be listed in an error file "
                "that you can fix and upload again."
            )
        else:
            among = "" if below == failed else f" ({below:,} of them below)"
            sentences.append(
                f"The {failed:,} rows left out have problems{among}: they will be listed in an "
                "error file that you can fix and upload again."
            )
    return sentences


@bp.route("/<int:run_id>/run", methods=["POST"])
@requires(Permission.IMPORTS)
def start(run_id: int):
    """A small file is imported while the page waits (as fast as its preview); a larger one is
    queued for a worker, and the run's page follows it."""
    run = _run(run_id)
    if run.status is not RunStatus.DRAFT:
        flash("This file was already imported; each upload is imported once.", "warning")
        return redirect(url_for("imports.show", run_id=run.id))
    if run.total_rows > current_app.config["IMPORT_BACKGROUND_ROWS"]:
        queued = attempt_flashed(
            lambda: jobs.queue_run(current_user, run), refused="{} Nothing was imported."
        )
        if not queued.ok:
            return redirect(url_for("imports.preview", run_id=run.id))
        return redirect(url_for("imports.show", run_id=run.id))
    done = attempt_flashed(
        lambda: operations.import_now(current_user, run), refused="{} Nothing was imported."
    )
    if not done.ok:
        return redirect(url_for("imports.preview", run_id=run.id))
    outcome = done.value
    flash(
        f"Imported: {outcome.created} created, {outcome.updated} updated, "
        f"{outcome.skipped} skipped, {outcome.failed} failed.",
        "success" if not outcome.failed else "warning",
    )
    return redirect(url_for("imports.show", run_id=run.id))


@bp.route("/<int:run_id>")
@requires(Permission.IMPORTS)
def show(run_id: int):
    run = _run(run_id)
    if run.status is RunStatus.DRAFT:
        return redirect(url_for("imports.mapping", run_id=run.id))
    return render_template(
        "imports/show.html",
        run=run,
        state=queries.state_of(run),
        spec=operations.spec_for(run.record_type),
        worker_command=queries.WORKER_COMMAND,
    )


@bp.route("/<int:run_id>/progress.json")
@requires(Permission.IMPORTS)
def progress(run_id: int):
    return jsonify(queries.state_of(_run(run_id)).as_json())


@bp.route("/<int:run_id>/errors.csv")
@requires(Permission.IMPORTS)
def errors(run_id: int):
    run = _run(run_id)
    if not run.error_file:
        abort(404)
    stem = Path(run.file_name).stem or "import"
    response = Response("\ufeff" + run.error_file, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}-errors.csv"'
    return response


@bp.route("/<int:run_id>/undo", methods=["POST"])
@requires(Permission.IMPORTS)
def undo(run_id: int):
    run = _run(run_id)
    done = attempt(lambda: operations.undo(current_user, run))
    if not done.ok:
        return redirect(url_for("imports.show", run_id=run.id))
    flash(_undone_message(done.value), "success")
    return redirect(url_for("imports.show", run_id=run.id))


def _undone_message(result: Undone) -> str:
    """'Undone: 4 contacts and 3 organizations removed, 1 record put back.'"""
    parts = []
    if result["by_table"]:
        removed = [records(n, table) for table, n in result["by_table"].items()]
        parts.append(f"{listed(removed)} removed")
    if result["restored"]:
        parts.append(f"{counted(result['restored'], 'record')} put back")
    message = (
        f"Undone: {', '.join(parts)}."
        if parts
        else "Undone; the import had not created or changed anything."
    )
    kept = result["kept"]
    if kept:
        message += (
            " 1 field changed since the import keeps its new value."
            if kept == 1
            else f" {kept:,} fields changed since the import keep their new values."
        )
    return message


@bp.route("/<int:run_id>/discard", methods=["POST"])
@requires(Permission.IMPORTS)
def discard(run_id: int):
    run = _run(run_id)
    if not attempt(lambda: operations.discard(run)).ok:
        return redirect(url_for("imports.show", run_id=run.id))
    flash("The upload was discarded; nothing was imported.", "success")
    return redirect(url_for("imports.index"))


@bp.route("/templates/<name>.csv")
@requires(Permission.IMPORTS)
def template_file(name: str):
    kind, _, which = name.rpartition("-")
    if kind not in {t.value for t in RecordType} or which not in ("template", "sample"):
        abort(404)
    path = TEMPLATE_FOLDER / f"{kind}-{which}.csv"
    if not path.exists():
        abort(404)
    response = Response(path.read_bytes(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return response
