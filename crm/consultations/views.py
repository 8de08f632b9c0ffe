"""Consultations for the team: set-up, the draft texts, reading the comments, the summary,
downloads, reminders and publishing the next version. The response pages, for the public and
for invited people, are in `crm.consultations.public`."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from crm.campaigns import counting
from crm.campaigns.models import Segment
from crm.consultations import queries
from crm.consultations.forms import (
    AddressedForm,
    ConsultationForm,
    PublishForm,
    RecommendationForm,
    ThemesForm,
)
from crm.consultations.models import Access, Answer, Consultation, Recommendation
from crm.consultations.operations import comments as comment_ops
from crm.consultations.operations import consultations as consultation_ops
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import publishing as publish_ops
from crm.consultations.operations import reminders as reminder_ops
from crm.core.access import Permission, has_permission, requires
from crm.core.errors import OperationError
from crm.core.export import csv_response, xlsx_response
from crm.core.form_pages import submit_form
from crm.core.forms import VersionedForm, show_operation_error
from crm.core.http import safe_next
from crm.core.unit_of_work import attempt, attempt_flashed, discard_changes
from crm.extensions import db
from crm.standards.queries import all_standards
from crm.tags.operations import parse_tags

bp = Blueprint("consultations", __name__, url_prefix="/consultations")


def _get(consultation_id: int) -> Consultation:
    return db.session.get(Consultation, consultation_id) or abort(404)


def _form_choices(form: ConsultationForm) -> None:
    import sqlalchemy as sa

    form.standard_id.choices = [(s.id, f"{s.version} · {s.title} ({s.status.label.lower()})")
                                for s in all_standards()]  # fmt: skip
    form.segment_id.choices = [("", "—")] + [
        (str(s.id), s.name) for s in db.session.scalars(sa.select(Segment).order_by(Segment.name))
    ]


def _fields(form: ConsultationForm) -> consultation_ops.ConsultationFields:
    return consultation_ops.ConsultationFields(
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
        problems = consultation_ops.consultation_problems(consultation, _fields(form))
    finally:
        discard_changes()  # only a check: what it set on the consultation is not kept
    for name, message in problems:
        field = getattr(form, name, None) if name else None
        if field is not None and not field.errors:  # what the form refused is said once
            field.errors = [*field.errors, message]


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
    saved = submit_form(
        form, lambda: consultation_ops.create_consultation(current_user, _fields(form))
    )
    if saved.ok:
        flash("The consultation is saved.", "success")
        return redirect(url_for("consultations.detail", consultation_id=saved.value.id))
    if saved.invalid:
        _also_refused(form, Consultation())
    return render_template("consultations/form.html", form=form, consultation=None), saved.status


@bp.route("/<int:consultation_id>/edit", methods=["GET", "POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def edit(consultation_id: int):
    consultation = _get(consultation_id)
    form = ConsultationForm(obj=consultation)
    _form_choices(form)
    if request.method == "GET":
        form.segment_id.data = str(consultation.segment_id or "")
        form.version.data = str(consultation.version)
    if queries.has_responses(consultation):
        form.access.description = "People have answered, so who answers no longer changes."
        form.standard_id.description = "People have answered, so the version no longer changes."
    if consultation.published_standard is not None:
        form.closes_on.description = (
            f"Version {consultation.published_standard.version} was published from it, so its "
            "dates no longer change."
        )
    saved = submit_form(
        form,
        lambda: consultation_ops.update_consultation(
            current_user, consultation, _fields(form), expected_version=form.loaded_version()
        ),
    )
    if saved.ok:
        flash("The consultation is saved.", "success")
        return redirect(url_for("consultations.detail", consultation_id=consultation.id))
    if saved.invalid:
        _also_refused(form, consultation)
    return render_template(
        "consultations/form.html", form=form, consultation=consultation, conflict=saved.conflict
    ), saved.status


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
        reminder_counts=counting.stored([c.id for c in reminders]),
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
    if not attempt(lambda: consultation_ops.delete_consultation(current_user, consultation)).ok:
        return redirect(url_for("consultations.detail", consultation_id=consultation_id))
    flash(f"Deleted “{title}”.", "success")
    return redirect(url_for("consultations.index"))


@bp.route("/<int:consultation_id>/recommendations", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def add_recommendation(consultation_id: int):
    consultation = _get(consultation_id)
    form = _recommendation_form(consultation)
    if form.validate_on_submit():
        done = attempt_flashed(
            lambda: draft_ops.add_recommendation(
                current_user, consultation, _recommendation_fields(form)
            ),
            refused="Not added: {}",
        )
        if done.ok:
            flash("The draft text is added.", "success")
    else:
        flash("Not added: write the draft text.", "danger")
    return redirect(url_for("consultations.detail", consultation_id=consultation.id) + "#draft")


def _recommendation_fields(form: RecommendationForm) -> draft_ops.RecommendationFields:
    return draft_ops.RecommendationFields(
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
    saved = submit_form(
        form,
        lambda: draft_ops.update_recommendation(
            current_user, rec, _recommendation_fields(form), expected_version=form.loaded_version()
        ),
        record=rec,  # saving again replaces theirs, as it says
    )
    if saved.ok:
        flash("The draft text is saved.", "success")
        return redirect(url_for("consultations.detail", consultation_id=consultation.id) + "#draft")
    return render_template(
        "consultations/recommendation.html",
        form=form,
        consultation=consultation,
        recommendation=rec,
        answered=queries.answers_on(rec),
        locked=draft_ops.draft_text_locked(rec),
        conflict=saved.conflict,
    ), saved.status


@bp.route("/recommendations/<int:recommendation_id>/delete", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def delete_recommendation(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    consultation_id = rec.consultation_id
    VersionedForm().validate_on_submit() or abort(400)
    label = rec.label
    if attempt(lambda: draft_ops.delete_recommendation(current_user, rec)).ok:
        flash(f"Deleted the draft text “{label}”.", "success")
    return redirect(url_for("consultations.detail", consultation_id=consultation_id) + "#draft")


@bp.route("/recommendations/<int:recommendation_id>/accept", methods=["POST"])
@requires(Permission.CONSULTATIONS_MANAGE)
def accept(recommendation_id: int):
    rec = db.session.get(Recommendation, recommendation_id) or abort(404)
    attempt(lambda: draft_ops.set_accepted(current_user, rec, request.form.get("accepted") == "1"))
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
        lambda: comment_ops.set_themes(
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
            comment_ops.reopen_comment(current_user, answer)
        else:
            comment_ops.mark_addressed(current_user, answer, form.note.data)

    if attempt_flashed(save, refused="Not saved: {}").ok:
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
    make_link = link_ops.personal_link_maker(consultation.id)
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
        reminder_counts=counting.stored([c.id for c in reminders]),
        can_remind=has_permission(current_user, Permission.CAMPAIGNS_EDIT),
    )


@bp.route("/<int:consultation_id>/not-answered.csv")
@requires(Permission.CONSULTATIONS_MANAGE)
def not_answered_csv(consultation_id: int):
    consultation = _get(consultation_id)
    if consultation.access is not Access.INVITATION:
        abort(404)
    make_link = link_ops.personal_link_maker(consultation.id)
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
    done = attempt_flashed(
        lambda: reminder_ops.draft_reminder(
            current_user,
            consultation,
            sender_name=current_user.name,
            sender_email=current_user.email,
        ),
        refused="No reminder drafted: {}",
    )
    if not done.ok:
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
            lambda: publish_ops.publish_version(
                current_user,
                consultation,
                publish_ops.PublishFields(
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
        plan=publish_ops.publish_plan(consultation),
        phase=consultation.phase(),
    ), (422 if form.errors else 200)
