"""Consultations: setting them up, taking responses (personal links and the public page),
the team's reading (themes, addressed), and publishing the next version from the draft.

Each function flushes and writes the audit trail; the caller commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.campaigns import operations as campaign_ops
from crm.campaigns.models import Campaign, CampaignStatus, Purpose, Segment
from crm.campaigns.operations import CampaignFields
from crm.consultations.models import (
    Access,
    Answer,
    Consultation,
    Mark,
    Phase,
    Recommendation,
    Response,
)
from crm.consultations.queries import invited_ids, ordered_recommendations
from crm.contacts import operations as contact_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.core.errors import ConflictError, OperationError, check_version
from crm.core.http import external_url
from crm.core.locks import serialize_on
from crm.core.tokens import TokenError, make_token, read_token
from crm.core.validation import clean_country, clean_text
from crm.extensions import db
from crm.organizations import queries as org_queries
from crm.organizations.models import OrganizationKind
from crm.standards import operations as standard_ops
from crm.standards.models import Principle, Standard, StandardStatus
from crm.tags.operations import parse_tags
from crm.workgroups.models import Task

TOKEN_PURPOSE = "consultation-response"
COMMENT_MAX = 10_000
NOTE_MAX = 1000
THEMES_MAX = 500


# --- consultations ---------------------------------------------------------------------------


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

    def refuse(message: str, field: str) -> None:
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
    elif changed and _has_responses(consultation):
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
        and _has_responses(consultation)
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


def _has_responses(consultation: Consultation) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(Response.consultation_id == consultation.id)
        )
    )


def create_consultation(actor, fields: ConsultationFields) -> Consultation:
    consultation = Consultation()
    _apply(consultation, fields)
    consultation.touch(actor)
    db.session.add(consultation)
    db.session.flush()
    audit.record(
        actor,
        AuditAction.CREATE,
        "consultation",
        consultation.id,
        summary=f"Created {consultation.title}",
    )
    return consultation


def update_consultation(
    actor,
    consultation: Consultation,
    fields: ConsultationFields,
    *,
    expected_version: int | None = None,
) -> None:
    check_version(consultation, expected_version)
    before = audit.snapshot(consultation)
    _apply(consultation, fields)
    changes = audit.changes_since(consultation, before)
    if changes:
        consultation.touch(actor)
        audit.record(actor, AuditAction.UPDATE, "consultation", consultation.id, changes=changes)
    db.session.flush()


def delete_consultation(actor, consultation: Consultation) -> None:
    """Remove a consultation set up by mistake. Once anyone has answered, a version was
    published from it, a reminder went out or a task points at it, it is history: refused."""
    reasons = []
    if _has_responses(consultation):
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
    audit.record(
        actor,
        AuditAction.DELETE,
        "consultation",
        consultation.id,
        summary=f"Deleted {consultation.title}",
    )
    db.session.delete(consultation)
    db.session.flush()


# --- draft recommendations -------------------------------------------------------------------


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
        code = standard_ops._clean_code(fields.new_code)
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


def answers_on(recommendation: Recommendation) -> int:
    """Answers about a draft text, saved drafts included."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Answer)
        .where(Answer.recommendation_id == recommendation.id)
    )


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


# --- personal links ----------------------------------------------------------------------------


def personal_token(consultation: Consultation, contact: Contact) -> str:
    return _token(consultation.id, contact.id)


def _token(consultation_id: int, contact_id: int) -> str:
    return make_token(TOKEN_PURPOSE, {"c": consultation_id, "p": contact_id})


def personal_link(consultation: Consultation, contact: Contact) -> str:
    """The absolute address of a person's own response page: the same in a request, the CLI
    and the outbox worker (crm.core.http.external_url)."""
    return personal_link_maker(consultation.id)(contact.id)


def personal_link_maker(consultation_id: int) -> Callable[[int], str]:
    """Personal links for many people at once (a campaign batch): the address is built once,
    the signed token per contact id."""
    base = external_url(
        "public_consultations.personal", consultation_id=consultation_id, token="TOKEN"
    )
    head, tail = base.rsplit("TOKEN", 1)
    return lambda contact_id: f"{head}{_token(consultation_id, contact_id)}{tail}"


def read_personal_token(consultation: Consultation, token: str) -> Contact:
    """The contact a personal link was made for; refuses links to another consultation."""
    try:
        payload = read_token(TOKEN_PURPOSE, token, max_age=None)
    except TokenError as exc:
        raise OperationError(str(exc)) from None
    if not isinstance(payload, dict) or payload.get("c") != consultation.id:
        raise OperationError("This link is for another consultation.")
    contact = db.session.get(Contact, payload.get("p"))
    if contact is None or contact.erased_at is not None:
        raise OperationError("This link is no longer valid.")
    return contact


def is_invited(consultation: Consultation, contact: Contact) -> bool:
    # Whoever has started answering keeps their link, even if the segment changed since
    # (a lead narrowing it, or a tag removed): their draft or response stays theirs to finish.
    return _existing(consultation, contact) is not None or _in_segment(consultation, contact)


def _in_segment(consultation: Consultation, contact: Contact) -> bool:
    if consultation.access is not Access.INVITATION:
        return True
    members = invited_ids(consultation).subquery()
    return bool(db.session.scalar(sa.select(sa.exists().where(members.c[0] == contact.id))))


# --- responses ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    SAVED = "saved"  # a draft kept for later
    SUBMITTED = "submitted"
    UPDATED = "updated"  # a second submission replaced the first
    # A public form for an address we know: what was typed waits on their response as a draft
    # that their emailed link opens; nothing of theirs changed.
    KEPT = "kept"
    LINK = "link"  # the same with nothing typed: only the link is emailed


@dataclass
class AnswerFields:
    principle_id: int | None = None
    recommendation_id: int | None = None
    mark: Mark | str | None = None
    comment: str | None = None


@dataclass
class Respondent:
    name: str
    email: str | None = None
    organization: str | None = None
    organization_kind: OrganizationKind | str | None = None
    country: str | None = None
    named: bool = False


def check_open(consultation: Consultation, today: date | None = None) -> None:
    phase = consultation.phase(today)
    if phase is Phase.UPCOMING:
        raise OperationError(
            f"This consultation opens on {consultation.opens_on:%-d %B %Y}; answers are not "
            "taken yet."
        )
    if phase is Phase.CLOSED:
        raise OperationError(
            f"This consultation closed on {consultation.closes_on:%-d %B %Y}; answers are no "
            "longer taken."
        )


def items(consultation: Consultation) -> list[tuple[str, int]]:
    """What can be answered: ("p", principle id) and ("r", recommendation id), in order."""
    result: list[tuple[str, int]] = []
    for principle in consultation.standard.principles:
        result.append(("p", principle.id))
        result.extend(
            ("r", r.id) for r in consultation.recommendations if r.principle_id == principle.id
        )
    result.extend(("r", r.id) for r in consultation.recommendations if r.principle_id is None)
    return result


class Problems(OperationError):
    """Several refusals at once, each (field, message), so the page can name every one: the
    fields are the form's (`name`, `country`, ...) and the answers' (`mark-p3`, `comment-r2`)."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        super().__init__(problems[0][1], field=problems[0][0])
        self.problems = problems


def _check_answers(
    consultation: Consultation, answers: list[AnswerFields]
) -> tuple[list[AnswerFields], list[tuple[str | None, str]]]:
    allowed = set(items(consultation))
    cleaned: dict[tuple[str, int], AnswerFields] = {}
    problems: list[tuple[str | None, str]] = []
    for fields in answers:
        key = ("p", fields.principle_id) if fields.principle_id else ("r", fields.recommendation_id)
        if key not in allowed:
            raise OperationError("One of the answers is about something not in this consultation.")
        mark = None
        if fields.mark not in (None, ""):
            try:
                mark = Mark(fields.mark)
            except ValueError:
                problems.append((
                    f"mark-{key[0]}{key[1]}",
                    f"“{fields.mark}” is not strength, weakness, opportunity or recommendation.",
                ))  # fmt: skip
                continue
        try:
            comment = clean_text(
                fields.comment, f"comment-{key[0]}{key[1]}", "Comment", COMMENT_MAX
            )
        except OperationError as exc:
            problems.append((exc.field, exc.message))
            continue
        if comment and mark is None:
            problems.append((
                f"mark-{key[0]}{key[1]}",
                "Say whether this is a strength, weakness, opportunity or recommendation.",
            ))  # fmt: skip
            continue
        if mark is None and not comment:
            continue
        cleaned[key] = AnswerFields(
            principle_id=fields.principle_id if key[0] == "p" else None,
            recommendation_id=fields.recommendation_id if key[0] == "r" else None,
            mark=mark,
            comment=comment,
        )
    return list(cleaned.values()), problems


def response_problems(
    consultation: Consultation,
    respondent: Respondent | None,
    answers: list[AnswerFields],
    *,
    email_required: bool = False,
) -> list[tuple[str | None, str]]:
    """Every problem with who answers and what they said, each (field, message); none when
    all is well. Changes nothing: for a page whose own checks refused the form first, so it
    names everything at once."""
    problems: list[tuple[str | None, str]] = []
    if email_required and respondent is not None and not (respondent.email or "").strip():
        problems.append(("email", "Give your email address."))
    if respondent is not None:
        problems += _check_respondent(respondent)[1]
    try:
        problems += _check_answers(consultation, answers)[1]
    except OperationError as exc:
        problems.append((exc.field, exc.message))
    return problems


def _check_respondent(respondent: Respondent) -> tuple[Respondent, list[tuple[str | None, str]]]:
    problems: list[tuple[str | None, str]] = []

    def attempt(clean):
        try:
            return clean()
        except OperationError as exc:
            problems.append((exc.field, exc.message))
            return None

    kind = None
    if respondent.organization_kind not in (None, ""):
        try:
            kind = OrganizationKind(respondent.organization_kind)
        except ValueError:
            problems.append(("organization_kind", "Choose the kind of organization from the list."))
    details = Respondent(
        name=attempt(lambda: _name(respondent.name)),
        email=respondent.email,
        organization=attempt(
            lambda: clean_text(respondent.organization, "organization", "Organization", 200)
        ),
        organization_kind=kind,
        country=attempt(lambda: clean_country(respondent.country)),
        named=bool(respondent.named),
    )
    return details, problems


def _name(value: str | None) -> str | None:
    if not (value or "").strip():
        raise OperationError("Give your name.", field="name")  # the form asks "Your name"
    return clean_text(value, "name", "Name", 200)


def _clean(
    consultation: Consultation,
    respondent: Respondent | None,
    answers: list[AnswerFields],
    problems: list[tuple[str | None, str]] | None = None,
) -> tuple[Respondent | None, list[AnswerFields]]:
    """Who answers and what they said, with every problem of both refused at once."""
    problems = list(problems or [])
    details = None
    if respondent is not None:
        details, found = _check_respondent(respondent)
        problems += found
    cleaned, found = _check_answers(consultation, answers)
    problems += found
    if problems:
        raise Problems(problems)
    return details, cleaned


def _existing(consultation: Consultation, contact: Contact) -> Response | None:
    return db.session.scalar(
        sa.select(Response).where(
            Response.consultation_id == consultation.id, Response.contact_id == contact.id
        )
    )


def _store(
    response: Response, answers: list[AnswerFields], submit: bool
) -> tuple[Response, Outcome]:
    by_key = {(a.principle_id, a.recommendation_id): a for a in response.answers}
    wanted = {(a.principle_id, a.recommendation_id): a for a in answers}
    for key, answer in list(by_key.items()):
        if key not in wanted:
            response.answers.remove(answer)
    for key, fields in wanted.items():
        answer = by_key.get(key)
        if answer is None:
            answer = Answer(principle_id=key[0], recommendation_id=key[1])
            response.answers.append(answer)
        if answer.comment != fields.comment:
            # A changed comment is a new comment: the team reads it again.
            answer.addressed_at = None
            answer.addressed_note = None
            answer.addressed_by_id = None
        answer.mark, answer.comment = fields.mark, fields.comment
    response.updated_at = utcnow()
    if response.submitted_at is not None:
        # Once submitted, the team reads what is stored: a later save is a new submission.
        submit = True
    if not submit:
        outcome = Outcome.SAVED
    else:
        if not answers:
            raise OperationError(
                "Answer at least one principle or recommendation before you submit."
            )
        outcome = Outcome.UPDATED if response.submitted_at is not None else Outcome.SUBMITTED
        response.submitted_at = utcnow()
        response.submissions += 1
        if response.number is None:
            response.number = _next_number(response.consultation_id)
    db.session.flush()
    return response, outcome


def _next_number(consultation_id: int) -> int:
    """The next respondent number of a consultation ("Respondent 3"). Submissions to the same
    consultation take turns until commit, so two at once cannot both take the same number
    (and the unique constraint would refuse it if they did)."""
    serialize_on(f"consultation-response-number:{consultation_id}")
    highest = db.session.scalar(
        sa.select(sa.func.max(Response.number)).where(Response.consultation_id == consultation_id)
    )
    return (highest or 0) + 1


def respond(
    consultation: Consultation,
    contact: Contact,
    answers: list[AnswerFields],
    *,
    submit: bool,
    respondent: Respondent | None = None,
    today: date | None = None,
) -> tuple[Response, Outcome]:
    """Answers through a personal link (the contact is known): save a draft or submit.
    A second submission replaces the first one's answers."""
    check_open(consultation, today)
    response = _existing(consultation, contact)
    if response is None and not _in_segment(consultation, contact):
        raise OperationError("This link is not for this consultation.")
    details, answers = _clean(consultation, respondent, answers)
    if response is not None:
        _lock(response)
    if response is None:
        response = _new_response(consultation, contact, details, source=consultation.access.value)
    elif details is not None:
        _set_details(response, details)
    # What the person saves or submits through their link is what they checked: anything typed
    # on the public page with their address is settled by it.
    response.pending = None
    response, outcome = _store(response, answers, submit)
    if outcome is not Outcome.SAVED:
        audit.record(
            None,
            AuditAction.UPDATE,
            "consultation",
            consultation.id,
            summary=f"Response {'updated' if outcome is Outcome.UPDATED else 'submitted'} "
            f"(response {response.id})",
        )
    return response, outcome


def _lock(response: Response) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        # Two tabs submitting at once take turns (SQLite writes one at a time anyway).
        db.session.execute(
            sa.select(Response.id).where(Response.id == response.id).with_for_update()
        )


def _new_response(consultation, contact, details: Respondent | None, source: str) -> Response:
    org = contact.organization
    response = Response(
        consultation=consultation,
        contact_id=contact.id,
        source=source,
        name=(details.name if details else contact.full_name)[:200],
        submissions=0,
    )
    if details is not None:
        _set_details(response, details)
    else:
        response.organization = org.name if org else None
        response.organization_kind = org.kind if org else None
        response.country = contact.country or (org.country if org else None)
    db.session.add(response)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # The same person's other tab got there first.
        raise OperationError(
            "Your response was saved a moment ago from another window; reload the page."
        ) from None
    return response


def _set_details(response: Response, details: Respondent) -> None:
    response.name = details.name
    response.organization = details.organization
    response.organization_kind = details.organization_kind
    response.country = details.country
    response.named = details.named


def respond_public(
    consultation: Consultation,
    respondent: Respondent,
    answers: list[AnswerFields],
    *,
    submit: bool,
    today: date | None = None,
) -> tuple[Response, Contact, Outcome]:
    """The public page. Matches the person by email (what the team recorded is never
    overwritten) or adds them. For an address we knew already nothing of that person's changes
    here, since anyone can type anyone's address: what was typed is kept aside on their
    response (`Response.pending`) as a draft that their personal link, emailed to that address,
    opens for them to check and submit (Outcome.KEPT)."""
    if consultation.access is not Access.PUBLIC:
        raise OperationError("This consultation is by invitation: use your personal link.")
    check_open(consultation, today)
    missing = [] if (respondent.email or "").strip() else [("email", "Give your email address.")]
    details, answers = _clean(consultation, respondent, answers, missing)
    if submit and not answers:
        raise OperationError("Answer at least one principle or recommendation before you submit.")
    first, _, last = details.name.partition(" ")
    org = org_queries.by_name(details.organization) if details.organization else None
    contact, _created = contact_ops.find_or_create(
        None,
        contact_ops.ContactFields(
            first_name=first,
            last_name=last,
            email=respondent.email,
            organization_id=org.id if org else None,
            country=details.country,
            consent_status=ConsentStatus.UNKNOWN,
        ),
    )
    existing = _existing(consultation, contact)
    if existing is not None or not _created:
        return _keep_typed(consultation, contact, existing, details, answers)
    response = _new_response(consultation, contact, details, source=Access.PUBLIC.value)
    response, outcome = _store(response, answers, submit)
    audit.record(
        None,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Public response {'submitted' if submit else 'saved'} (response {response.id})",
    )
    return response, contact, outcome


def _keep_typed(
    consultation: Consultation,
    contact: Contact,
    response: Response | None,
    details: Respondent,
    answers: list[AnswerFields],
) -> tuple[Response | None, Contact, Outcome]:
    """The public form for an address we know: what was typed goes aside on that person's
    response, for them to check through their link. Their answers (a submitted response, or a
    draft of their own) and their details stay as they were; a later form for the same address
    replaces what was kept before."""
    if not answers:
        return response, contact, Outcome.LINK
    if response is None:
        # A draft in their name, with the details the team has (not the ones typed here).
        response = _new_response(consultation, contact, None, source=Access.PUBLIC.value)
    else:
        _lock(response)
    response.pending = {
        "at": utcnow().isoformat(),
        "respondent": {
            "name": details.name,
            "organization": details.organization,
            "organization_kind": details.organization_kind.value
            if details.organization_kind
            else None,
            "country": details.country,
            "named": details.named,
        },
        "answers": [
            {
                "principle_id": a.principle_id,
                "recommendation_id": a.recommendation_id,
                "mark": Mark(a.mark).value if a.mark else None,
                "comment": a.comment,
            }
            for a in answers
        ],
    }
    db.session.flush()
    audit.record(
        None,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Public form answers kept for the person to check (response {response.id})",
    )
    return response, contact, Outcome.KEPT


def pending_answers(consultation: Consultation, response: Response | None) -> list[AnswerFields]:
    """What was typed on the public page, still about this consultation's items (a draft text
    removed since is left out)."""
    if response is None or not response.pending:
        return []
    allowed = set(items(consultation))
    found = []
    for a in response.pending.get("answers", []):
        key = ("p", a.get("principle_id")) if a.get("principle_id") else (
            "r", a.get("recommendation_id"))  # fmt: skip
        if key in allowed:
            found.append(AnswerFields(**a))
    return found


def discard_pending(consultation: Consultation, contact: Contact) -> bool:
    """The person keeps their response as it was: what was typed on the public page with
    their address goes. A draft made only to hold it goes too. Returns whether anything was
    kept."""
    response = _existing(consultation, contact)
    if response is None or not response.pending:
        return False
    _lock(response)
    response.pending = None
    if response.submitted_at is None and not response.answers:
        db.session.delete(response)
    audit.record(
        None,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Public form answers discarded by the person (response {response.id})",
    )
    db.session.flush()
    return True


# --- the team's reading ------------------------------------------------------------------------


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
        written = db.session.execute(
            sa.update(Answer)
            .where(Answer.id == answer.id, sa.func.coalesce(Answer.themes, "") == seen)
            .values(themes=value or None)
            .execution_options(synchronize_session=False)
        ).rowcount
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


# --- publishing the next version ---------------------------------------------------------------


@dataclass
class PublishFields:
    version: str
    title: str
    make_current: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class PlannedPrinciple:
    """One principle of the version publishing would make."""

    code: str
    title: str
    text: str | None
    recommendation: Recommendation | None = None  # the accepted draft text it takes, if any
    earlier_text: str | None = None  # the consulted version's wording, when it changes

    @property
    def change(self) -> str:
        if self.recommendation is None:
            return "unchanged"
        return "new" if self.recommendation.principle_id is None else "reworded"


@dataclass
class PublishPlan:
    principles: list[PlannedPrinciple]
    accepted: list[Recommendation]
    orphans: list[Recommendation]  # accepted, but their principle was removed
    doubles: dict[str, list[Recommendation]]  # principle code -> its accepted texts, when > 1

    def count(self, change: str) -> int:
        return sum(1 for p in self.principles if p.change == change)

    @property
    def without_text(self) -> list[str]:
        """The codes of the principles that would have no text (the version cannot become
        current until each has one: crm.standards.operations._check_complete)."""
        return [p.code for p in self.principles if not p.text]

    @property
    def without_text_phrase(self) -> str:
        """ "P2", "P2 and P5", "P2–P8" (a run in the version's order), "P2, P4 and P7"."""
        codes = self.without_text
        order = [p.code for p in self.principles]
        if len(codes) > 2 and [order.index(c) for c in codes] == list(
            range(order.index(codes[0]), order.index(codes[0]) + len(codes))
        ):
            return f"{codes[0]}–{codes[-1]}"
        if len(codes) > 1:
            return f"{', '.join(codes[:-1])} and {codes[-1]}"
        return "".join(codes)


def publish_plan(consultation: Consultation) -> PublishPlan:
    """What publishing would make from the accepted draft texts: the consulted version's
    principles in order, each with its accepted new wording, then the accepted new principles.
    The publish page shows it; `publish_version` makes exactly this."""
    accepted = [r for r in ordered_recommendations(consultation) if r.accepted]
    on: dict[int, list[Recommendation]] = {}
    for rec in accepted:
        if rec.principle_id is not None:
            on.setdefault(rec.principle_id, []).append(rec)
    planned = []
    doubles = {}
    for principle in consultation.standard.principles:
        recs = on.get(principle.id, [])
        if len(recs) > 1:
            doubles[principle.code] = recs
        rec = recs[-1] if recs else None
        planned.append(
            PlannedPrinciple(
                code=principle.code,
                title=principle.title,
                text=rec.text if rec else principle.text,
                recommendation=rec,
                earlier_text=principle.text if rec else None,
            )
        )
    planned += [
        PlannedPrinciple(code=r.new_code, title=r.new_title, text=r.text, recommendation=r)
        for r in accepted
        if r.principle_id is None and r.new_code
    ]
    orphans = [r for r in accepted if r.principle_id is None and not r.new_code]
    return PublishPlan(planned, accepted, orphans, doubles)


def publish_version(
    actor, consultation: Consultation, fields: PublishFields, *, today: date | None = None
) -> Standard:
    """After closing: a new version whose principles are the consulted version's with the
    accepted draft texts applied (new wording, new principles): `publish_plan`. It may become
    current at once, so pledges can move to it."""
    if consultation.phase(today) is not Phase.CLOSED:
        raise OperationError("Publish from the draft once the consultation has closed.")
    if consultation.published_standard_id is not None:
        raise OperationError(
            f"Version {consultation.published_standard.version} was already published from "
            "this consultation."
        )
    plan = publish_plan(consultation)
    accepted = plan.accepted
    if not accepted:
        raise OperationError(
            "No draft text is accepted yet: accept the recommendations that go into the new "
            "version first."
        )
    orphans = plan.orphans
    if orphans:
        # Its principle was removed, and it proposes no new one: nowhere to put the text.
        one = len(orphans) == 1
        raise OperationError(
            f"{len(orphans)} accepted draft text{'' if one else 's'} no longer "
            f"belong{'s' if one else ''} to a principle of version {consultation.standard.version}"
            f": use the Edit link beside {'it' if one else 'each'} to choose a principle or "
            f"propose a new one, or set {'it' if one else 'them'} aside."
        )
    if plan.doubles:
        code, recs = next(iter(plan.doubles.items()))
        raise OperationError(
            f"{code} has {len(recs)} accepted draft texts, and a principle takes one wording: "
            "set aside all but one (or edit one to hold the wording you want)."
        )
    source = consultation.standard
    standard = standard_ops.supersede(actor, source, fields.version, fields.title)
    by_code = {p.code: p for p in standard.principles}
    for planned in plan.principles:
        if planned.change == "reworded" and planned.code in by_code:
            by_code[planned.code].text = planned.text
        elif planned.change == "new":
            standard.principles.append(
                Principle(
                    code=planned.code,
                    title=planned.title,
                    text=planned.text,
                    position=len(standard.principles) + 1,
                )
            )
    db.session.flush()
    consultation.published_standard_id = standard.id
    consultation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Published version {standard.version} from {len(accepted)} accepted draft "
        "text" + ("s" if len(accepted) != 1 else ""),
    )
    if fields.make_current:
        standard_ops.set_status(actor, standard, StandardStatus.CURRENT)
    db.session.flush()
    return standard


# --- reminders through the campaign path ---------------------------------------------------------


def _literal(text: str) -> str:
    """Text that goes into a campaign template as it is (a title with "{{" is not a field)."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return text
    if "endraw" in text:
        return text.replace("{", "(").replace("}", ")")
    return "{% raw %}" + text + "{% endraw %}"


def reminder_fields(
    consultation: Consultation, sender_name: str, sender_email: str
) -> CampaignFields:
    """A reminder campaign as the lead first sees it: to those invited who have not answered,
    each with their own link (`{{ consultation_url }}`)."""
    title = _literal(consultation.title)
    closes = f"{consultation.closes_on:%-d %B %Y}"
    body = (
        "Dear {{ first_name }},\n\n"
        f"You are invited to comment on {title}, the consultation on version "
        f"{_literal(consultation.standard.version)} of the WEST Principles, and we have not "
        "heard from you yet. Your view matters to us.\n\n"
        f"Your personal link, to answer or come back and change your answers until {closes}:\n"
        "{{ consultation_url }}\n\n"
        "Please keep it to yourself: anyone with this link can change your response.\n\n"
        "— The WEST Principles community\n"
    )
    return CampaignFields(
        name=f"Reminder: {consultation.title}"[:200],
        purpose=Purpose.CONSULTATION,
        segment_id=None,
        consultation_id=consultation.id,
        sender_name=sender_name,
        sender_email=sender_email,
        subject=f"Reminder: your personal link to {title} (closes {closes})",
        body=body,
    )


def draft_reminder(
    actor, consultation: Consultation, *, sender_name: str, sender_email: str
) -> tuple[Campaign, bool]:
    """A draft campaign to those invited who have not answered yet, for the lead to review
    and send through the campaign flow (the worker drains the outbox). A draft reminder that
    is still unsent is reused rather than doubled. Returns (campaign, created)."""
    if consultation.access is not Access.INVITATION:
        raise OperationError(
            "Only a consultation by invitation has a list of people who have not answered."
        )
    if consultation.phase() is Phase.CLOSED:
        raise OperationError(
            f"This consultation closed on {consultation.closes_on:%-d %B %Y}; there is nothing "
            "left to remind anyone of."
        )
    existing = db.session.scalar(
        sa.select(Campaign)
        .where(
            Campaign.consultation_id == consultation.id,
            Campaign.status == CampaignStatus.DRAFT,
        )
        .order_by(Campaign.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    campaign = campaign_ops.create_campaign(
        actor, reminder_fields(consultation, sender_name, sender_email)
    )
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Reminder drafted (campaign {campaign.id})",
    )
    return campaign, True
