"""Logging in and out, changing one's password, accepting an invitation."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from crm.audit import display as audit_display
from crm.auth import operations, security_log, sessions, two_factor_views
from crm.auth.forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
)
from crm.auth.invitations import user_from_invitation
from crm.auth.models import User
from crm.core.access import Permission, public, requires
from crm.core.http import client_address
from crm.core.tokens import TokenError
from crm.core.unit_of_work import attempt, attempt_flashed, keep_changes
from crm.extensions import db

bp = Blueprint("auth", __name__)


# Accounts as the audit trail names them (the trail sits below this domain).
@audit_display.names("user")
def _user_name(user_id: int) -> str | None:
    return db.session.scalar(sa.select(User.name).where(User.id == user_id))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if form.validate_on_submit():
        config = current_app.config
        try:
            user = operations.authenticate(
                form.email.data,
                form.password.data,
                client_address(),
                window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
                max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
                max_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            )
        except operations.LoginThrottled as exc:
            keep_changes()  # the refusal is in the security log
            flash(exc.message, "danger")
            return render_template("auth/login.html", form=form), 429
        if user is None:
            # Answered 200, so the failed attempt is committed with the request and counts.
            flash("That email and password do not match an active account.", "danger")
            return render_template("auth/login.html", form=form), 200
        # The second factor, if the account has one, before the sign-in is done.
        return two_factor_views.after_password(
            user, remember=form.remember.data, next_url=request.args.get("next")
        )
    return render_template("auth/login.html", form=form)


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.ask_for_password_link(form.email.data, client_address()),
            show=False,
        )
        if not done.ok:
            form.email.errors.append(done.error.message)
            return render_template("auth/forgot_password.html", form=form), 429
        # The same answer whether or not the address has an account.
        minutes = current_app.config["FORGOT_LINK_MINUTES"]
        return render_template(
            "auth/forgot_password.html", form=None, asked=form.email.data.strip(), minutes=minutes
        )
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        operations.sign_out(current_user)  # every copy of this browser's cookies is refused
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Permission.ACCOUNT)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.change_password(
                current_user,
                form.current_password.data,
                form.password.data,
                min_length=current_app.config["PASSWORD_MIN_LENGTH"],
            ),
            show=False,
        )
        if not done.ok:
            getattr(form, done.error.field or "password").errors.append(done.error.message)
        else:
            sessions.start(current_user)  # every session ended: this browser starts a new one
            login_user(current_user)
            flash("Your password is changed. Other browsers have been signed out.", "success")
            return redirect(url_for("dashboard.home"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/sessions")
@requires(Permission.ACCOUNT)
def account_sessions():
    return render_template(
        "auth/sessions.html",
        open_sessions=sessions.open_sessions(current_user),
        current_id=current_user.signed_in_session.id if current_user.signed_in_session else None,
    )


@bp.route("/account/security")
@requires(Permission.ACCOUNT)
def account_security():
    return render_template(
        "auth/security_log.html", events=security_log.events(user_id=current_user.id), who=None
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@requires(Permission.ACCOUNT)
def end_session(session_id: int):
    if attempt_flashed(lambda: operations.sign_out_one(current_user, session_id)).ok:
        flash("That session is signed out.", "success")
    return redirect(url_for("auth.account_sessions"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@requires(Permission.ACCOUNT)
def end_other_sessions():
    ended = operations.sign_out_elsewhere(current_user)
    flash(
        f"Signed out everywhere else ({ended} session{'s' if ended != 1 else ''})."
        if ended
        else "You were signed in nowhere else.",
        "success",
    )
    return redirect(url_for("auth.account_sessions"))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    try:
        user = user_from_invitation(token)
    except TokenError as exc:
        return render_template("auth/invitation_invalid.html", message=str(exc)), 400
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        done = attempt(
            lambda: operations.set_password_from_link(
                user, form.password.data, min_length=current_app.config["PASSWORD_MIN_LENGTH"]
            ),
            show=False,
        )
        if not done.ok:
            form.password.errors.append(done.error.message)
        else:
            sessions.start(user)
            login_user(user)
            flash(f"Welcome, {user.name}. Your password is set.", "success")
            return redirect(url_for("dashboard.home"))
    return render_template("auth/accept_invitation.html", form=form, user=user)
