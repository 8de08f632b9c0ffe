"""Champion pages for the team: the board, the list, a champion's record, moves, endorsements
and their review, conversion figures and the leaderboard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.audit.operations import trail_for
from crm.auth.operations import staff_choices
from crm.champions import queries
from crm.champions.forms import (
    ChampionForm,
    EndorsementForm,
    MoveForm,
    NewChampionForm,
    RejectForm,
)
from crm.champions.models import Champion, Endorsement, Region, Stage, Verification
from crm.champions.operations import endorsements as endorsement_ops
from crm.champions.operations import pipeline as champion_ops
from crm.contacts.models import Contact
from crm.core.access import Permission, requires
from crm.core.errors import OperationError
from crm.core.form_pages import submit_form
from crm.core.http import safe_next
from crm.core.list_page import chosen_sort, page_of
from crm.core.unit_of_work import attempt, attempt_flashed
from crm.extensions import db
from crm.standards.queries import principle_choices

bp = Blueprint("champions", __name__, url_prefix="/champions")
# The contact page links to the person's champion record when there is one.
bp.add_app_template_global(queries.champion_for_contact, "champion_for_contact")


def _load(champion_id: int) -> Champion:
    return db.session.get(Champion, champion_id) or abort(404)


def _load_endorsement(endorsement_id: int) -> Endorsement:
    return db.session.get(Endorsement, endorsement_id) or abort(404)


def lapsing_months() -> int:
    return current_app.config["CHAMPION_LAPSING_MONTHS"]


def champion_fields(form: ChampionForm) -> champion_ops.ChampionFields:
    return champion_ops.ChampionFields(
        owner_id=int(form.owner_id.data) if form.owner_id.data else None,
        region=form.region.data or None,
        audience_reach=form.audience_reach.data,
        channels=(form.channels.data or "").split(","),
        bio=form.bio.data,
        next_step=form.next_step.data,
        next_step_due=form.next_step_due.data,
    )


def endorsement_fields(form: EndorsementForm) -> endorsement_ops.EndorsementFields:
    return endorsement_ops.EndorsementFields(
        kind=form.kind.data,
        made_on=form.made_on.data,
        title=form.title.data,
        link=form.link.data,
        audience_reach=form.audience_reach.data,
        principle_ids=list(form.principle_ids.data or []),
        notes=form.notes.data,
        referred_organization=form.referred_organization.data or "",
    )


def fill_endorsement_form(form: EndorsementForm, endorsement: Endorsement) -> None:
    form.principle_ids.data = [p.id for p in endorsement.principles]
    form.referred_organization.data = (
        endorsement.referred_organization.name
        if endorsement.referred_organization
        else endorsement.referred_organization_name or ""
    )
    form.version.data = str(endorsement.version)


def endorsement_page(
    champion: Champion,
    endorsement: Endorsement | None,
    *,
    by_champion: bool,
    cancel_url: str,
    done_url: Callable[[Endorsement], str],
    done_message: str,
):
    """The new/edit endorsement form, for the team and for a champion alike.

    A lead's new endorsement is verified as recorded; a champion's goes to review, and their
    change to a reviewed one sends it back (the rules are in the operations)."""
    # An endorsement tagged before a newer version became current keeps its principles on
    # the form (labelled with their version); otherwise the next save would drop them.
    keep = endorsement.principles if endorsement is not None else ()
    form = EndorsementForm(obj=endorsement, principle_choices=principle_choices(keep=keep))
    if request.method == "GET":
        if endorsement is None:
            form.made_on.data = date.today()
        else:
            fill_endorsement_form(form, endorsement)

    def save() -> Endorsement:
        if endorsement is None:
            return endorsement_ops.record_endorsement(
                current_user, champion, endorsement_fields(form), verified=not by_champion
            )
        return endorsement_ops.update_endorsement(
            current_user,
            endorsement,
            endorsement_fields(form),
            by_champion=by_champion,
            expected_version=form.loaded_version(),
        )

    saved = submit_form(form, save, record=endorsement)
    if saved.ok:
        flash(done_message, "success")
        return redirect(done_url(saved.value))
    return render_template(
        "champions/endorsement_form.html",
        form=form,
        champion=champion,
        endorsement=endorsement,
        staff=not by_champion,
        conflict=saved.conflict,
        cancel_url=cancel_url,
    ), saved.status


def _period() -> tuple[date, date]:
    """The period asked for (?start=&end=), by default the last twelve months."""
    today = date.today()
    try:
        end = date.fromisoformat(request.args.get("end", "")) if request.args.get("end") else today
        start = (
            date.fromisoformat(request.args["start"])
            if request.args.get("start")
            else end - timedelta(days=365)
        )
        # Within what can have happened: no period past next year or before 1990.
        end = min(max(end, champion_ops.EARLIEST), today + timedelta(days=366))
        start = min(max(start, champion_ops.EARLIEST), today + timedelta(days=366))
    except ValueError:
        flash("That period was not a pair of dates; showing the last twelve months.", "warning")
        return today - timedelta(days=365), today
    if start > end:
        start, end = end, start
    return start, end


# --- the pipeline ------------------------------------------------------------------------------


@bp.route("/")
@requires(Permission.CHAMPIONS_VIEW)
def board():
    columns = queries.board()
    shown = [c.id for column in columns for c in column.champions]
    return render_template(
        "champions/board.html",
        columns=columns,
        lapsing=queries.lapsing_ids(shown, date.today(), lapsing_months()),
        pending=db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Endorsement)
            .where(Endorsement.status == Verification.PENDING)
        ),
        today=date.today(),
    )


@bp.route("/list")
@requires(Permission.CHAMPIONS_VIEW)
def index():
    args = request.args
    owner = args.get("owner", "")
    filters = queries.ChampionFilters(
        stage=args.get("stage", ""),
        owner=str(current_user.id) if owner == "me" else owner,
        region=args.get("region", ""),
        overdue=args.get("overdue") == "1",
        lapsing=args.get("lapsing") == "1",
        q=args.get("q", "").strip(),
    )
    sort_key, sort = chosen_sort(queries.SORTS, "waiting")
    page = page_of(queries.filtered(filters, date.today(), lapsing_months()), sort)
    return render_template(
        "champions/index.html",
        page=page,
        filters=filters,
        owner_arg=owner,
        sort_key=sort_key,
        sorts=queries.SORTS,
        stages=Stage,
        regions=Region,
        owners=staff_choices(),
        lapsing=queries.lapsing_ids([c.id for c in page.items], date.today(), lapsing_months()),
        today=date.today(),
    )


@bp.route("/figures")
@requires(Permission.CHAMPIONS_VIEW)
def figures():
    start, end = _period()
    return render_template(
        "champions/figures.html",
        start=start,
        end=end,
        conversion=queries.conversion(start, end),
        leaderboard=queries.leaderboard(start, end),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CHAMPIONS_EDIT)
def new():
    form = NewChampionForm(owner_choices=staff_choices())
    if request.method == "GET":
        form.owner_id.data = str(current_user.id)
        contact_id = request.args.get("contact", type=int)
        if contact_id:
            form.contact_ids.data = [contact_id]
    ids = [i for i in (form.contact_ids.data or []) if isinstance(i, int)]
    refused = False
    if form.validate_on_submit():

        def enter_pipeline() -> Champion:
            if len(ids) != 1:
                raise OperationError("Choose the one contact to add.", field="contact_ids")
            contact = db.session.get(Contact, ids[0])
            if contact is None:
                raise OperationError("That contact no longer exists.", field="contact_ids")
            return champion_ops.enter_pipeline(
                current_user,
                contact,
                champion_fields(form),
                stage=form.stage.data,
                note=form.note.data,
            )

        done = attempt(enter_pipeline, form)
        if done.ok:
            flash(f"{done.value.name} is in the champion pipeline.", "success")
            return redirect(url_for("champions.detail", champion_id=done.value.id))
        refused = True
    selected = (
        list(db.session.scalars(sa.select(Contact).where(Contact.id.in_(ids)))) if ids else []
    )
    return render_template(
        "champions/new.html", form=form, selected_contacts=selected
    ), 422 if form.errors or refused else 200


@bp.route("/<int:champion_id>")
@requires(Permission.CHAMPIONS_VIEW)
def detail(champion_id: int):
    champion = _load(champion_id)
    move_form = MoveForm()
    move_form.version.data = str(champion.version)
    reject_form = RejectForm()
    return render_template(
        "champions/detail.html",
        champion=champion,
        move_form=move_form,
        reject_form=reject_form,
        allowed_moves=sorted(champion_ops.ALLOWED_MOVES[champion.stage], key=lambda s: s.rank),
        lapsing=champion.id in queries.lapsing_ids([champion.id], date.today(), lapsing_months()),
        lapsing_months=lapsing_months(),
        trail=trail_for("champion", champion.id),
        today=date.today(),
    )


@bp.route("/<int:champion_id>/edit", methods=["GET", "POST"])
@requires(Permission.CHAMPIONS_EDIT)
def edit(champion_id: int):
    champion = _load(champion_id)
    form = ChampionForm(obj=champion, owner_choices=staff_choices())
    if request.method == "GET":
        form.owner_id.data = str(champion.owner_id or "")
        form.region.data = champion.region.value if champion.region else ""
        form.version.data = str(champion.version)
    saved = submit_form(
        form,
        lambda: champion_ops.update_champion(
            current_user, champion, champion_fields(form), expected_version=form.loaded_version()
        ),
        record=champion,
    )
    if saved.ok:
        flash("The champion's profile is saved.", "success")
        return redirect(url_for("champions.detail", champion_id=champion.id))
    return render_template(
        "champions/edit.html", form=form, champion=champion, conflict=saved.conflict
    ), saved.status


@bp.route("/<int:champion_id>/move", methods=["POST"])
@requires(Permission.CHAMPIONS_EDIT)
def move(champion_id: int):
    champion = _load(champion_id)
    form = MoveForm()
    done = attempt_flashed(
        lambda: champion_ops.move(
            current_user,
            champion,
            form.stage.data or "",
            note=form.note.data,
            expected_version=form.loaded_version(),
        ),
        refused="Not moved: {}",
    )
    if done.ok:
        flash(f"{champion.name} is now {champion.stage.label.lower()}.", "success")
    return redirect(
        safe_next(request.form.get("next")) or url_for("champions.detail", champion_id=champion.id)
    )


@bp.route("/<int:champion_id>/remove", methods=["POST"])
@requires(Permission.CHAMPIONS_EDIT)
def remove(champion_id: int):
    champion = _load(champion_id)
    contact_id = champion.contact_id
    if not attempt(lambda: champion_ops.remove_from_pipeline(current_user, champion)).ok:
        return redirect(url_for("champions.detail", champion_id=champion_id))
    flash("Removed from the champion pipeline.", "success")
    return redirect(url_for("contacts.detail", contact_id=contact_id))


# --- endorsements --------------------------------------------------------------------------------


@bp.route("/<int:champion_id>/endorsements/new", methods=["GET", "POST"])
@requires(Permission.CHAMPIONS_EDIT)
def new_endorsement(champion_id: int):
    champion = _load(champion_id)
    return endorsement_page(
        champion,
        None,
        by_champion=False,
        cancel_url=url_for("champions.detail", champion_id=champion.id),
        done_url=lambda e: url_for("champions.endorsement", endorsement_id=e.id),
        done_message="The endorsement is recorded and verified.",
    )


@bp.route("/endorsements/<int:endorsement_id>")
@requires(Permission.CHAMPIONS_VIEW)
def endorsement(endorsement_id: int):
    endorsement = _load_endorsement(endorsement_id)
    form = RejectForm()
    form.version.data = str(endorsement.version)
    return render_template(
        "champions/endorsement.html",
        endorsement=endorsement,
        reject_form=form,
        trail=trail_for("endorsement", endorsement.id),
    )


@bp.route("/endorsements/<int:endorsement_id>/edit", methods=["GET", "POST"])
@requires(Permission.CHAMPIONS_EDIT)
def edit_endorsement(endorsement_id: int):
    endorsement = _load_endorsement(endorsement_id)
    return endorsement_page(
        endorsement.champion,
        endorsement,
        by_champion=False,
        cancel_url=url_for("champions.endorsement", endorsement_id=endorsement.id),
        done_url=lambda e: url_for("champions.endorsement", endorsement_id=e.id),
        done_message="The endorsement is saved.",
    )


@bp.route("/endorsements/review")
@requires(Permission.ENDORSEMENTS_VERIFY)
def review():
    return render_template(
        "champions/review.html",
        endorsements=queries.pending_endorsements(),
        reject_form=RejectForm(),
    )


def _after_review(endorsement: Endorsement):
    return redirect(
        safe_next(request.form.get("next"))
        or url_for("champions.endorsement", endorsement_id=endorsement.id)
    )


@bp.route("/endorsements/<int:endorsement_id>/verify", methods=["POST"])
@requires(Permission.ENDORSEMENTS_VERIFY)
def verify(endorsement_id: int):
    endorsement = _load_endorsement(endorsement_id)
    form = RejectForm()
    done = attempt_flashed(
        lambda: endorsement_ops.verify(
            current_user, endorsement, expected_version=form.loaded_version()
        )
    )
    if done.ok:
        flash(f"Verified: {endorsement.title}.", "success")
    return _after_review(endorsement)


@bp.route("/endorsements/<int:endorsement_id>/reject", methods=["POST"])
@requires(Permission.ENDORSEMENTS_VERIFY)
def reject(endorsement_id: int):
    endorsement = _load_endorsement(endorsement_id)
    form = RejectForm()
    done = attempt_flashed(
        lambda: endorsement_ops.reject(
            current_user,
            endorsement,
            form.reason.data or "",
            expected_version=form.loaded_version(),
        ),
        refused="Not changed: {}",
    )
    if done.ok:
        flash(f"Marked as not accepted: {endorsement.title}.", "success")
    return _after_review(endorsement)


@bp.route("/endorsements/<int:endorsement_id>/delete", methods=["POST"])
@requires(Permission.CHAMPIONS_EDIT)
def delete_endorsement(endorsement_id: int):
    endorsement = _load_endorsement(endorsement_id)
    champion_id = endorsement.champion_id
    endorsement_ops.delete_endorsement(current_user, endorsement, by_champion=False)
    flash("The endorsement is deleted.", "success")
    return redirect(url_for("champions.detail", champion_id=champion_id))
