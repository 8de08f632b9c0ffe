"""Changing the standard: versions, their status, and their principles.

A version anything refers to (a pledge, a progress report, an assessment) is frozen: what
organizations committed to must read tomorrow as it read when they signed. Such a version is
changed by superseding it: a new draft version starts as a copy of its principles.

Every change is audited against the version (object type "standard"), principle edits included.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.core import deletion
from crm.core.errors import CONFLICT_MESSAGE, ConflictError, OperationError
from crm.core.validation import clean_choice, clean_text
from crm.extensions import db
from crm.standards.models import Principle, Standard, StandardStatus
from crm.standards.queries import usage_of, version_key

VERSION_PATTERN = re.compile(r"^\d{1,4}(\.\d{1,4}){1,2}$")
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
TITLE_MAX = 200
CODE_MAX = 10
TEXT_MAX = 20_000

# Where each status may go. A current version is retired only by making another one current
# (there is always a version in force); retired is final.
MOVES: dict[StandardStatus, tuple[StandardStatus, ...]] = {
    StandardStatus.DRAFT: (StandardStatus.CONSULTATION, StandardStatus.CURRENT),
    StandardStatus.CONSULTATION: (StandardStatus.DRAFT, StandardStatus.CURRENT),
    StandardStatus.CURRENT: (),
    StandardStatus.RETIRED: (),
}

# "Version 2.0 is now …"
STATUS_PHRASES = {
    StandardStatus.DRAFT: "a draft",
    StandardStatus.CONSULTATION: "open for consultation",
    StandardStatus.CURRENT: "current",
    StandardStatus.RETIRED: "retired",
}


@dataclass
class PrincipleFields:
    code: str
    title: str
    text: str | None = None


# --- optimistic locking -------------------------------------------------------------------------
# Standards and principles carry no version column, so a form carries a checksum of what it
# showed instead; a save from a form whose record changed since is refused like any conflict.


def fingerprint(*values) -> int:
    return zlib.crc32("\x1f".join("" if v is None else str(v) for v in values).encode())


def standard_fingerprint(standard: Standard) -> int:
    return fingerprint(standard.version, standard.title)


def principle_fingerprint(principle: Principle) -> int:
    return fingerprint(principle.code, principle.title, principle.text)


def _check(expected: int | None, actual: int) -> None:
    if expected is not None and expected != actual:
        raise ConflictError(CONFLICT_MESSAGE)


# --- guards -------------------------------------------------------------------------------------


def check_editable(standard: Standard) -> None:
    """Refuse any change to a version's content once it is retired or anything refers to it."""
    if standard.status == StandardStatus.RETIRED:
        raise OperationError(
            f"Version {standard.version} is retired and stays as it was published. "
            "Create a new version from it to make changes."
        )
    usage = usage_of(standard)
    if usage.in_use:
        raise OperationError(
            f"Version {standard.version} is in use ({usage.label}), so it cannot be edited: "
            "what organizations committed to must not change under them. Supersede it with a "
            "new version instead."
        )


def can_fill_in(standard: Standard, principle: Principle) -> bool:
    """A principle of a frozen version whose text was never written may still get its text:
    the migration seeds codes and titles only, and an admin writes the texts later."""
    return standard.status != StandardStatus.RETIRED and not (principle.text or "").strip()


def _check_filling_in(standard: Standard, principle: Principle, fields: PrincipleFields) -> None:
    """On a frozen version, only a first text for a principle that has none is accepted."""
    if not can_fill_in(standard, principle):
        check_editable(standard)
    unchanged = (fields.code or "").strip() == principle.code and (
        fields.title or ""
    ).strip() == principle.title
    if not unchanged:
        raise OperationError(
            f"Version {standard.version} is in use: only the missing text of {principle.code} "
            "can still be written; its code and title stay as published.",
            field="title",
        )


def editable_reason(standard: Standard) -> str | None:
    """Why a version cannot be edited, or None when it can."""
    try:
        check_editable(standard)
    except OperationError as exc:
        return exc.message
    return None


def _clean_version(value: str | None) -> str:
    version = (value or "").strip()
    if not version:
        raise OperationError("Version is required, e.g. 2.0.", field="version")
    if len(version) > 20 or not VERSION_PATTERN.match(version):
        raise OperationError(
            f"“{version}” is not a version number: use numbers separated by dots, "
            "such as 2.0 or 2.1.",
            field="version",
        )
    return version


def _clean_title(value: str | None, field: str = "title") -> str:
    return clean_text(value, field, "Title", TITLE_MAX, required=True)


def clean_code(value: str | None) -> str:
    """A principle's code as typed, checked ("P1"); a consultation's draft proposes new ones too."""
    code = clean_text(value, "code", "Code", CODE_MAX, required=True)
    if not CODE_PATTERN.match(code):
        raise OperationError(
            f"“{code}” is not a code: use letters, digits, dots or dashes, such as P1.",
            field="code",
        )
    return code


def _check_code_free(standard: Standard, code: str, *, except_id: int | None = None) -> None:
    for other in standard.principles:
        if other.id != except_id and other.code.casefold() == code.casefold():
            raise OperationError(
                f"Version {standard.version} already has a principle {other.code} "
                f"({other.title}). Codes are unique within a version.",
                field="code",
            )


def _apply(principle: Principle, standard: Standard, fields: PrincipleFields) -> None:
    code = clean_code(fields.code)
    title = _clean_title(fields.title)
    text = clean_text(fields.text, "text", "Text", TEXT_MAX)
    _check_code_free(standard, code, except_id=principle.id)
    principle.code, principle.title, principle.text = code, title, text


def _flush(message: str, field: str) -> None:
    """Flush; a unique key another request took meanwhile is a refusal, not a crash."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise OperationError(message, field=field) from None


def _renumber(standard: Standard) -> None:
    for n, principle in enumerate(standard.principles, start=1):
        principle.position = n


def _order(standard: Standard) -> str:
    return ", ".join(p.code for p in standard.principles)


# --- versions -----------------------------------------------------------------------------------


def update_standard(
    actor, standard: Standard, title: str | None, *, expected_version: int | None = None
) -> Standard:
    _check(expected_version, standard_fingerprint(standard))
    check_editable(standard)
    with audit.updating(actor, standard, "standard"):
        standard.title = _clean_title(title)
    return standard


def supersede(actor, source: Standard, version: str | None, title: str | None) -> Standard:
    """A new draft version that starts as a copy of `source`'s principles."""
    version = _clean_version(version)
    title = _clean_title(title)
    if version_key(version) <= version_key(source.version):
        raise OperationError(
            f"A version that supersedes {source.version} needs a higher number "
            f"than {source.version}.",
            field="version",
        )
    taken = db.session.scalar(sa.select(Standard).where(Standard.version == version))
    if taken is not None:
        raise OperationError(
            f"Version {version} already exists ({taken.status.label.lower()}).", field="version"
        )
    standard = Standard(version=version, title=title, status=StandardStatus.DRAFT)
    standard.principles = [
        Principle(code=p.code, title=p.title, text=p.text, position=n)
        for n, p in enumerate(source.principles, start=1)
    ]
    db.session.add(standard)
    _flush(f"Version {version} already exists.", "version")
    audit.record(
        actor,
        AuditAction.CREATE,
        "standard",
        standard.id,
        summary=f"Created version {version} from {source.version}, "
        f"copying its {len(standard.principles)} principles",
    )
    audit.record(
        actor,
        AuditAction.UPDATE,
        "standard",
        source.id,
        summary=f"Superseded by draft version {version}",
    )
    return standard


def allowed_moves(standard: Standard) -> tuple[StandardStatus, ...]:
    return MOVES[standard.status]


def set_status(actor, standard: Standard, status: StandardStatus | str) -> Standard:
    """Draft ⇄ consultation → current. Making a version current retires the one in force."""
    status = clean_choice(StandardStatus, status, "a status", field="status")
    old = standard.status
    if status == old:
        return standard
    if old == StandardStatus.RETIRED:
        raise OperationError(
            f"Version {standard.version} is retired; retirement is final.", field="status"
        )
    if old == StandardStatus.CURRENT:
        raise OperationError(
            f"Version {standard.version} is current. It is retired by making another version "
            "current, so a version is always in force.",
            field="status",
        )
    if status not in MOVES[old]:
        raise OperationError(
            f"A {old.value} version cannot be made {status.value} directly.", field="status"
        )
    if status in (StandardStatus.CONSULTATION, StandardStatus.CURRENT):
        _check_complete(standard, status)
    if status == StandardStatus.CURRENT:
        # Lock every version (a handful of rows), then look for the one in force: two admins
        # making two versions current at once wait for each other and the second retires the
        # first's. SQLite has one writer at a time anyway.
        db.session.execute(sa.select(Standard.id).order_by(Standard.id).with_for_update()).all()
        in_force = db.session.scalars(
            sa.select(Standard)
            .where(Standard.status == StandardStatus.CURRENT, Standard.id != standard.id)
            .execution_options(populate_existing=True)
        ).all()
        for previous in in_force:
            previous.status = StandardStatus.RETIRED
            audit.record(
                actor,
                AuditAction.UPDATE,
                "standard",
                previous.id,
                summary=f"Retired: version {standard.version} is now current",
                changes={"status": [StandardStatus.CURRENT.value, StandardStatus.RETIRED.value]},
            )
    standard.status = status
    audit.record(
        actor,
        AuditAction.UPDATE,
        "standard",
        standard.id,
        summary=f"Version {standard.version} is now {STATUS_PHRASES[status]}",
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()
    return standard


def _check_complete(standard: Standard, status: StandardStatus) -> None:
    purpose = (
        "it goes to consultation" if status == StandardStatus.CONSULTATION else "it becomes current"
    )
    if not standard.principles:
        raise OperationError(
            f"Version {standard.version} has no principles; add them before {purpose}.",
            field="status",
        )
    missing = [p.code for p in standard.principles if not p.text]
    if missing:
        raise OperationError(
            f"Write the text of {', '.join(missing)} before {purpose}: "
            "every principle needs its text.",
            field="status",
        )


# --- principles ---------------------------------------------------------------------------------


def add_principle(actor, standard: Standard, fields: PrincipleFields) -> Principle:
    check_editable(standard)
    principle = Principle()
    _apply(principle, standard, fields)
    principle.position = max((p.position for p in standard.principles), default=0) + 1
    standard.principles.append(principle)
    _flush(f"Version {standard.version} already has a principle {principle.code}.", "code")
    audit.record(
        actor,
        AuditAction.UPDATE,
        "standard",
        standard.id,
        summary=f"Added principle {principle.label}",
        changes={f"{principle.code} {key}": [None, value] for key, value in _values(principle)},
    )
    return principle


def _values(principle: Principle) -> list[tuple[str, str | None]]:
    return [("code", principle.code), ("title", principle.title), ("text", principle.text)]


def update_principle(
    actor, principle: Principle, fields: PrincipleFields, *, expected_version: int | None = None
) -> Principle:
    standard = principle.standard
    _check(expected_version, principle_fingerprint(principle))
    if editable_reason(standard) is not None:
        _check_filling_in(standard, principle, fields)
    old_code = principle.code
    before = dict(_values(principle))
    _apply(principle, standard, fields)
    changes = {
        f"{old_code} {key}": [before[key], value]
        for key, value in _values(principle)
        if before[key] != value
    }
    if changes:
        audit.record(
            actor,
            AuditAction.UPDATE,
            "standard",
            standard.id,
            summary=f"Changed principle {principle.label}",
            changes=changes,
        )
    _flush(f"Version {standard.version} already has a principle {principle.code}.", "code")
    return principle


def remove_principle(actor, principle: Principle) -> None:
    standard = principle.standard
    check_editable(standard)
    # What refers to a principle (endorsements) is registered by the domains above this one.
    reasons = deletion.blockers("principle", principle)
    if reasons:
        raise OperationError(reasons[0])
    label = principle.label
    old_order = _order(standard)
    standard.principles.remove(principle)
    db.session.delete(principle)
    _renumber(standard)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.UPDATE,
        "standard",
        standard.id,
        summary=f"Removed principle {label}",
        changes={"order": [old_order, _order(standard)]},
    )


def move_principle(actor, principle: Principle, direction: str) -> None:
    """One place up or down in the version's order."""
    standard = principle.standard
    check_editable(standard)
    if direction not in ("up", "down"):
        raise OperationError(f"“{direction}” is not a direction: up or down.")
    ordered = list(standard.principles)
    index = ordered.index(principle)
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(ordered):
        raise OperationError(
            f"{principle.code} is already {'first' if direction == 'up' else 'last'}."
        )
    old_order = _order(standard)
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for n, item in enumerate(ordered, start=1):
        item.position = n
    db.session.flush()
    db.session.expire(standard, ["principles"])
    audit.record(
        actor,
        AuditAction.UPDATE,
        "standard",
        standard.id,
        summary=f"Moved {principle.code} {direction}",
        changes={"order": [old_order, _order(standard)]},
    )
