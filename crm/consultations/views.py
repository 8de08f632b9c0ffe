"""Consultations for the team (set-up, reading, summary, downloads, publishing) and the
response pages for the public and for invited people (personal links).

The response pages are open to anyone, so they trust nothing: CSRF token, a honeypot field, a
cap per network address per hour on the public form, and a response that never overwrites what
the team knows about a person.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from crm.campaigns.models import Segment
from crm.campaigns.queries import message_counts
from crm.consultations import links, operations, queries
from crm.consultations.forms import (
    AddressedForm,
    ConsultationForm,
    DiscardForm,
    PublishForm,
    RecommendationForm,
    ResponseForm,
    ThemesForm,
)
from crm.consultations.models import Access, Answer, Consultation, Mark, Phase, Recommendation
from crm.contacts.models import Contact
from crm.core.access import Permission, has_permission, public, requires
from crm.core.errors import OperationError
from crm.core.export import csv_response, xlsx_response
from crm.core.flood import check_and_record
from crm.core.forms import VersionedForm, show_operation_error
from crm.core.http import safe_next
from crm.core.unit_of_work import attempt, discard_changes
from crm.extensions import db
from crm.standards.queries import all_standards
from crm.tags.operations import parse_tags

bp = Blueprint("consultations", __name__, url_prefix="/consultations")
public_bp = Blueprint("public_consultations", __name__, url_prefix="/c")


def _get(consultation_id: int) -> Consultation:
    return db.session.get(Consultation, consultation_id) or abort(404)


def _form_choices(form: ConsultationForm) -> None:
    import sqlalchemy as sa

    form.standard_id.choices = [(s.id, f"{s.version} · {s.title} ({s.status.label.lower()})")
                                for s in all_standards()]  # fmt: skip
    form.segment_id.choices = [("", "—")] + [
        (str(s.id), s.name) for s in db.session.scalars(sa.select(Segment).order_by(Segment.name))
    ]


def _fields(form: ConsultationForm) -> operations.ConsultationFields:
    return operations.ConsultationFields(
        standard_id=form.standard_id.data,
        title=form.title.data,
        opens_on=form.opens_on.data,
        closes_on=form.closes_on.data,
        access=form.access.data,
        segment_id=int(form.segment_id.data) if (form.segment_id.data or "").isdigit() else None,
        description=form.description.data,
    )


def _also_refused(form: ConsultationForm, consultation: Consultation) -> None:
    """The form's own checks failed: the consultation's are run too (nothing is kept), so the
    page names every problem at once, not one after the other."""
    try:
        operations._apply(consultation, _fields(form))
    except OperationError as exc:
        for name, message in getattr(exc, "problems", None) or [(exc.field, exc.message)]:
            field = getattr(form, name, None) if name else None
            if field is not None and not field.errors:  # what the form refused is said once
                field.errors = [*field.errors, message]
    finally:
        discard_changes()  # only a check: what it set on the consultation is not kept


@bp.route("/")
@requires(Permission.CONSULTATIONS_VIEW)
def index():
    return render_template(
        "consultations/index.html",
        consultations=queries.all_consultations(),
        counts=queries.response_counts(),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def new():
    form = ConsultationForm()
    _form_choices(form)
    if form.validate_on_submit():
        done = attempt(lambda: operations.create_consultation(current_user, _fields(form)), form)
        if done.ok:
            flash("The consultation is saved.", "success")
            return redirect(url_for("consultations.detail", consultation_id=done.value.id))
    elif request.method == "POST":
        _also_refused(form, Consultation())
    return render_template("consultations/form.html", form=form, consultation=None), (
        422 if form.errors else 200
    )


@bp.route("/<int:consultation_id>/edit", methods=["GET", "POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def edit(consultation_id: int):
    consultation = _get(consultation_id)
    form = ConsultationForm(obj=consultation)
    _form_choices(form)
    if request.method == "GET":
        form.segment_id.data = str(consultation.segment_id or "")
        form.version.data = str(consultation.version)
    if operations._has_responses(consultation):
        form.access.description = "People have answered, so who answers no longer changes."
        form.standard_id.description = "People have answered, so the version no longer changes."
    if consultation.published_standard is not None:
        form.closes_on.description = (
            f"Version {consultation.published_standard.version} was published from it, so its "
            "dates no longer change."
        )
    conflict = False
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.update_consultation(
                current_user, consultation, _fields(form), expected_version=form.loaded_version()
            ),
            form,
        )
        if done.conflict:
            conflict = True
        elif done.ok:
            flash("The consultation is saved.", "success")
            return redirect(url_for("consultations.detail", consultation_id=consultation.id))
    elif request.method == "POST":
        _also_refused(form, consultation)
    status = 409 if conflict else 422 if form.errors else 200
    return render_template(
        "consultations/form.html", form=form, consultation=consultation, conflict=conflict
    ), status


def _recommendation_form(
    consultation: Consultation, recommendation: Recommendation | None = None
) -> RecommendationForm:
    form = RecommendationForm(obj=recommendation)
    if recommendation is not None and request.method == "GET":
        form.principle_id.data = str(recommendation.principle_id or "")
        form.version.data = str(recommendation.version)
    form.principle_id.choices = [("", "A new principle for the next version")] + [
        (str(p.id), p.label) for p in consultation.standard.principles
    ]
    return form


@bp.route("/<int:consultation_id>")
@requires(Permission.CONSULTATIONS_VIEW)
def detail(consultation_id: int):
    consultation = _get(consultation_id)
    is_invitation = consultation.access is Access.INVITATION
    reminders = queries.reminders(consultation)
    return render_template(
        "consultations/detail.html",
        consultation=consultation,
        summary=queries.summary(consultation),
        rec_form=_recommendation_form(consultation),
        not_answered=queries.count_not_answered(consultation) if is_invitation else None,
        reminders=reminders,
        reminder_counts=message_counts([c.id for c in reminders]),
        next_version=queries.suggested_version(consultation),
        rec_answers=queries.answers_by_recommendation(consultation),
        drafts=queries.ordered_recommendations(consultation),
    )


@bp.route("/<int:consultation_id>/delete", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def delete(consultation_id: int):
    consultation = _get(consultation_id)
    ThemesForm().validate_on_submit() or abort(400)
    title = consultation.title
    if not attempt(lambda: operations.delete_consultation(current_user, consultation)).ok:
        return redirect(url_for("consultations.detail", consultation_id=consultation_id))
    flash(f"Deleted “{title}”.", "success")
    return redirect(url_for("consultations.index"))


@bp.route("/<int:consultation_id>/recommendations", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def add_recommendation(consultation_id: int):
    consultation = _get(consultation_id)
    form = _recommendation_form(consultation)
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.add_recommendation(
                current_user, consultation, _recommendation_fields(form)
            ),
            show=False,
        )
        if not done.ok:
            flash(f"Not added: {done.error.message}", "danger")
        else:
            flash("The draft text is added.", "success")
    else:
        flash("Not added: write the draft text.", "danger")
    return redirect(url_for("consultations.detail", consultation_id=consultation.id) + "#draft")


def _recommendation_fields(form: RecommendationForm) -> operations.RecommendationFields:
    return operations.RecommendationFields(
        text=form.text.data,
        principle_id=int(form.principle_id.data)
        if (form.principle_id.data or "").isdigit()
        else None,
        new_code=form.new_code.data,
        new_title=form.new_title.data,
    )


@bp.route("/recommendations/<int:recommendation_id>/edit", methods=["GET", "POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def edit_recommendation(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    consultation = rec.consultation
    form = _recommendation_form(consultation, rec)
    conflict = False
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.update_recommendation(
                current_user,
                rec,
                _recommendation_fields(form),
                expected_version=form.loaded_version(),
            ),
            form,
        )
        if done.conflict:
            conflict = True
            form.version.data = str(rec.version)  # saving again replaces theirs, as it says
        elif done.ok:
            flash("The draft text is saved.", "success")
            return redirect(
                url_for("consultations.detail", consultation_id=consultation.id) + "#draft"
            )
    status = 409 if conflict else 422 if form.errors else 200
    return render_template(
        "consultations/recommendation.html",
        form=form,
        consultation=consultation,
        recommendation=rec,
        answered=operations.answers_on(rec),
        locked=operations.draft_text_locked(rec),
        conflict=conflict,
    ), status


@bp.route("/recommendations/<int:recommendation_id>/delete", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def delete_recommendation(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    consultation_id = rec.consultation_id
    VersionedForm().validate_on_submit() or abort(400)
    label = rec.label
    if attempt(lambda: operations.delete_recommendation(current_user, rec)).ok:
        flash(f"Deleted the draft text “{label}”.", "success")
    return redirect(url_for("consultations.detail", consultation_id=consultation_id) + "#draft")


@bp.route("/recommendations/<int:recommendation_id>/accept", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def accept(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    attempt(lambda: operations.set_accepted(current_user, rec, request.form.get("accepted") == "1"))
    return redirect(url_for("consultations.detail", consultation_id=rec.consultation_id) + "#draft")


@bp.route("/<int:consultation_id>/comments")
@requires(Permission.CONSULTATIONS_VIEW)
def comments(consultation_id: int):
    consultation = _get(consultation_id)
    principle_id = request.args.get("principle", type=int)
    recommendation_id = request.args.get("recommendation", type=int)
    # The filter's one list: "p3" a principle, "r15" a draft text (links may say either way).
    item = request.args.get("item", "")
    if item[:1] in ("p", "r") and item[1:].isdigit():
        principle_id, recommendation_id = (
            (int(item[1:]), None) if item[0] == "p" else (None, int(item[1:]))
        )
    theme = request.args.get("theme", "").strip().lower() or None
    open_only = request.args.get("open") == "1"
    page = queries.comments_page(
        consultation,
        page=request.args.get("page", 1, type=int),
        principle_id=principle_id,
        recommendation_id=recommendation_id,
        theme=theme,
        open_only=open_only,
    )
    return render_template(
        "consultations/comments.html",
        consultation=consultation,
        page=page,
        answers=page.answers,
        labels=queries.respondent_labels(queries.submitted(consultation)),
        principle_id=principle_id,
        recommendation_id=recommendation_id,
        filter_items=_filter_items(consultation),
        theme=theme,
        open_only=open_only,
        themes_form=ThemesForm(),
        addressed_form=AddressedForm(),
    )


def _filter_items(consultation: Consultation) -> list[dict]:
    """The comments filter's choices in the summary's order: each principle, the draft texts on
    it right after it, then the proposed new principles."""
    recs_of: dict[int | None, list] = {}
    for rec in queries.ordered_recommendations(consultation):
        recs_of.setdefault(rec.principle_id, []).append(rec)
    found = []
    for principle in consultation.standard.principles:
        found.append({"kind": "p", "id": principle.id, "label": principle.label, "sub": False})
        found.extend(
            {"kind": "r", "id": r.id, "label": _rec_choice(r), "sub": True}
            for r in recs_of.pop(principle.id, [])
        )
    found.extend(
        {"kind": "r", "id": r.id, "label": _rec_choice(r), "sub": False}
        for recs in recs_of.values()
        for r in recs
    )
    return found


def _rec_choice(rec) -> str:
    text = " ".join((rec.text or "").split())
    short = text if len(text) <= 60 else text[:59].rstrip() + "…"
    if rec.principle is not None and short:
        return f"{rec.label}: {short}"
    return rec.label


def _back_to_comments(answer: Answer):
    target = request.form.get("next", "")

    return redirect(
        (safe_next(target) or url_for(
            "consultations.comments", consultation_id=answer.response.consultation_id
        )) + f"#answer-{answer.id}"
    )  # fmt: skip


@bp.route("/answers/<int:answer_id>/themes", methods=["POST"])
@requires(Permission.CONSULTATIONS_FEEDBACK)
def themes(answer_id: int):
    answer = db.session.get(Answer, answer_id) or abort(404)
    form = ThemesForm()
    if not form.validate_on_submit():
        flash("Themes not saved: " + "; ".join(form.themes.errors or ["try again."]), "danger")
        return _back_to_comments(answer)
    typed = ", ".join(parse_tags(form.themes.data)) or "no themes"
    done = attempt(
        # The themes the page showed, to refuse saving over someone else's change meanwhile.
        lambda: operations.set_themes(
            current_user, answer, form.themes.data, seen=request.form.get("seen")
        ),
        show=False,
    )
    if done.conflict:
        flash(f"{done.error.message} You had typed: {typed}.", "warning")
    elif not done.ok:
        flash(f"Themes not saved: {done.error.message}", "danger")
    else:
        flash("Themes saved.", "success")
    return _back_to_comments(answer)


@bp.route("/answers/<int:answer_id>/addressed", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def addressed(answer_id: int):
    answer = db.session.get(Answer, answer_id) or abort(404)
    form = AddressedForm()

    def save() -> None:
        if not form.validate_on_submit():
            raise OperationError("the note is too long (1,000 characters at most).")
        if request.form.get("reopen") == "1":
            operations.reopen_comment(current_user, answer)
        else:
            operations.mark_addressed(current_user, answer, form.note.data)

    done = attempt(save, show=False)
    if not done.ok:
        flash(f"Not saved: {done.error.message}", "danger")
    else:
        flash("Saved.", "success")
    return _back_to_comments(answer)


@bp.route("/<int:consultation_id>/comments.<fmt>")
@requires(Permission.CONSULTATIONS_MANAGE)
def export(consultation_id: int, fmt: str):
    consultation = _get(consultation_id)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    frame = queries.comments_frame(consultation)
    name = f"consultation-{consultation.id}-{consultation.title}-comments"
    if fmt == "csv":
        return csv_response(frame, name)
    return xlsx_response(frame, name, sheet="Comments")


@bp.route("/<int:consultation_id>/not-answered")
@requires(Permission.CONSULTATIONS_MANAGE)
def not_answered(consultation_id: int):
    consultation = _get(consultation_id)
    if consultation.access is not Access.INVITATION:
        abort(404)
    people = queries.not_answered(consultation)
    make_link = operations.personal_link_maker(consultation.id)
    reminders = queries.reminders(consultation)
    return render_template(
        "consultations/not_answered.html",
        consultation=consultation,
        people=people,
        total=queries.count_not_answered(consultation),
        limit=queries.NON_RESPONDERS_LISTED,
        link=lambda contact: make_link(contact.id),
        reminded=queries.last_reminded(consultation, [c.id for c in people]),
        reminders=reminders,
        reminder_counts=message_counts([c.id for c in reminders]),
        can_remind=has_permission(current_user, Permission.CAMPAIGNS_EDIT),
    )


@bp.route("/<int:consultation_id>/not-answered.csv")
@requires(Permission.CONSULTATIONS_MANAGE)
def not_answered_csv(consultation_id: int):
    consultation = _get(consultation_id)
    if consultation.access is not Access.INVITATION:
        abort(404)
    make_link = operations.personal_link_maker(consultation.id)
    frame = queries.not_answered_frame(consultation, lambda contact: make_link(contact.id))
    return csv_response(frame, f"consultation-{consultation.id}-not-answered")


@bp.route("/<int:consultation_id>/remind", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def remind(consultation_id: int):
    """ "Remind them": a draft campaign to those invited who have not answered, each with their
    own link; the lead reviews it and sends it through the campaign flow (the outbox)."""
    if not has_permission(current_user, Permission.CAMPAIGNS_EDIT):
        abort(403)
    consultation = _get(consultation_id)
    if consultation.access is not Access.INVITATION:
        abort(404)
    done = attempt(
        lambda: operations.draft_reminder(
            current_user,
            consultation,
            sender_name=current_user.name,
            sender_email=current_user.email,
        ),
        show=False,
    )
    if not done.ok:
        flash(f"No reminder drafted: {done.error.message}", "danger")
        return redirect(url_for("consultations.not_answered", consultation_id=consultation.id))
    campaign, created = done.value
    if created:
        flash(
            "A draft reminder is ready. Read it, preview it, and send it: it goes to those who "
            "have still not answered when it is sent, each with their own link.",
            "success",
        )
    else:
        flash("A draft reminder was already waiting: here it is.", "info")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/<int:consultation_id>/publish", methods=["GET", "POST"])
@requires(Permission.STANDARDS_MANAGE)
def publish(consultation_id: int):
    consultation = _get(consultation_id)
    form = PublishForm()
    if request.method == "GET":
        form.new_version.data = queries.suggested_version(consultation)
        form.title.data = consultation.standard.title
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.publish_version(
                current_user,
                consultation,
                operations.PublishFields(
                    version=form.new_version.data,
                    title=form.title.data,
                    make_current=form.make_current.data,
                ),
            ),
            show=False,  # "version" names the form's new_version field
        )
        if not done.ok:
            if done.error.field == "version":
                form.new_version.errors = [*form.new_version.errors, done.error.message]
            else:
                show_operation_error(form, done.error)
        else:
            standard = done.value
            flash(
                f"Version {standard.version} is published"
                + (" and current." if form.make_current.data else " as a draft."),
                "success",
            )
            return redirect(url_for("standards.detail", standard_id=standard.id))
    return render_template(
        "consultations/publish.html",
        consultation=consultation,
        form=form,
        plan=operations.publish_plan(consultation),
        phase=consultation.phase(),
    ), (422 if form.errors else 200)


# --- response pages ------------------------------------------------------------------------------

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
MAIL_MESSAGES = {
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


def _address() -> str:
    return request.remote_addr or "unknown"


def _answers_from_request(consultation: Consultation) -> list[operations.AnswerFields]:
    answers = []
    for kind, item_id in operations.items(consultation):
        mark = request.form.get(f"mark-{kind}{item_id}", "")
        comment = request.form.get(f"comment-{kind}{item_id}", "")
        if not mark and not comment.strip():
            continue
        answers.append(
            operations.AnswerFields(
                principle_id=item_id if kind == "p" else None,
                recommendation_id=item_id if kind == "r" else None,
                mark=mark,
                comment=comment,
            )
        )
    return answers


def _respondent(form: ResponseForm) -> operations.Respondent:
    return operations.Respondent(
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
    for kind, item_id in operations.items(consultation):
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
        token = request.view_args.get("token")
        pairs = [
            (name, message)
            for name, message in operations.response_problems(
                consultation,
                _respondent(form),
                _answers_from_request(consultation),
                email_required=not token,
            )
            # What the form refused already is said once, as the form said it.
            if not (name in ABOUT_FIELDS and getattr(form, name).errors)
        ]
    elif isinstance(exc, operations.Problems):
        pairs = exc.problems
    else:
        pairs = [(exc.field, exc.message)]
    # On a personal link the address is known and shown, not asked.
    shown = [n for n in ABOUT_FIELDS if n != "email" or not request.view_args.get("token")]
    general, item_errors = [], {}
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
    for kind, item_id in operations.items(consultation):
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


@public_bp.route("/<int:consultation_id>", methods=["GET", "POST"])
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
        if form.website.data:
            # A bot filled the hidden field: look successful, store nothing.
            return redirect(url_for(".done", consultation_id=consultation.id, result="public"))

        def answer() -> links.PublicAnswer:
            check_and_record(
                "consultation-response",
                _address(),
                current_app.config["PUBLIC_FORM_HOURLY_LIMIT"],
            )
            return links.answer_publicly(
                consultation, _respondent(form), _answers_from_request(consultation), submit=submit
            )

        done = attempt(answer, show=False)  # every problem is shown on the page
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
        return operations.read_personal_token(consultation, token)
    except OperationError as exc:
        page = render_template(
            "consultations/public_message.html", consultation=consultation, message=exc.message
        )
        return make_response(page, 404)


@public_bp.route("/<int:consultation_id>/r/<token>", methods=["GET", "POST"])
@public
def personal(consultation_id: int, token: str):
    consultation = _public(consultation_id)
    contact = _link_holder(consultation, token)
    if not isinstance(contact, Contact):
        return contact  # the link does not work: its 404 page
    existing = operations._existing(consultation, contact)
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
        if form.website.data:
            return redirect(url_for(".done", consultation_id=consultation.id, result="submitted"))
        done = attempt(
            lambda: operations.respond(
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
        result = "saved-link" if outcome is operations.Outcome.SAVED else outcome.value
        return redirect(
            url_for(".done", consultation_id=consultation.id, result=result, token=token)
        )
    if request.method == "POST":
        answers = _posted_answers()
    else:
        # What was typed on the public page goes over the answers they have, item by item.
        answers = {**stored, **_answer_dict(operations.pending_answers(consultation, existing))}
    return render(answers, 422 if form.errors else 200)


def _answer_dict(answers) -> dict[str, dict]:
    return {
        (f"p{a.principle_id}" if a.principle_id else f"r{a.recommendation_id}"): {
            "mark": a.mark.value if isinstance(a.mark, Mark) else (a.mark or ""),
            "comment": a.comment or "",
        }
        for a in answers
    }


@public_bp.route("/<int:consultation_id>/r/<token>/discard", methods=["POST"])
@public
def discard(consultation_id: int, token: str):
    """The person keeps their response as it was: what was typed on the public page with
    their address goes."""
    consultation = _public(consultation_id)
    contact = _link_holder(consultation, token)
    if not isinstance(contact, Contact):
        return contact  # the link does not work: its 404 page
    DiscardForm().validate_on_submit() or abort(400)
    operations.discard_pending(consultation, contact)
    return redirect(
        url_for(".done", consultation_id=consultation.id, result="discarded", token=token)
    )


@public_bp.route("/<int:consultation_id>/done")
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
