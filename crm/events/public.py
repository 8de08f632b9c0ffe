"""The public page of an event: details, registration without an account, the calendar file.

Open to anyone, so it trusts nothing: CSRF token, a honeypot field, a cap per network address
per hour, and a registration that never overwrites what the team knows about a person.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from crm.core.access import public
from crm.core.http import external_url
from crm.core.public_forms import submit_public_form
from crm.events.forms import PublicRegistrationForm
from crm.events.models import Event
from crm.events.operations import newcomers as newcomer_ops
from crm.events.operations import places as place_ops
from crm.events.views import ics_response
from crm.extensions import db

bp = Blueprint("public_events", __name__, url_prefix="/e")

OUTCOME_MESSAGES = {
    place_ops.Outcome.REGISTERED: (
        "registered",
        "You are registered. A confirmation is on its way to your email address.",
    ),
    place_ops.Outcome.WAITLISTED: (
        "waitlisted",
        "The event is full, so you are on the waitlist. If a place frees up it is yours in "
        "the order people registered, and we will email you.",
    ),
    place_ops.Outcome.ALREADY: (
        "already",
        "This email address is already on the list for this event, so nothing was changed: "
        "your earlier registration (or place on the waitlist) still stands.",
    ),
}


def _public_event(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None or not event.is_public:
        abort(404)
    return event


@bp.route("/<int:event_id>", methods=["GET", "POST"])
@public
def register(event_id: int):
    event = _public_event(event_id)
    form = PublicRegistrationForm()
    if request.method == "POST" and not event.accepts_registrations:
        flash(
            "This event has already taken place." if event.is_past else "Registration is closed.",
            "warning",
        )
        return render_template("events/public.html", event=event, form=form), 409
    if form.validate_on_submit():

        def register_them() -> place_ops.Outcome:
            _participation, outcome = newcomer_ops.public_register(
                event,
                newcomer_ops.Person(
                    first_name=form.first_name.data,
                    last_name=form.last_name.data,
                    email=form.email.data,
                    organization=form.organization.data,
                ),
                consent=form.consent.data,
            )
            return outcome  # its confirmation is queued with it

        done = submit_public_form(form, "event-registration", register_them)
        if done is None:  # a bot: look successful, store nothing
            return redirect(url_for("public_events.done", event_id=event.id, result="registered"))
        if not done.ok:
            return render_template("events/public.html", event=event, form=form), 422
        key, _message = OUTCOME_MESSAGES[done.value]
        return redirect(url_for("public_events.done", event_id=event.id, result=key))
    status = 422 if form.errors else 200
    return render_template("events/public.html", event=event, form=form), status


@bp.route("/<int:event_id>/done")
@public
def done(event_id: int):
    event = _public_event(event_id)
    result = request.args.get("result", "")
    messages = {key: message for key, message in OUTCOME_MESSAGES.values()}
    if result not in messages:
        return redirect(url_for("public_events.register", event_id=event.id))
    return render_template(
        "events/public_done.html", event=event, result=result, message=messages[result]
    )


@bp.route("/<int:event_id>/event.ics")
@public
def calendar(event_id: int):
    event = _public_event(event_id)
    # The online link goes only to registered people, in their confirmation.
    return ics_response(
        event, external_url("public_events.register", event_id=event.id), private=False
    )
