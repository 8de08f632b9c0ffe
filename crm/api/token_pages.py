"""Pages for API tokens: a person's own (make, list, revoke) and every token, for admins."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from crm.api import tokens
from crm.api.forms import NewTokenForm
from crm.api.models import ApiToken
from crm.core.access import Permission, requires
from crm.core.db import utcnow
from crm.core.unit_of_work import attempt, attempt_flashed
from crm.extensions import db

bp = Blueprint("api_tokens", __name__)


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@requires(Permission.ACCOUNT)
def mine():
    form = NewTokenForm()
    made = None
    if form.validate_on_submit():
        done = attempt(
            lambda: tokens.create(
                current_user,
                current_user,
                name=form.name.data,
                read_only=form.access.data != "write",
                days=int(form.days.data),
            ),
            form,
        )
        if done.ok:
            # Shown on this answer only, never stored: no redirect can carry it.
            made = done.value
            form = NewTokenForm(formdata=None)
    return render_template(
        "api/tokens.html",
        form=form,
        made=made,
        own=tokens.tokens_of(current_user),
        now=utcnow(),
    )


@bp.route("/account/api-tokens/<int:token_id>/revoke", methods=["POST"])
@requires(Permission.ACCOUNT)
def revoke_mine(token_id: int):
    token = tokens.token_of(current_user, token_id)
    if token is None:
        flash("That token is already gone.", "info")
        return redirect(url_for("api_tokens.mine"))
    name = token.name  # the row is gone once revoked
    if attempt_flashed(lambda: tokens.revoke(current_user, token)).ok:
        flash(f"The token “{name}” is revoked: it no longer works.", "success")
    return redirect(url_for("api_tokens.mine"))


@bp.route("/admin/api-tokens")
@requires(Permission.USERS_MANAGE)
def every():
    return render_template("api/every_token.html", all_tokens=tokens.every_token(), now=utcnow())


@bp.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def revoke_any(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None:
        flash("That token is already gone.", "info")
        return redirect(url_for("api_tokens.every"))
    said = f"{token.user.name}'s token “{token.name}” is revoked."  # the row is gone after
    if attempt_flashed(lambda: tokens.revoke(current_user, token)).ok:
        flash(said, "success")
    return redirect(url_for("api_tokens.every"))
