"""The team's reading of the comments: tagging their themes, marking them addressed by the
draft, and reopening them."""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.consultations.models import Answer
from crm.core.db import rows_touched, utcnow
from crm.core.errors import ConflictError, OperationError
from crm.core.validation import clean_text
from crm.extensions import db
from crm.tags.operations import parse_tags

NOTE_MAX = 1000
THEMES_MAX = 500


def set_themes(actor, answer: Answer, text: str | None, *, seen: str | None = None) -> list[str]:
    """Tag a comment's themes. `seen` is the stored value the form was loaded with: when
    someone else changed the themes since, nothing is saved (two leads tagging at once do not
    overwrite each other). The check and the write are one UPDATE, so it holds under
    concurrent requests on both databases."""
    names = parse_tags(text)
    value = ",".join(names)
    if len(value) > THEMES_MAX:
        raise OperationError(
            f"Too many themes ({len(value)} characters; at most {THEMES_MAX}).", field="themes"
        )
    if any(len(n) > 50 for n in names):
        raise OperationError("A theme is at most 50 characters.", field="themes")
    old = answer.themes
    if seen is None:
        answer.themes = value or None
    else:
        result = db.session.execute(
            sa.update(Answer)
            .where(Answer.id == answer.id, sa.func.coalesce(Answer.themes, "") == seen)
            .values(themes=value or None)
            .execution_options(synchronize_session=False)
        )
        written = rows_touched(result)
        db.session.refresh(answer, ["themes"])
        if not written:
            now = ", ".join(answer.theme_list) or "no themes"
            raise ConflictError(
                f"Someone else changed the themes of this comment meanwhile: now {now}. "
                "Your change was not saved.",
                field="themes",
            )
        old = seen or None
    if old != answer.themes:
        audit.record(
            actor,
            AuditAction.UPDATE,
            "consultation",
            answer.response.consultation_id,
            summary=f"Themes of comment {answer.id}",
            changes={"themes": [old, answer.themes]},
        )
    db.session.flush()
    return names


def mark_addressed(actor, answer: Answer, note: str | None) -> None:
    note = clean_text(note, "note", "What changed in the draft", NOTE_MAX, required=True)
    if not answer.comment:
        raise OperationError("There is no comment to address.", field="note")
    answer.addressed_at = utcnow()
    answer.addressed_by_id = getattr(actor, "id", None)
    answer.addressed_note = note
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        answer.response.consultation_id,
        summary=f"Comment {answer.id} addressed: {note[:200]}",
    )
    db.session.flush()


def reopen_comment(actor, answer: Answer) -> None:
    if answer.addressed_at is None:
        raise OperationError("This comment is not marked addressed.")
    answer.addressed_at = answer.addressed_note = answer.addressed_by_id = None
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        answer.response.consultation_id,
        summary=f"Comment {answer.id} no longer addressed",
    )
    db.session.flush()
