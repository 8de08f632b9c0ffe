"""Answering a consultation: through a personal link (the contact is known) or the public
page (matched by email, never overwriting what the team knows), a draft or a submission, and
what the public page kept aside for the person to check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.consultations.models import Access, Answer, Consultation, Mark, Phase, Response
from crm.consultations.operations.problems import Problems
from crm.consultations.queries import invited_now, response_of
from crm.contacts import operations as contact_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.locks import serialize_on
from crm.core.validation import clean_country, clean_text
from crm.extensions import db
from crm.organizations import queries as org_queries
from crm.organizations.models import OrganizationKind

COMMENT_MAX = 10_000


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

    @classmethod
    def on_item(
        cls, kind: str, item_id: int, mark: Mark | str | None, comment: str | None
    ) -> AnswerFields:
        """An answer on one of `items()`: kind "p" for a principle, "r" for a draft text."""
        return cls(
            principle_id=item_id if kind == "p" else None,
            recommendation_id=item_id if kind == "r" else None,
            mark=mark,
            comment=comment,
        )


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
    problems: Sequence[tuple[str | None, str]] | None = None,
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


def _store(
    response: Response, answers: list[AnswerFields], submit: bool
) -> tuple[Response, Outcome]:
    by_key = {(a.principle_id, a.recommendation_id): a for a in response.answers}
    wanted = {(a.principle_id, a.recommendation_id): a for a in answers}
    for key, gone in list(by_key.items()):
        if key not in wanted:
            response.answers.remove(gone)
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
        answer.mark = Mark(fields.mark) if fields.mark else None
        answer.comment = fields.comment
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
    response = response_of(consultation, contact)
    if response is None and not invited_now(consultation, contact):
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
    response.organization_kind = (
        OrganizationKind(details.organization_kind) if details.organization_kind else None
    )
    response.country = details.country
    response.named = details.named


def respond_public(
    consultation: Consultation,
    respondent: Respondent,
    answers: list[AnswerFields],
    *,
    submit: bool,
    today: date | None = None,
) -> tuple[Response | None, Contact, Outcome]:
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
    assert details is not None  # there is a respondent
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
    existing = response_of(consultation, contact)
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
            "organization_kind": OrganizationKind(details.organization_kind).value
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
    response = response_of(consultation, contact)
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
