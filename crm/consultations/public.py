"""The response pages of a consultation, for the public (a public consultation's form) and for
invited people (their personal link), and the page after answering.

They are open to anyone, so they trust nothing: CSRF token, a honeypot field, a cap per network
address per hour on the public form, and a response that never overwrites what the team knows
about a person.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from crm.consultations import queries
from crm.consultations.forms import DiscardForm, ResponseForm
from crm.consultations.models import Access, Consultation, Mark, Phase
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import public_form
from crm.consultations.operations import responses as response_ops
from crm.consultations.operations.problems import Problems
from crm.contacts.models import Contact
from crm.core.access import public
from crm.core.errors import OperationError
from crm.core.public_forms import filled_honeypot, submit_public_form
from crm.core.unit_of_work import attempt
from crm.extensions import db

bp = Blueprint("public_consultations", __name__, url_prefix="/c")


RESULT_MESSAGES = {
    "saved-link": "Your answers are saved as a draft. Come back through the same link to finish "
    "them before the consultation closes.",
    "submitted": "Thank you: your response is submitted. You can still change it through your "
    "personal link until the consultation closes.",
    "updated": "Your response is updated: this submission replaced your earlier one (only one "
    "response per person is kept).",
    # The page after the public form says the same whether the address was known or not:
    # anyone can type anyone's address. What happened is told in the email, to its owner.
    "public": "Thank you. A link is on its way to {email}: open it to check your answers, and "
    "to submit or change them until {closes}.",
    "discarded": "What was typed on the public page with your address is gone; your response is "
    "as it was.",
}
# The public page's result when no email with the link was queued (the address had its emails
# for the hour): said as it is, and the same for a known address and a new one.
# Keyed (result, the "mail" argument), which is None when the link went as usual.
MAIL_MESSAGES: dict[tuple[str, str | None], str] = {
    ("public", "limited"): "Thank you. We did not email a link this time: we already sent "
    "several to this address in the last hour. Use the latest one, or try again later.",
}
# The address a public form's link went to, for the page after it (kept out of the URL).
LINK_SENT_TO = "consultation-link-to"


def _public(consultation_id: int) -> Consultation:
    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None:
        abort(404)
    return consultation


def _answers_from_request(consultation: Consultation) -> list[response_ops.AnswerFields]:
    answers = []
    for kind, item_id in response_ops.items(consultation):
        mark = request.form.get(f"mark-{kind}{item_id}", "")
        comment = request.form.get(f"comment-{kind}{item_id}", "")
        if not mark and not comment.strip():
            continue
        answers.append(response_ops.AnswerFields.on_item(kind, item_id, mark, comment))
    return answers


def _respondent(form: ResponseForm) -> response_ops.Respondent:
    return response_ops.Respondent(
        name=form.name.data,
        email=form.email.data,
        organization=form.organization.data,
        organization_kind=form.organization_kind.data,
        country=form.country.data,
        named=form.named.data,
    )


def _render_response(
    consultation,
    form,
    answers_by_key,
    *,
    token=None,
    contact=None,
    status=200,
    response=None,
    stored=None,
    exc: OperationError | None = None,
):
    headings = _headings(consultation)
    errors, item_errors = _problems(consultation, form, exc, headings)
    late = None
    if request.method == "POST" and consultation.phase() is not Phase.OPEN:
        late = _typed(consultation, answers_by_key, headings)
    return render_template(
        "consultations/respond.html",
        consultation=consultation,
        form=form,
        answers=answers_by_key,
        token=token,
        contact=contact,
        marks=list(Mark),
        phase=consultation.phase(),
        Phase=Phase,
        response=response,
        pending=response.pending if response is not None else None,
        pending_at=_pending_at(response),
        stored=stored,
        discard_form=DiscardForm(),
        headings=headings,
        errors=errors,
        item_errors=item_errors,
        late=late,
    ), status


def _typed(consultation, answers_by_key: dict, headings: dict) -> list[dict]:
    """What a post after closing said, in the page's order, to show back for copying."""
    labels = {m.value: m.label for m in Mark}
    typed = []
    for kind, item_id in response_ops.items(consultation):
        key = f"{kind}{item_id}"
        answer = answers_by_key.get(key) or {}
        mark, comment = answer.get("mark", ""), (answer.get("comment") or "").strip()
        if mark or comment:
            typed.append(
                {"key": key, "heading": headings[key], "mark": labels.get(mark, mark),
                 "mark_value": mark if mark in labels else "", "comment": comment}
            )  # fmt: skip
    return typed


def _headings(consultation: Consultation) -> dict[str, str]:
    """Each item's heading on the response page, by its field key ("p3", "r2")."""
    headings = {f"p{p.id}": p.label for p in consultation.standard.principles}
    for rec in consultation.recommendations:
        if rec.principle is not None:
            headings[f"r{rec.id}"] = f"Draft recommendation on {rec.principle.code}"
        else:
            headings[f"r{rec.id}"] = f"Proposed new principle {rec.new_code} · {rec.new_title}"
    return headings


ABOUT_FIELDS = ("name", "email", "organization", "organization_kind", "country", "named")


def _problems(consultation, form, exc, headings) -> tuple[list[dict], dict[str, dict]]:
    """Everything refused in a posted response, for the summary at the top (each problem with
    the field it links to and the principle or recommendation it is about) and for the items
    themselves ({"p3": {"mark": message, "comment": message}})."""
    if request.method != "POST":
        return [], {}
    if exc is None:
        # The form's own checks failed first: the answers are checked too, to name everything.
        if not form.errors:
            return [], {}
        token = (request.view_args or {}).get("token")
        pairs = [
            (name, message)
            for name, message in response_ops.response_problems(
                consultation,
                _respondent(form),
                _answers_from_request(consultation),
                email_required=not token,
            )
            # What the form refused already is said once, as the form said it.
            if not (name in ABOUT_FIELDS and getattr(form, name).errors)
        ]
    elif isinstance(exc, Problems):
        pairs = exc.problems
    else:
        pairs = [(exc.field, exc.message)]
    # On a personal link the address is known and shown, not asked.
    shown = [n for n in ABOUT_FIELDS if n != "email" or not (request.view_args or {}).get("token")]
    general: list[dict] = []
    item_errors: dict[str, dict[str, str]] = {}
    for field_name, message in pairs:
        if field_name and field_name.startswith(("mark-", "comment-")):
            kind, key = field_name.split("-", 1)
            item_errors.setdefault(key, {})[kind] = message
        elif field_name in shown:
            field = getattr(form, field_name)
            if message not in field.errors:
                field.errors = [*field.errors, message]
        else:
            general.append({"message": message})
    summary = list(general)
    for name in shown:
        field = getattr(form, name)
        summary.extend(
            {"href": f"#{field.id}", "label": field.label.text, "message": error}
            for error in field.errors
        )
    for kind, item_id in response_ops.items(consultation):
        key = f"{kind}{item_id}"
        found = item_errors.get(key, {})
        if "mark" in found:
            summary.append(
                {"href": f"#mark-{key}-strength", "label": headings[key], "message": found["mark"]}
            )
        if "comment" in found:
            summary.append(
                {"href": f"#comment-{key}", "label": headings[key], "message": found["comment"]}
            )
    return summary, item_errors


def _pending_at(response):
    from datetime import datetime

    if response is None or not response.pending or not response.pending.get("at"):
        return None
    return datetime.fromisoformat(response.pending["at"])


def _posted_answers() -> dict[str, dict]:
    keys = {k.split("-", 1)[1] for k in request.form if k.startswith(("mark-", "comment-"))}
    return {
        key: {
            "mark": request.form.get(f"mark-{key}", ""),
            "comment": request.form.get(f"comment-{key}", ""),
        }
        for key in keys
    }


@bp.route("/<int:consultation_id>", methods=["GET", "POST"])
@public
def respond(consultation_id: int):
    consultation = _public(consultation_id)
    if consultation.access is not Access.PUBLIC:
        abort(404)
    form = ResponseForm()
    if request.method == "POST" and not consultation.is_open:
        # The page says it is closed; what was typed is shown back to copy.
        return _render_response(consultation, form, _posted_answers(), status=409)
    if form.validate_on_submit():
        submit = request.form.get("action") == "submit"

        def answer() -> public_form.PublicAnswer:
            return public_form.answer_publicly(
                consultation, _respondent(form), _answers_from_request(consultation), submit=submit
            )

        # Every problem is shown on the page, by the item it is about.
        done = submit_public_form(form, "consultation-response", answer, show=False)
        if done is None:  # a bot: look successful, store nothing
            return redirect(url_for(".done", consultation_id=consultation.id, result="public"))
        if not done.ok:
            return _render_response(
                consultation, form, _posted_answers(), status=422, exc=done.error
            )
        from flask import session

        session[LINK_SENT_TO] = done.value.contact.email
        return redirect(
            url_for(
                ".done",
                consultation_id=consultation.id,
                result="public",
                mail=None if done.value.mailed else "limited",
            )
        )
    status = 422 if form.errors else 200
    return _render_response(consultation, form, _posted_answers(), status=status)


def _link_holder(consultation, token: str):
    """The contact a personal link belongs to, or the 404 page saying why it does not work."""
    try:
        return link_ops.read_personal_token(consultation, token)
    except OperationError as exc:
        page = render_template(
            "consultations/public_message.html", consultation=consultation, message=exc.message
        )
        return make_response(page, 404)


@bp.route("/<int:consultation_id>/r/<token>", methods=["GET", "POST"])
@public
def personal(consultation_id: int, token: str):
    consultation = _public(consultation_id)
    contact = _link_holder(consultation, token)
    if not isinstance(contact, Contact):
        return contact  # the link does not work: its 404 page
    existing = queries.response_of(consultation, contact)
    pending = existing.pending if existing is not None else None
    form = ResponseForm(obj=existing)
    if request.method == "GET":
        form.email.data = contact.email
        if existing is None:
            form.name.data = contact.full_name
            org = contact.organization
            form.organization.data = org.name if org else None
            form.organization_kind.data = org.kind.value if org else ""
            form.country.data = contact.country or (org.country if org else None)
        elif existing.organization_kind:
            form.organization_kind.data = existing.organization_kind.value
        if pending:
            # What was typed on the public page is shown for the person to check.
            typed = pending.get("respondent", {})
            form.name.data = typed.get("name") or form.name.data
            form.organization.data = typed.get("organization")
            form.organization_kind.data = typed.get("organization_kind") or ""
            form.country.data = typed.get("country")
            form.named.data = bool(typed.get("named"))
    stored = _answer_dict(existing.answers if existing else [])

    def render(answers: dict, status: int, exc: OperationError | None = None):
        return _render_response(
            consultation,
            form,
            answers,
            token=token,
            contact=contact,
            status=status,
            response=existing,
            stored=stored if pending else None,
            exc=exc,
        )

    if request.method == "POST" and not consultation.is_open:
        return render(_posted_answers(), 409)
    if form.validate_on_submit():
        submit = request.form.get("action") == "submit"
        if filled_honeypot(form):  # a bot: look successful, store nothing
            return redirect(url_for(".done", consultation_id=consultation.id, result="submitted"))
        done = attempt(
            lambda: response_ops.respond(
                consultation,
                contact,
                _answers_from_request(consultation),
                submit=submit,
                respondent=_respondent(form),
            ),
            show=False,  # every problem is shown on the page, by the item it is about
        )
        if not done.ok:
            return render(_posted_answers(), 422, done.error)
        _response, outcome = done.value
        result = "saved-link" if outcome is response_ops.Outcome.SAVED else outcome.value
        return redirect(
            url_for(".done", consultation_id=consultation.id, result=result, token=token)
        )
    if request.method == "POST":
        answers = _posted_answers()
    else:
        # What was typed on the public page goes over the answers they have, item by item.
        answers = {**stored, **_answer_dict(response_ops.pending_answers(consultation, existing))}
    return render(answers, 422 if form.errors else 200)


def _answer_dict(answers) -> dict[str, dict]:
    return {
        (f"p{a.principle_id}" if a.principle_id else f"r{a.recommendation_id}"): {
            "mark": a.mark.value if isinstance(a.mark, Mark) else (a.mark or ""),
            "comment": a.comment or "",
        }
        for a in answers
    }


@bp.route("/<int:consultation_id>/r/<token>/discard", methods=["POST"])
@public
def discard(consultation_id: int, token: str):
    """The person keeps their response as it was: what was typed on the public page with
    their address goes."""
    consultation = _public(consultation_id)
    contact = _link_holder(consultation, token)
    if not isinstance(contact, Contact):
        return contact  # the link does not work: its 404 page
    DiscardForm().validate_on_submit() or abort(400)
    response_ops.discard_pending(consultation, contact)
    return redirect(
        url_for(".done", consultation_id=consultation.id, result="discarded", token=token)
    )


@bp.route("/<int:consultation_id>/done")
@public
def done(consultation_id: int):
    consultation = _public(consultation_id)
    result = request.args.get("result", "")
    if result not in RESULT_MESSAGES:
        return redirect(url_for(".respond", consultation_id=consultation.id))
    token = request.args.get("token")
    mail = request.args.get("mail")
    message = MAIL_MESSAGES.get((result, mail)) or RESULT_MESSAGES[result]
    from flask import session

    email = session.pop(LINK_SENT_TO, None) or "the address you gave"
    return render_template(
        "consultations/public_message.html",
        consultation=consultation,
        message=message.format(email=email, closes=f"{consultation.closes_on:%-d %B %Y}"),
        token=token,
        success=mail != "limited",
        today=date.today(),
    )
