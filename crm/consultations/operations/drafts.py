"""The draft texts a consultation asks about (recommendations on a principle, or proposed new
principles): adding, editing, deleting and accepting them until a version is published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.consultations.models import Consultation, Phase, Recommendation
from crm.consultations.queries import answers_on
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_text
from crm.extensions import db
from crm.standards import operations as standard_ops
from crm.standards.models import Principle


@dataclass
class RecommendationFields:
    text: str
    principle_id: int | None = None
    new_code: str | None = None
    new_title: str | None = None


def _check_draft_editable(consultation: Consultation) -> None:
    if consultation.published_standard_id is not None:
        raise OperationError(
            "A version was published from this draft; it no longer changes.", field="text"
        )


def _apply_recommendation(
    consultation: Consultation, recommendation: Recommendation, fields: RecommendationFields
) -> None:
    """The checks and values shared by adding and editing a draft text."""
    recommendation.text = clean_text(fields.text, "text", "Text", 20_000, required=True)
    if fields.principle_id:
        principle = db.session.get(Principle, int(fields.principle_id))
        if principle is None or principle.standard_id != consultation.standard_id:
            raise OperationError(
                f"Choose a principle of version {consultation.standard.version}.",
                field="principle_id",
            )
        recommendation.principle = principle
        recommendation.new_code = recommendation.new_title = None
    else:
        code = standard_ops.clean_code(fields.new_code)
        title = clean_text(fields.new_title, "new_title", "Title", 200, required=True)
        taken = {p.code.casefold() for p in consultation.standard.principles} | {
            r.new_code.casefold()
            for r in consultation.recommendations
            if r.new_code and r is not recommendation
        }
        if code.casefold() in taken:
            raise OperationError(
                f"{code} is already a principle (or a proposed one); choose another code.",
                field="new_code",
            )
        recommendation.principle = None
        recommendation.new_code, recommendation.new_title = code, title


def add_recommendation(
    actor, consultation: Consultation, fields: RecommendationFields
) -> Recommendation:
    _check_draft_editable(consultation)
    recommendation = Recommendation()
    _apply_recommendation(consultation, recommendation, fields)
    recommendation.position = max((r.position for r in consultation.recommendations), default=0)
    recommendation.position += 1
    recommendation.touch(actor)
    consultation.recommendations.append(recommendation)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Added draft text: {recommendation.label}",
    )
    return recommendation


def _answers(n: int) -> str:
    return f"{n} answer{'s are' if n != 1 else ' is'} about it"


def draft_text_locked(
    recommendation: Recommendation, *, answered: int | None = None, today: date | None = None
) -> str | None:
    """Why a draft text cannot be edited now, or None when it can."""
    consultation = recommendation.consultation
    if consultation.published_standard_id is not None:
        return "A version was published from this draft; it no longer changes."
    if answered is None:
        answered = answers_on(recommendation)
    if answered and consultation.phase(today) is Phase.OPEN:
        return (
            f"This draft text does not change while the consultation is open: "
            f"{_answers(answered)}, and later answers would be about different words. Edit it "
            f"once the consultation has closed ({consultation.closes_on:%-d %B %Y} is its last "
            "day), or add another draft text."
        )
    return None


def update_recommendation(
    actor,
    recommendation: Recommendation,
    fields: RecommendationFields,
    *,
    expected_version: int | None = None,
    today: date | None = None,
) -> None:
    """Change a draft text (its wording, or what it is about) until a version is published.
    Once people have answered it, not while the consultation is open: later answers would be
    about other words than the earlier ones. Before it opens, and after it closes (revising
    the draft from what people said), it changes; the audit trail keeps the earlier wording."""
    consultation = recommendation.consultation
    _check_draft_editable(consultation)
    check_version(recommendation, expected_version)
    answered = answers_on(recommendation)
    locked = draft_text_locked(recommendation, answered=answered, today=today)
    if locked:
        raise OperationError(locked, field="text")
    before = {"about": recommendation.label, "text": recommendation.text}
    _apply_recommendation(consultation, recommendation, fields)
    after = {"about": recommendation.label, "text": recommendation.text}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return
    recommendation.touch(actor)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Edited draft text: {recommendation.label}"
        + (f" (after {answered} answer{'s' if answered != 1 else ''})" if answered else ""),
        changes=changes,
    )


def delete_recommendation(actor, recommendation: Recommendation) -> None:
    """Remove a draft text nobody has answered (a saved draft counts as an answer)."""
    consultation = recommendation.consultation
    _check_draft_editable(consultation)
    answered = answers_on(recommendation)
    if answered:
        instead = (
            "edit it once the consultation has closed"
            if consultation.is_open
            else "edit it instead"
        )
        raise OperationError(
            f"“{recommendation.label}” cannot be deleted: {_answers(answered)} and would be "
            f"lost. To change it, {instead}; to keep it out of the new version, do not "
            "accept it (or set it aside). Nothing was deleted."
        )
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Deleted draft text: {recommendation.label}",
        changes={"text": [recommendation.text, None]},
    )
    consultation.recommendations.remove(recommendation)
    db.session.flush()


def set_accepted(actor, recommendation: Recommendation, accepted: bool) -> None:
    _check_draft_editable(recommendation.consultation)
    if recommendation.accepted == bool(accepted):
        return
    recommendation.accepted = bool(accepted)
    recommendation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        recommendation.consultation_id,
        summary=f"{'Accepted' if accepted else 'Set aside'}: {recommendation.label}",
    )
    db.session.flush()
