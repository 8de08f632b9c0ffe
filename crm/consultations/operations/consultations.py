"""Setting up a consultation: its version, dates and who answers; editing and deleting it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.campaigns.models import Campaign, Segment
from crm.consultations.models import Access, Consultation
from crm.consultations.operations.problems import Problems
from crm.consultations.queries import has_responses
from crm.core.errors import OperationError
from crm.core.validation import clean_text
from crm.extensions import db
from crm.standards.models import Standard
from crm.workgroups.models import Task


@dataclass
class ConsultationFields:
    standard_id: int | None
    title: str
    opens_on: date | None
    closes_on: date | None
    access: Access | str
    segment_id: int | None = None
    description: str | None = None


def _apply(consultation: Consultation, fields: ConsultationFields) -> None:
    """Every field's problem is refused at once (Problems), so the form names them all."""
    problems: list[tuple[str | None, str]] = []

    def refuse(message: str, field: str | None) -> None:
        problems.append((field, message))

    try:
        consultation.title = clean_text(fields.title, "title", "Title", 200, required=True)
    except OperationError as exc:
        refuse(exc.message, exc.field)
    try:
        consultation.description = clean_text(
            fields.description, "description", "Description", 20_000
        )
    except OperationError as exc:
        refuse(exc.message, exc.field)
    standard = db.session.get(Standard, fields.standard_id) if fields.standard_id else None
    changed = (
        standard is not None
        and consultation.id is not None
        and standard.id != consultation.standard_id
    )
    if standard is None:
        refuse("Choose the version under consultation.", "standard_id")
    elif changed and has_responses(consultation):
        refuse(
            "People have answered already (saved drafts count too), so the version cannot change.",
            "standard_id",
        )
    elif changed and consultation.recommendations:
        refuse(
            "The draft texts refer to this version's principles, so the version cannot change.",
            "standard_id",
        )
    else:
        consultation.standard_id = standard.id
    if fields.opens_on is None:
        refuse("Give the day it opens.", "opens_on")
    if fields.closes_on is None:
        refuse("Give the day it closes.", "closes_on")
    published = consultation.published_standard
    if fields.opens_on is not None and fields.closes_on is not None:
        if fields.closes_on < fields.opens_on:
            refuse("It cannot close before it opens.", "closes_on")
        elif published is not None and fields.closes_on != consultation.closes_on:
            refuse(
                f"Version {published.version} was published from this consultation, so it "
                "cannot be reopened and its dates no longer change.",
                "closes_on",
            )
        elif published is not None and fields.opens_on != consultation.opens_on:
            refuse(
                f"Version {published.version} was published from this consultation, so its "
                "dates no longer change.",
                "opens_on",
            )
        else:
            consultation.opens_on, consultation.closes_on = fields.opens_on, fields.closes_on
    try:
        access = Access(fields.access)
    except ValueError:
        access = None
        refuse("Choose public or by invitation.", "access")
    if (
        access is not None
        and consultation.id is not None
        and access is not consultation.access
        and has_responses(consultation)
    ):
        refuse(
            "People have answered already (saved drafts count too), so who answers cannot "
            f"change: it stays “{consultation.access.label}”.",
            "access",
        )
    elif access is not None:
        consultation.access = access
        if access is Access.INVITATION:
            segment = db.session.get(Segment, int(fields.segment_id)) if fields.segment_id else None
            if segment is None:
                refuse("Choose the segment of contacts who are invited.", "segment_id")
            else:
                consultation.segment_id = segment.id
        else:
            consultation.segment_id = None
    if problems:
        raise Problems(problems)


def consultation_problems(
    consultation: Consultation, fields: ConsultationFields
) -> list[tuple[str | None, str]]:
    """Every problem saving `fields` would meet, each (field, message); none when all is well.
    For a page whose own checks refused the form first, so it names everything at once. It
    sets on `consultation` what passes, as saving would: the caller discards those changes."""
    try:
        _apply(consultation, fields)
    except OperationError as exc:
        return getattr(exc, "problems", None) or [(exc.field, exc.message)]
    return []


def create_consultation(actor, fields: ConsultationFields) -> Consultation:
    consultation = Consultation()
    _apply(consultation, fields)
    audit.add_recorded(actor, consultation, "consultation", summary=f"Created {consultation.title}")
    return consultation


def update_consultation(
    actor,
    consultation: Consultation,
    fields: ConsultationFields,
    *,
    expected_version: int | None = None,
) -> None:
    with audit.updating(actor, consultation, "consultation", expected_version=expected_version):
        _apply(consultation, fields)


def delete_consultation(actor, consultation: Consultation) -> None:
    """Remove a consultation set up by mistake. Once anyone has answered, a version was
    published from it, a reminder went out or a task points at it, it is history: refused."""
    reasons = []
    if has_responses(consultation):
        reasons.append("people have answered it")
    if consultation.published_standard_id is not None:
        reasons.append("a version was published from it")
    if db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Campaign)
        .where(Campaign.consultation_id == consultation.id)
    ):
        reasons.append("reminder campaigns were made for it")
    tasks = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Task)
        .where(Task.record_type == "consultation", Task.record_id == consultation.id)
    )
    if tasks:
        reasons.append(
            f"{tasks} task{'s' if tasks != 1 else ''} point{'s' if tasks == 1 else ''} at it"
        )
    if reasons:
        raise OperationError(
            f"“{consultation.title}” cannot be deleted: {'; '.join(reasons)}. Nothing was deleted."
        )
    audit.delete_recorded(
        actor, consultation, "consultation", summary=f"Deleted {consultation.title}"
    )
