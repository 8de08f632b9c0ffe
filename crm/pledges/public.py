"""Public pledge pages: the pledge form (no account) and the directory of signatories.

The form is open to anyone, so it is guarded like the event pages: CSRF token, a honeypot
field, a cap per network address per hour; a duplicate changes nothing and says so, and what
the team recorded about the organization or the signatory is never overwritten.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from crm.core.access import public
from crm.core.countries import normalize_country
from crm.core.public_forms import submit_public_form
from crm.organizations.models import OrganizationKind
from crm.pledges import queries
from crm.pledges.forms import PublicPledgeForm
from crm.pledges.operations import public_form
from crm.standards.queries import current_standard

bp = Blueprint("public_pledges", __name__, url_prefix="/pledge")

RESULTS = {
    "received": (
        "Thank you: your pledge is received",
        "Your organization's pledge is signed. The WEST team will confirm it shortly and invite "
        "you to an account where you report your progress each quarter.",
    ),
    # Worded so it does not tell a stranger whether an unlisted organization has pledged.
    "already": (
        "Thank you: nothing more is needed",
        "If your organization had already pledged, nothing was changed: one pledge per "
        "organization is enough. The WEST team will be in touch if anything is needed.",
    ),
}


@bp.route("/", methods=["GET", "POST"])
@public
def sign():
    standard = current_standard()
    form = PublicPledgeForm()
    if standard is None:
        return render_template("pledges/public.html", form=None, standard=None), 503
    if form.validate_on_submit():

        def sign_it() -> public_form.Outcome:
            _pledge, outcome = public_form.public_pledge(
                public_form.PublicPledge(
                    organization=form.organization.data,
                    kind=form.kind.data,
                    country=form.country.data,
                    website=form.website.data,
                    first_name=form.first_name.data,
                    last_name=form.last_name.data,
                    email=form.email.data,
                    title=form.title.data,
                    listed=form.listed.data,
                ),
                standard,
            )
            return outcome

        done = submit_public_form(form, "pledge", sign_it)
        if done is None:  # a bot: look successful, store nothing
            return redirect(url_for("public_pledges.thanks", result="received"))
        if not done.ok:  # nothing is kept, not even the submission counted against the cap
            return render_template("pledges/public.html", form=form, standard=standard), 422
        outcome = done.value
        return redirect(url_for("public_pledges.thanks", result=outcome.value))
    status = 422 if form.errors else 200
    return render_template("pledges/public.html", form=form, standard=standard), status


@bp.route("/thanks")
@public
def thanks():
    result = request.args.get("result", "")
    if result not in RESULTS:
        return redirect(url_for("public_pledges.sign"))
    title, message = RESULTS[result]
    return render_template("pledges/public_done.html", title=title, message=message)


def _filters() -> tuple[str, str]:
    kind = request.args.get("kind", "")
    if kind not in {k.value for k in OrganizationKind}:
        kind = ""
    return normalize_country(request.args.get("country", "")[:100]) or "", kind


@bp.route("/directory")
@public
def directory():
    country, kind = _filters()
    return render_template(
        "pledges/directory.html",
        entries=queries.directory(country, kind),
        country=country,
        kind=kind,
        kinds=list(OrganizationKind),
    )


@bp.route("/directory.json")
@public
def directory_json():
    country, kind = _filters()
    return jsonify(signatories=[e.as_json() for e in queries.directory(country, kind)])
