"""A champion's own pages: their profile and endorsements, nothing of anyone else's."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.champions.access import own_champion
from crm.champions.forms import ProfileForm
from crm.champions.models import Champion, Endorsement
from crm.champions.operations import endorsements as endorsement_ops
from crm.champions.operations import pipeline as champion_ops
from crm.champions.views import endorsement_page
from crm.core.access import Permission, requires
from crm.core.form_pages import submit_form
from crm.core.unit_of_work import attempt
from crm.extensions import db

bp = Blueprint("my_champion", __name__, url_prefix="/me/champion")


def _mine() -> Champion | None:
    return own_champion(current_user)


def _my_endorsement(endorsement_id: int) -> Endorsement:
    """Another champion's endorsement is answered exactly like a missing one."""
    champion = _mine()
    endorsement = db.session.get(Endorsement, endorsement_id)
    if champion is None or endorsement is None or endorsement.champion_id != champion.id:
        abort(404)
    return endorsement


@bp.route("/")
@requires(Permission.OWN_CHAMPION_PROFILE)
def home():
    champion = _mine()
    if champion is None:
        return render_template("champions/me_unlinked.html")
    return render_template("champions/me.html", champion=champion)


@bp.route("/profile", methods=["GET", "POST"])
@requires(Permission.OWN_CHAMPION_PROFILE)
def profile():
    champion = _mine() or abort(404)
    form = ProfileForm(obj=champion)
    if request.method == "GET":
        form.version.data = str(champion.version)
    saved = submit_form(
        form,
        lambda: champion_ops.update_own_profile(
            current_user,
            champion,
            audience_reach=form.audience_reach.data,
            channels=(form.channels.data or "").split(","),
            bio=form.bio.data,
            expected_version=form.loaded_version(),
        ),
        record=champion,
    )
    if saved.ok:
        flash("Your profile is saved.", "success")
        return redirect(url_for("my_champion.home"))
    return render_template(
        "champions/me_profile.html", form=form, champion=champion, conflict=saved.conflict
    ), saved.status


@bp.route("/endorsements/new", methods=["GET", "POST"])
@requires(Permission.OWN_CHAMPION_PROFILE)
def new_endorsement():
    champion = _mine() or abort(404)
    return endorsement_page(
        champion,
        None,
        by_champion=True,
        cancel_url=url_for("my_champion.home"),
        done_url=lambda _e: url_for("my_champion.home"),
        done_message="Thank you! Your endorsement is recorded; the team will review it.",
    )


@bp.route("/endorsements/<int:endorsement_id>/edit", methods=["GET", "POST"])
@requires(Permission.OWN_CHAMPION_PROFILE)
def edit_endorsement(endorsement_id: int):
    endorsement = _my_endorsement(endorsement_id)
    return endorsement_page(
        endorsement.champion,
        endorsement,
        by_champion=True,
        cancel_url=url_for("my_champion.home"),
        done_url=lambda _e: url_for("my_champion.home"),
        done_message="Your endorsement is saved.",
    )


@bp.route("/endorsements/<int:endorsement_id>/delete", methods=["POST"])
@requires(Permission.OWN_CHAMPION_PROFILE)
def delete_endorsement(endorsement_id: int):
    endorsement = _my_endorsement(endorsement_id)
    if attempt(
        lambda: endorsement_ops.delete_endorsement(current_user, endorsement, by_champion=True)
    ).ok:
        flash("The endorsement is deleted.", "success")
    return redirect(url_for("my_champion.home"))
