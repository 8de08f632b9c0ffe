"""Event pages for the team: the list, an event with its participants and figures, editing,
adding people, the check-in page, the calendar file and attendee exports."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import available_timezones

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from crm.audit.operations import trail_for
from crm.core.access import Permission, requires
from crm.core.errors import OperationError
from crm.core.export import csv_response, xlsx_response
from crm.core.form_pages import submit_form
from crm.core.http import external_url
from crm.core.unit_of_work import attempt, attempt_flashed
from crm.events import queries
from crm.events.calendar import ics_for
from crm.events.forms import AddParticipantForm, EventForm, WalkInForm
from crm.events.models import Event, ParticipantRole, Participation, ParticipationStatus
from crm.events.operations import events as event_ops
from crm.events.operations import newcomers as newcomer_ops
from crm.events.operations import places as place_ops
from crm.extensions import db

bp = Blueprint("events", __name__, url_prefix="/events")


def _load(event_id: int) -> Event:
    return db.session.get(Event, event_id) or abort(404)


def _load_participation(participation_id: int) -> Participation:
    return db.session.get(Participation, participation_id) or abort(404)


def _fields_from(form: EventForm) -> event_ops.EventFields:
    return event_ops.EventFields(
        name=form.name.data,
        kind=form.kind.data,
        hosting=form.hosting.data,
        starts_local=form.starts_local.data,
        ends_local=form.ends_local.data,
        timezone=form.timezone.data,
        venue=form.venue.data,
        online_url=form.online_url.data,
        country=form.country.data,
        capacity=form.capacity.data,
        description=form.description.data,
        is_public=form.is_public.data,
        registration_open=form.registration_open.data,
    )


def _timezones() -> list[str]:
    return sorted(available_timezones())


def _render_form(form: EventForm, event: Event | None, status: int, conflict: bool = False):
    return render_template(
        "events/form.html", form=form, event=event, timezones=_timezones(), conflict=conflict
    ), status


def flash_promoted(promoted: list[Participation]) -> None:
    """Say who was given a place from the waitlist (their emails are queued with the change),
    and who has no address, so that the user tells them."""
    if not promoted:
        return
    names = ", ".join(p.contact.full_name for p in promoted)
    emailed = [p for p in promoted if p.contact.email]
    unreachable = [p.contact.full_name for p in promoted if not p.contact.email]
    told = " An email telling them is on its way." if emailed else ""
    flash(f"Promoted from the waitlist: {names}.{told}", "info")
    if unreachable:
        flash(f"No email address for {', '.join(unreachable)}: please tell them.", "warning")


@bp.route("/")
@requires(Permission.EVENTS_VIEW)
def index():
    upcoming, past = queries.upcoming_and_past()
    return render_template(
        "events/index.html",
        upcoming=upcoming,
        past=past,
        counts=queries.status_counts([e.id for e in upcoming + past]),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.EVENTS_EDIT)
def new():
    form = EventForm()
    if request.method == "GET":
        start = (datetime.now() + timedelta(days=14)).replace(hour=10, minute=0, second=0)
        form.starts_local.data = start.replace(microsecond=0)
        form.ends_local.data = (start + timedelta(hours=2)).replace(microsecond=0)
    saved = submit_form(form, lambda: event_ops.create_event(current_user, _fields_from(form)))
    if saved.ok:
        flash(f"{saved.value.name} is created.", "success")
        return redirect(url_for("events.detail", event_id=saved.value.id))
    return _render_form(form, None, saved.status)


@bp.route("/<int:event_id>")
@requires(Permission.EVENTS_VIEW)
def detail(event_id: int):
    event = _load(event_id)
    status = request.args.get("status", "")
    if status and status not in {s.value for s in ParticipationStatus}:
        status = ""
    add_form = AddParticipantForm()
    return render_template(
        "events/detail.html",
        event=event,
        figures=queries.figures(event),
        participants=queries.participants(event, status),
        waitlist=queries.waitlist(event),
        places_left=place_ops.places_left(event),
        status_filter=status,
        statuses=list(ParticipationStatus),
        roles=list(ParticipantRole),
        add_form=add_form,
        public_url=external_url("public_events.register", event_id=event.id)
        if event.is_public
        else None,
        trail=trail_for("event", event.id),
    )


@bp.route("/<int:event_id>/edit", methods=["GET", "POST"])
@requires(Permission.EVENTS_EDIT)
def edit(event_id: int):
    event = _load(event_id)
    form = EventForm(obj=event)
    if request.method == "GET":
        form.starts_local.data = event.local_start.replace(tzinfo=None)
        form.ends_local.data = event.local_end.replace(tzinfo=None)
        form.version.data = str(event.version)
    saved = submit_form(
        form,
        lambda: event_ops.update_event(
            current_user, event, _fields_from(form), expected_version=form.loaded_version()
        ),
        record=event,
    )
    if saved.ok:
        flash("The event is saved.", "success")
        flash_promoted(saved.value)
        return redirect(url_for("events.detail", event_id=event.id))
    return _render_form(form, event, saved.status, conflict=saved.conflict)


@bp.route("/<int:event_id>/delete", methods=["POST"])
@requires(Permission.EVENTS_EDIT)
def delete(event_id: int):
    event = _load(event_id)
    if not attempt(lambda: event_ops.delete_event(current_user, event)).ok:
        return redirect(url_for("events.detail", event_id=event_id))
    flash("The event is deleted.", "success")
    return redirect(url_for("events.index"))


@bp.route("/<int:event_id>/participants", methods=["POST"])
@requires(Permission.EVENTS_EDIT)
def add_participants(event_id: int):
    event = _load(event_id)
    form = AddParticipantForm()
    ids = [i for i in (form.contact_ids.data or []) if isinstance(i, int)]
    if not form.validate() or not ids:
        flash("Pick at least one contact from the suggestions to add.", "danger")
        return redirect(url_for("events.detail", event_id=event.id))
    done = attempt_flashed(
        lambda: place_ops.add_participants(
            current_user,
            event,
            ids,
            role=form.role.data or "",
            invite_only=form.action.data == "invite",
        ),
        refused="{} Nobody was added.",
    )
    if not done.ok:
        return redirect(url_for("events.detail", event_id=event.id))
    outcomes = done.value
    labels = {
        "registered": "Registered",
        "waitlisted": "On the waitlist (the event is full)",
        "invited": "Invited",
        "already": "Already on the list, unchanged",
    }
    for key, people in outcomes.items():
        names = ", ".join(c.full_name for c in people)
        flash(f"{labels[key]}: {names}.", "info" if key == "already" else "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.route("/participations/<int:participation_id>", methods=["POST"])
@requires(Permission.EVENTS_EDIT)
def change_participation(participation_id: int):
    """One button per action on the participant list: cancel, no-show, register, role."""
    participation = _load_participation(participation_id)
    event = participation.event
    action = request.form.get("action", "")

    def change() -> list[Participation]:
        """Whoever a freed place went to (their emails are queued with the change)."""
        if action == "cancel":
            return place_ops.cancel(current_user, participation)
        if action == "no_show":
            place_ops.mark_no_show(current_user, participation)
        elif action == "register":
            _p, outcome = place_ops.register(
                current_user, event, participation.contact, role=participation.role
            )
            if outcome is place_ops.Outcome.WAITLISTED:
                flash("The event is full, so they are on the waitlist.", "info")
        elif action == "role":
            place_ops.change_role(current_user, participation, request.form.get("role", ""))
        elif action == "check_in":
            place_ops.check_in(current_user, participation)
        else:
            raise OperationError("Unknown action.")
        return []

    done = attempt(change)
    if done.ok:
        flash(
            f"{participation.contact.full_name}: {participation.status.label.lower()}.", "success"
        )
        flash_promoted(done.value)
    return redirect(url_for("events.detail", event_id=event.id) + "#participants")


# --- the door ---------------------------------------------------------------------------------


def _render_check_in(event: Event, walk_in_form: WalkInForm) -> str:
    """The door's page: everyone expected (not the cancelled), how many came, the walk-in form."""
    people = [
        p for p in queries.participants(event) if p.status is not ParticipationStatus.CANCELLED
    ]
    return render_template(
        "events/check_in.html",
        event=event,
        people=people,
        attended=sum(1 for p in people if p.status is ParticipationStatus.ATTENDED),
        walk_in_form=walk_in_form,
    )


@bp.route("/<int:event_id>/check-in")
@requires(Permission.EVENTS_CHECK_IN)
def check_in_page(event_id: int):
    return _render_check_in(_load(event_id), WalkInForm())


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/participations/<int:participation_id>/check-in", methods=["POST"])
@requires(Permission.EVENTS_CHECK_IN)
def check_in(participation_id: int):
    participation = _load_participation(participation_id)
    undo = request.form.get("undo") == "1"
    change = place_ops.undo_check_in if undo else place_ops.check_in
    done = attempt(lambda: change(current_user, participation), show=False)
    if not done.ok:
        if _wants_json():
            status = participation.status
            return jsonify(
                ok=False, message=done.error.message, status=status.value, label=status.label
            ), 409
        flash(done.error.message, "info")
    else:
        if _wants_json():
            status = participation.status
            return jsonify(ok=True, status=status.value, label=status.label)
        flash(
            f"{participation.contact.full_name} "
            + ("is no longer checked in." if undo else "is checked in."),
            "success",
        )
    return redirect(url_for("events.check_in_page", event_id=participation.event_id))


@bp.route("/<int:event_id>/walk-in", methods=["POST"])
@requires(Permission.EVENTS_CHECK_IN)
def walk_in(event_id: int):
    event = _load(event_id)
    form = WalkInForm()
    if form.validate():
        done = attempt(
            lambda: newcomer_ops.walk_in(
                current_user,
                event,
                newcomer_ops.Person(
                    first_name=form.first_name.data,
                    last_name=form.last_name.data or "",
                    email=form.email.data or None,
                    organization=form.organization.data,
                ),
            ),
            form,
        )
        if done.ok:
            flash(f"{done.value.contact.full_name} is checked in as a walk-in.", "success")
            return redirect(url_for("events.check_in_page", event_id=event.id))
    return _render_check_in(event, form), 422


# --- files ------------------------------------------------------------------------------------


@bp.route("/<int:event_id>/event.ics")
@requires(Permission.EVENTS_VIEW)
def calendar(event_id: int):
    event = _load(event_id)
    return ics_response(event, external_url("events.detail", event_id=event.id), private=True)


def ics_response(event: Event, url: str, *, private: bool) -> Response:
    response = Response(ics_for(event, url, with_online_link=private), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
    return response


def _attendees(event_id: int):
    event = _load(event_id)
    return queries.attendee_frame(event), f"{event.name} participants"


@bp.route("/<int:event_id>/attendees.csv")
@requires(Permission.EVENTS_EDIT)
def export_csv(event_id: int):
    frame, name = _attendees(event_id)
    return csv_response(frame, name)


@bp.route("/<int:event_id>/attendees.xlsx")
@requires(Permission.EVENTS_EDIT)
def export_xlsx(event_id: int):
    frame, name = _attendees(event_id)
    return xlsx_response(frame, name, "Participants")
