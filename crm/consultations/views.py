"""Consultations for the team (set-up, reading, summary, downloads, publishing) and the
response pages for the public and for invited people (personal links).

The response pages are open to anyone, so they trust nothing: CSRF token, a honeypot field, a
cap per network address per hour on the public form, and a response that never overwrites what
the team knows about a person.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.campaigns.queries import message_counts
from crm.consultations import operations, queries
from crm.consultations.forms import (
    AddressedForm,
    ConsultationForm,
    PublishForm,
    RecommendationForm,
    ResponseForm,
    ThemesForm,
)
from crm.consultations.models import Access, Answer, Consultation, Mark, Phase, Recommendation
from crm.core.access import Permission, has_permission, public, requires
from crm.core.errors import ConflictError, OperationError
from crm.core.export import csv_response, xlsx_response
from crm.core.flood import check_and_record
from crm.core.forms import VersionedForm, show_operation_error
from crm.core.mail import MailError, MailMessage, send_mail
from crm.extensions import db
from crm.standards.queries import all_standards
from crm.tags.operations import parse_tags

bp = Blueprint("consultations", __name__, url_prefix="/consultations")
public_bp = Blueprint("public_consultations", __name__, url_prefix="/c")


def _get(consultation_id: int) -> Consultation:
    return db.session.get(Consultation, consultation_id) or abort(404)


def _form_choices(form: ConsultationForm) -> None:
    import sqlalchemy as sa

    from crm.campaigns.models import Segment

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
        try:
            consultation = operations.create_consultation(current_user, _fields(form))
        except OperationError as exc:
            db.session.rollback()
            show_operation_error(form, exc)
        else:
            db.session.commit()
            flash("The consultation is saved.", "success")
            return redirect(url_for("consultations.detail", consultation_id=consultation.id))
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
        try:
            operations.update_consultation(
                current_user, consultation, _fields(form), expected_version=form.loaded_version()
            )
        except ConflictError:
            db.session.rollback()
            conflict = True
        except OperationError as exc:
            db.session.rollback()
            show_operation_error(form, exc)
        else:
            db.session.commit()
            flash("The consultation is saved.", "success")
            return redirect(url_for("consultations.detail", consultation_id=consultation.id))
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
    try:
        operations.delete_consultation(current_user, consultation)
        db.session.commit()
    except OperationError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("consultations.detail", consultation_id=consultation_id))
    flash(f"Deleted “{title}”.", "success")
    return redirect(url_for("consultations.index"))


@bp.route("/<int:consultation_id>/recommendations", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def add_recommendation(consultation_id: int):
    consultation = _get(consultation_id)
    form = _recommendation_form(consultation)
    if form.validate_on_submit():
        try:
            operations.add_recommendation(current_user, consultation, _recommendation_fields(form))
        except OperationError as exc:
            db.session.rollback()
            flash(f"Not added: {exc.message}", "danger")
        else:
            db.session.commit()
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
        try:
            operations.update_recommendation(
                current_user, rec, _recommendation_fields(form),
                expected_version=form.loaded_version(),
            )  # fmt: skip
        except ConflictError:
            db.session.rollback()
            conflict = True
            form.version.data = str(rec.version)  # saving again replaces theirs, as it says
        except OperationError as exc:
            db.session.rollback()
            show_operation_error(form, exc)
        else:
            db.session.commit()
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
    try:
        operations.delete_recommendation(current_user, rec)
    except OperationError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        db.session.commit()
        flash(f"Deleted the draft text “{label}”.", "success")
    return redirect(url_for("consultations.detail", consultation_id=consultation_id) + "#draft")


@bp.route("/recommendations/<int:recommendation_id>/accept", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def accept(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    try:
        operations.set_accepted(current_user, rec, request.form.get("accepted") == "1")
    except OperationError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        db.session.commit()
    return redirect(url_for("consultations.detail", consultation_id=rec.consultation_id) + "#draft")


@bp.route("/<int:consultation_id>/comments")
@requires(Permission.CONSULTATIONS_VIEW)
def comments(consultation_id: int):
    consultation = _get(consultation_id)
    principle_id = request.args.get("principle", type=int)
    recommendation_id = request.args.get("recommendation", type=int)
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
        theme=theme,
        open_only=open_only,
        themes_form=ThemesForm(),
        addressed_form=AddressedForm(),
    )


def _back_to_comments(answer: Answer):
    target = request.form.get("next", "")
    from crm.core.http import safe_next

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
    try:
        # The themes the page showed, to refuse saving over someone else's change meanwhile.
        operations.set_themes(current_user, answer, form.themes.data, seen=request.form.get("seen"))
    except ConflictError as exc:
        db.session.rollback()
        flash(f"{exc.message} You had typed: {typed}.", "warning")
    except OperationError as exc:
        db.session.rollback()
        flash(f"Themes not saved: {exc.message}", "danger")
    else:
        db.session.commit()
        flash("Themes saved.", "success")
    return _back_to_comments(answer)


@bp.route("/answers/<int:answer_id>/addressed", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def addressed(answer_id: int):
    answer = db.session.get(Answer, answer_id) or abort(404)
    form = AddressedForm()
    try:
        if not form.validate_on_submit():
            raise OperationError("the note is too long (1,000 characters at most).")
        if request.form.get("reopen") == "1":
            operations.reopen_comment(current_user, answer)
        else:
            operations.mark_addressed(current_user, answer, form.note.data)
    except OperationError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc.message}", "danger")
    else:
        db.session.commit()
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
    try:
        campaign, created = operations.draft_reminder(
            current_user,
            consultation,
            sender_name=current_user.name,
            sender_email=current_user.email,
        )
    except OperationError as exc:
        db.session.rollback()
        flash(f"No reminder drafted: {exc.message}", "danger")
        return redirect(url_for("consultations.not_answered", consultation_id=consultation.id))
    db.session.commit()
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
        try:
            standard = operations.publish_version(
                current_user,
                consultation,
                operations.PublishFields(
                    version=form.new_version.data,
                    title=form.title.data,
                    make_current=form.make_current.data,
                ),
            )
        except OperationError as exc:
            db.session.rollback()
            if exc.field == "version":
                form.new_version.errors = [*form.new_version.errors, exc.message]
            else:
                show_operation_error(form, exc)
        else:
            db.session.commit()
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
    "saved": "Your answers are saved. We emailed you a personal link to come back and finish "
    "before the consultation closes.",
    "saved-link": "Your answers are saved. Come back through the same link to finish them "
    "before the consultation closes.",
    "submitted": "Thank you: your response is submitted. You can still change it through your "
    "personal link until the consultation closes.",
    "updated": "Your response is updated: this submission replaced your earlier one (only one "
    "response per person is kept).",
    "already": "A response from this email address is already on file, so nothing was changed. "
    "We emailed that address a personal link to change it.",
    "confirm": "We know this email address already, so to protect it nothing was stored from this "
    "form. We emailed that address a personal link: please give your answers through it.",
}


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


def _mail_link(consultation: Consultation, contact) -> None:
    link = operations.personal_link(consultation, contact)
    closes = f"{consultation.closes_on:%-d %B %Y}"
    send_mail(
        MailMessage(
            to=contact.email,
            subject=f"Your personal link: {consultation.title}",
            text=f"Dear {contact.first_name},\n\n"
            f"Thank you for taking part in the consultation {consultation.title}.\n\n"
            f"Your personal link, to answer or come back and change your answers until "
            f"{closes}:\n{link}\n\nPlease keep it to yourself: anyone with this link can "
            "change your response.\n\n— The WEST Principles community\n",
        )
    )


def _render_response(consultation, form, answers_by_key, *, token=None, contact=None, status=200):
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
    ), status


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
        flash(_closed_message(consultation), "warning")
        return _render_response(consultation, form, _posted_answers(), status=409)
    if form.validate_on_submit():
        submit = request.form.get("action") == "submit"
        if form.website.data:
            # A bot filled the hidden field: look successful, store nothing.
            return redirect(url_for(".done", consultation_id=consultation.id, result="submitted"))
        try:
            check_and_record(
                "consultation-response",
                _address(),
                current_app.config["PUBLIC_FORM_HOURLY_LIMIT"],
            )
            response, contact, outcome = operations.respond_public(
                consultation, _respondent(form), _answers_from_request(consultation), submit=submit
            )
        except OperationError as exc:
            db.session.rollback()
            show_operation_error(form, exc)
            return _render_response(consultation, form, _posted_answers(), status=422)
        db.session.commit()
        if _may_mail_link(contact.email):
            try:
                _mail_link(consultation, contact)
            except MailError:
                current_app.logger.exception(
                    "consultation link for %s failed", response.id if response else contact.id
                )
        return redirect(url_for(".done", consultation_id=consultation.id, result=outcome.value))
    status = 422 if form.errors else 200
    return _render_response(consultation, form, _posted_answers(), status=status)


LINK_MAILS_PER_ADDRESS_HOURLY = 3


def _may_mail_link(email: str | None) -> bool:
    """Anyone can type anyone's address into the public form: the same address gets at most a
    few link emails an hour, however many networks the forms come from."""
    import hashlib

    if not email:
        return False
    key = "mail:" + hashlib.sha256(email.lower().encode()).hexdigest()[:40]
    try:
        check_and_record("consultation-link-mail", key, LINK_MAILS_PER_ADDRESS_HOURLY)
    except OperationError:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def _closed_message(consultation: Consultation) -> str:
    try:
        operations.check_open(consultation)
    except OperationError as exc:
        return exc.message
    return ""


@public_bp.route("/<int:consultation_id>/r/<token>", methods=["GET", "POST"])
@public
def personal(consultation_id: int, token: str):
    consultation = _public(consultation_id)
    try:
        contact = operations.read_personal_token(consultation, token)
    except OperationError as exc:
        return render_template(
            "consultations/public_message.html", consultation=consultation, message=exc.message
        ), 404
    existing = operations._existing(consultation, contact)
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
    if request.method == "POST" and not consultation.is_open:
        flash(_closed_message(consultation), "warning")
        return _render_response(
            consultation, form, _posted_answers(), token=token, contact=contact, status=409
        )
    if form.validate_on_submit():
        submit = request.form.get("action") == "submit"
        if form.website.data:
            return redirect(url_for(".done", consultation_id=consultation.id, result="submitted"))
        respondent = _respondent(form) if consultation.access is Access.PUBLIC else None
        try:
            _response, outcome = operations.respond(
                consultation,
                contact,
                _answers_from_request(consultation),
                submit=submit,
                respondent=respondent,
            )
        except OperationError as exc:
            db.session.rollback()
            show_operation_error(form, exc)
            return _render_response(
                consultation, form, _posted_answers(), token=token, contact=contact, status=422
            )
        db.session.commit()
        result = "saved-link" if outcome is operations.Outcome.SAVED else outcome.value
        return redirect(
            url_for(".done", consultation_id=consultation.id, result=result, token=token)
        )
    if request.method == "POST":
        answers = _posted_answers()
    else:
        answers = {
            (f"p{a.principle_id}" if a.principle_id else f"r{a.recommendation_id}"): {
                "mark": a.mark.value if a.mark else "",
                "comment": a.comment or "",
            }
            for a in (existing.answers if existing else [])
        }
    return _render_response(
        consultation,
        form,
        answers,
        token=token,
        contact=contact,
        status=422 if form.errors else 200,
    )


@public_bp.route("/<int:consultation_id>/done")
@public
def done(consultation_id: int):
    consultation = _public(consultation_id)
    result = request.args.get("result", "")
    if result not in RESULT_MESSAGES:
        return redirect(url_for(".respond", consultation_id=consultation.id))
    token = request.args.get("token")
    return render_template(
        "consultations/public_message.html",
        consultation=consultation,
        message=RESULT_MESSAGES[result],
        token=token,
        success=True,
        today=date.today(),
    )
