"""The duplicates page, merging a pair field by field, dismissing a pair as not duplicates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.core.access import Permission, requires
from crm.core.countries import country_name, language_name
from crm.core.errors import OperationError
from crm.core.unit_of_work import attempt
from crm.duplicates import queries
from crm.duplicates.forms import CHOICE_VALUES, MergeForm
from crm.duplicates.models import DuplicateKind
from crm.duplicates.operations import (
    contact_merge,
    dismissals,
    merging,
    organization_merge,
    scans,
)
from crm.events.views import flash_promoted
from crm.extensions import db

bp = Blueprint("duplicates", __name__, url_prefix="/duplicates")

KINDS = {"contacts": DuplicateKind.CONTACT, "organizations": DuplicateKind.ORGANIZATION}
SLUGS = {kind: slug for slug, kind in KINDS.items()}


def _kind(slug: str) -> DuplicateKind:
    return KINDS.get(slug) or abort(404)


def _fields(kind: DuplicateKind) -> dict[str, str]:
    if kind is DuplicateKind.CONTACT:
        return merging.CONTACT_FIELDS
    return merging.ORGANIZATION_FIELDS


def detail_url(kind: DuplicateKind, record_id: int) -> str:
    if kind is DuplicateKind.CONTACT:
        return url_for("contacts.detail", contact_id=record_id)
    return url_for("organizations.detail", organization_id=record_id)


def _ids_into(endpoint: str, *names: str, **values: Any) -> Callable[..., str]:
    """url_for(endpoint, **values) with the ids `names` put in later: the route is built once
    for a page of pairs, not for each of its 200 links."""
    markers: dict[str, Any] = {name: 2_147_483_600 + n for n, name in enumerate(names)}
    pattern = url_for(endpoint, **values, **markers)
    for name, marker in markers.items():
        pattern = pattern.replace(str(marker), "{%s}" % name)  # noqa: UP031
    return lambda *ids: pattern.format(**{n: int(i) for n, i in zip(names, ids, strict=True)})


@dataclass(frozen=True)
class PairLinks:
    """The links of a page of pairs: a record's page, a pair's merge and dismiss."""

    detail: Callable[[int], str]
    merge: Callable[[int, int], str]
    dismiss: Callable[[int, int], str]

    @classmethod
    def of(cls, kind: DuplicateKind, slug: str) -> PairLinks:
        if kind is DuplicateKind.CONTACT:
            detail = _ids_into("contacts.detail", "contact_id")
        else:
            detail = _ids_into("organizations.detail", "organization_id")
        pair = ("first_id", "second_id")
        return cls(
            detail,
            _ids_into("duplicates.merge", *pair, slug=slug),
            _ids_into("duplicates.dismiss", *pair, slug=slug),
        )


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@bp.route("/")
@requires(Permission.DUPLICATES_MERGE)
def index():
    slug = request.args.get("kind", "contacts")
    kind = _kind(slug)
    page = queries.page_of_pairs(
        kind,
        after=queries.parse_cursor(request.args.get("after")),
        min_score=max(0, min(100, _int_arg("min_score", 0))),
    )
    return render_template(
        "duplicates/index.html",
        kind=kind,
        slug=slug,
        page=page,
        state=queries.scan_state(kind),
        cursor_text=queries.cursor_text,
        threshold=queries.threshold(),
        urls=PairLinks.of(kind, slug),
    )


@bp.route("/scan", methods=["POST"])
@requires(Permission.DUPLICATES_MERGE)
def rescan():
    slug = request.form.get("kind", "contacts")
    kind = _kind(slug)
    done = attempt(lambda: scans.request_scan(current_user, kind))
    if done.ok:
        _scan, queued = done.value
        flash(
            f"A scan of all {kind.label.lower()} is queued; this page shows its progress."
            if queued
            else f"A scan of all {kind.label.lower()} is already waiting or running; "
            "no second one was queued.",
            "success" if queued else "info",
        )
    return redirect(url_for("duplicates.index", kind=slug))


def _gone(kind: DuplicateKind, slug: str, ids: list[int]) -> Any:
    """A pair one of whose records is gone: say where it went (a double submit lands here)."""
    for record_id in ids:
        merge = queries.merged_into(kind, record_id)
        if merge is not None:
            flash(
                f"{merge.merged_label} (#{record_id}) was already merged into #{merge.survivor_id}"
                f"{' by ' + merge.merged_by.name if merge.merged_by else ''}; nothing else "
                "was changed.",
                "info",
            )
            if db.session.get(queries.model_for(kind), merge.survivor_id) is not None:
                return redirect(detail_url(kind, merge.survivor_id))
            return redirect(url_for("duplicates.index", kind=slug))
    flash("One of the two records no longer exists; nothing was merged.", "warning")
    return redirect(url_for("duplicates.index", kind=slug))


@bp.route("/<slug>/<int:first_id>/<int:second_id>", methods=["GET", "POST"])
@requires(Permission.DUPLICATES_MERGE)
def merge(slug: str, first_id: int, second_id: int):
    kind = _kind(slug)
    if first_id == second_id:
        flash("A record cannot be merged into itself; pick two different records.", "danger")
        return redirect(url_for("duplicates.index", kind=slug))
    model = queries.model_for(kind)
    first, second = db.session.get(model, first_id), db.session.get(model, second_id)
    if first is None or second is None:
        return _gone(kind, slug, [first_id, second_id])
    fields = _fields(kind)
    form = MergeForm()
    status = 200
    if request.method == "GET":
        form.first_version.data = str(first.version)
        form.second_version.data = str(second.version)
    elif form.validate_on_submit():
        keep_first = form.survivor.data == "first"
        survivor, other = (first, second) if keep_first else (second, first)
        versions = form.versions() if keep_first else form.versions()[::-1]
        merge_op = (
            contact_merge.merge_contacts
            if kind is DuplicateKind.CONTACT
            else organization_merge.merge_organizations
        )
        done = attempt(
            lambda: merge_op(
                current_user,
                survivor,
                other,
                _choices(fields, keep_first),
                expected_versions=versions,
            ),
            show=False,
        )
        if not done.ok:
            flash(done.error.message, "danger")  # a conflict included
            status = 422
            # Read again from the database: a merge that ran first may have removed one.
            first = db.session.get(model, first_id, populate_existing=True)
            second = db.session.get(model, second_id, populate_existing=True)
            if first is None or second is None:
                return _gone(kind, slug, [first_id, second_id])
        else:
            moved = done.value
            survivor_id = survivor.id
            flash(f"Merged. Moved to the record kept: {moved.summary()}.", "success")
            for note in moved.notes:
                flash(note[0].upper() + note[1:] + ".", "info")
            if moved.promoted:
                # Their emails were queued by the merge, so a refused merge tells nobody.
                flash_promoted(moved.promoted)
            return redirect(detail_url(kind, survivor_id))
    else:
        status = 422
        flash("Pick which of the two records to keep; nothing was merged.", "danger")
    conflicts = (
        contact_merge.contact_conflicts(first, second)
        if kind is DuplicateKind.CONTACT
        else organization_merge.organization_conflicts(first, second)
    )
    counts = (
        queries.contact_link_counts
        if kind is DuplicateKind.CONTACT
        else queries.organization_link_counts
    )
    return render_template(
        "duplicates/merge.html",
        kind=kind,
        slug=slug,
        first=first,
        second=second,
        form=form,
        fields=fields,
        rows=[_field_row(kind, name, label, first, second) for name, label in fields.items()],
        reasons=queries.pair_reasons(kind, first, second),
        dismissed=queries.is_dismissed(kind, first_id, second_id),
        conflicts=conflicts,
        first_counts=counts(first.id),
        second_counts=counts(second.id),
        detail_url=detail_url,
    ), status


def _choices(fields: dict[str, str], keep_first: bool) -> dict[str, merging.Choice]:
    """Radio values ("first", "second", "both") as the operation's survivor/other/both."""
    choices: dict[str, merging.Choice] = {}
    for name, label in fields.items():
        value = request.form.get(f"choice-{name}")
        if value is None:
            continue
        if value not in CHOICE_VALUES:
            raise OperationError(f"“{value}” is not a choice for {label}; nothing was merged.")
        if value == "both":
            choices[name] = "both"
        else:
            choices[name] = "survivor" if (value == "first") == keep_first else "other"
    return choices


def _display(kind: DuplicateKind, name: str, record: Any) -> str:
    value = getattr(record, name)
    if value in (None, ""):
        return ""
    if name == "organization_id":
        return record.organization.name if record.organization else f"#{value}"
    if name == "owner_id":
        return record.owner.name if record.owner else f"#{value}"
    if name == "kind":
        return value.label
    if name == "country":
        return country_name(value) or value
    if name == "languages":
        return ", ".join(language_name(code) or code for code in value.split(",") if code)
    return str(value)


def _field_row(kind: DuplicateKind, name: str, label: str, first: Any, second: Any) -> dict:
    a, b = _display(kind, name, first), _display(kind, name, second)
    # The default: the first's value, unless it is blank and the second has one.
    default = "second" if not a and b else "first"
    return {
        "name": name,
        "label": label,
        "first": a,
        "second": b,
        "same": a == b,
        "default": default,
        "joinable": name in merging.JOINABLE,
    }


@bp.route("/<slug>/<int:first_id>/<int:second_id>/dismiss", methods=["POST"])
@requires(Permission.DUPLICATES_MERGE)
def dismiss(slug: str, first_id: int, second_id: int):
    kind = _kind(slug)
    done = attempt(lambda: dismissals.dismiss_pair(current_user, kind, first_id, second_id))
    if not done.ok:
        return redirect(url_for("duplicates.index", kind=slug))
    flash(
        "Marked as not duplicates; the pair no longer shows."
        if done.value
        else "That pair was already marked as not duplicates.",
        "success",
    )
    back = request.form.get("next", "")
    if not back.startswith("/duplicates/"):  # only back to this page, never elsewhere
        back = url_for("duplicates.index", kind=slug)
    return redirect(back)
