"""Two-factor sign-in in the browser: the code step of a sign-in, "trust this browser", the
account page that sets it up, the admin's reset, and keeping someone whose role requires it
on the set-up page until it is done.

After a right password (`crm.auth.views.login`), `after_password` either finishes the sign-in
or keeps who is signing in in the Flask session (signed by the app's key) and asks for a code.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from crm.auth import operations, passkeys, sessions, two_factor
from crm.auth.models import User
from crm.auth.passkey_views import json_body
from crm.core.access import Permission, public, requires
from crm.core.http import client_address, safe_next
from crm.core.tokens import TokenError, make_token, read_token
from crm.core.unit_of_work import attempt, attempt_flashed, keep_changes
from crm.extensions import db

bp = Blueprint("two_factor", __name__)

PENDING = "two_factor_pending"  # the Flask session's key for a sign-in waiting for its code
PENDING_SECONDS = 5 * 60
MAX_WRONG_CODES = 5  # then the sign-in starts again from the password
TRUST_COOKIE = "crm_trusted_browser"
TRUST_PURPOSE = "two-factor-trust"

# What someone who must set up two-factor sign-in may still reach.
OPEN_BEFORE_ENROLMENT = frozenset(
    {
        "static",
        "two_factor.account",
        "two_factor.begin",
        "two_factor.confirm",
        # A passkey is a second factor too.
        "passkeys.account_passkeys",
        "passkeys.add_options",
        "passkeys.add",
        "auth.logout",
    }
)
PASSKEY_STEP = "two_factor_passkey"  # the session key of a passkey asked for as the second step


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(message="Type the code from your app."), Length(max=64)],
        description="The 6-digit code your authenticator app shows, or one of your recovery codes.",
    )
    trust = BooleanField("Trust this browser for 30 days")


class ConfirmForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(message="Type the code your app shows."), Length(max=64)],
    )


class TurnOffForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired(message="Type your password."), Length(max=500)]
    )
    code = StringField(
        "Code from the app, or a recovery code",
        validators=[DataRequired(message="Type a code."), Length(max=64)],
    )


# --- signing in -----------------------------------------------------------------------------


def after_password(user: User, *, remember: bool, next_url: str | None) -> BaseResponse:
    """The password was right: sign in, or first ask for the second factor (unless this browser
    is trusted for `user`)."""
    if two_factor.has_second_factor(user):
        if _trusted(user):
            return _finish(user, remember=remember, next_url=next_url, how="in a trusted browser")
        session[PENDING] = {
            "user": user.id,
            "stamp": two_factor.password_stamp(user),  # a new password meanwhile ends it
            "remember": bool(remember),
            "next": safe_next(next_url) or "",
            "since": int(time.time()),
            "wrong": 0,
        }
        return redirect(url_for("two_factor.code"))
    return _finish(user, remember=remember, next_url=next_url)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code():
    pending, user = _pending()
    if pending is None or user is None:
        if session.pop(PENDING, None) is not None:
            flash("Your sign-in has timed out. Log in again with your password.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    form.trust.label.text = f"Trust this browser for {_trust_days()} days"
    if request.method == "POST" and two_factor.active_app(user) is None:
        abort(400)  # no app to take a code from: the page offers the passkey only
    if form.validate_on_submit():
        config = current_app.config
        try:
            how = two_factor.sign_in_with_code(
                user,
                form.code.data,
                client_address(),
                window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
                max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
                max_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
            )
        except operations.LoginThrottled as exc:
            # Back to the password (a redirect: the refusal in the security log is kept).
            session.pop(PENDING, None)
            flash(exc.message, "danger")
            return redirect(url_for("auth.login"))
        if how is None:
            pending["wrong"] = int(pending.get("wrong", 0)) + 1
            if pending["wrong"] >= MAX_WRONG_CODES:
                session.pop(PENDING, None)
                flash("Too many wrong codes. Log in again with your password.", "danger")
                return redirect(url_for("auth.login"))
            session[PENDING] = pending
            # Answered 200, so the wrong code is committed with the request and counts.
            form.code.errors.append("That code is not right. Type the newest code from your app.")
            return _code_page(form, user)
        session.pop(PENDING, None)
        response = _finish(
            user,
            remember=bool(pending.get("remember")),
            next_url=pending.get("next") or None,
            how="with a recovery code" if how == "recovery" else "with an authenticator code",
        )
        if how == "recovery":
            left = two_factor.recovery_codes_left(user)
            flash(
                f"You signed in with a recovery code; {left} left. Make new ones on your "
                "two-factor page if you are running low.",
                "warning",
            )
        if form.trust.data:
            _trust(response, user)
        return response
    return _code_page(form, user)


def _code_page(form: CodeForm, user: User) -> str:
    return render_template(
        "auth/two_factor_code.html",
        form=form,
        has_app=two_factor.active_app(user) is not None,
        passkey_rp=passkeys.relying_party() if passkeys.has_passkey(user) else None,
    )


@bp.route("/login/code/passkey/options", methods=["POST"])
@public
def passkey_options():
    """The second step with a passkey: the challenge, for the pending user's passkeys only."""
    pending, user = _pending()
    rp = passkeys.relying_party()
    if pending is None or user is None or rp is None:
        return jsonify(error="Your sign-in has timed out. Log in again with your password."), 400
    text, state = passkeys.authentication_options(rp, user)
    session[PASSKEY_STEP] = state.to_dict()
    return Response(text, mimetype="application/json")


@bp.route("/login/code/passkey", methods=["POST"])
@public
def passkey():
    """The pending user's passkey answered: the sign-in is complete. A wrong answer counts as
    a wrong code (the throttle, the security log, five and back to the password)."""
    kept = session.pop(PASSKEY_STEP, None)  # one answer per challenge, right or wrong
    pending, user = _pending()
    rp = passkeys.relying_party()
    body = json_body()
    if pending is None or user is None or rp is None:
        return jsonify(error="Your sign-in has timed out. Log in again with your password."), 400
    if body is None:
        return jsonify(error="Send the passkey as a JSON object."), 400
    config = current_app.config
    try:
        operations.check_throttle(
            user.email,
            client_address(),
            window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
            max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            max_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        )
        state = passkeys.challenge_from(kept, "sign-in", user)
        passkeys.verify_assertion(body.get("credential"), state=state, rp=rp, user=user)
    except operations.LoginThrottled as exc:
        session.pop(PENDING, None)
        keep_changes()  # the refusal is in the security log
        return jsonify(error=exc.message, redirect=url_for("auth.login")), 429
    except passkeys.PasskeyRefused as refused:
        two_factor.wrong_code(user, client_address())
        keep_changes()  # the failure counts, and is in the security log
        pending["wrong"] = int(pending.get("wrong", 0)) + 1
        if pending["wrong"] >= MAX_WRONG_CODES:
            session.pop(PENDING, None)
            return jsonify(error=refused.message, redirect=url_for("auth.login")), 400
        session[PENDING] = pending
        return jsonify(error=refused.message), 400
    session.pop(PENDING, None)
    done = _finish(
        user,
        remember=bool(pending.get("remember")),
        next_url=pending.get("next") or None,
        how="with a passkey",
    )
    return jsonify(redirect=done.location)


def _pending() -> tuple[dict[str, Any] | None, User | None]:
    """The sign-in waiting for its code, and its user; (None, None) when there is none, it is
    older than `PENDING_SECONDS`, or the account changed since (deactivated, a new password)."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None, None
    try:
        since, user_id = int(pending["since"]), int(pending["user"])
    except (KeyError, TypeError, ValueError):
        return None, None
    if not 0 <= time.time() - since <= PENDING_SECONDS:
        return None, None
    user = db.session.get(User, user_id)
    if (
        user is None
        or not user.active
        or not _same(two_factor.password_stamp(user), pending.get("stamp"))
    ):
        return None, None
    return pending, user


def _finish(user: User, *, remember: bool, next_url: str | None, how: str = "") -> BaseResponse:
    operations.signed_in(user, detail=how)
    sessions.start(user, remember=remember)
    login_user(user, remember=remember, duration=sessions.remember_lifetime())
    if _must_enrol(user):
        flash("Your role requires two-factor sign-in. Set it up to continue.", "warning")
        return redirect(url_for("two_factor.account"))
    return redirect(safe_next(next_url) or url_for("dashboard.home"))


def _trust_days() -> int:
    return int(current_app.config["TWO_FACTOR_TRUST_DAYS"])


def _trust(response: BaseResponse, user: User) -> None:
    """Have this browser skip the code for `user` for the next days: a signed cookie naming the
    user and their trust stamp (a new password or second factor revokes it)."""
    stamp = two_factor.trust_stamp(user)
    if stamp is None:
        return
    days = _trust_days()
    response.set_cookie(
        TRUST_COOKIE,
        make_token(TRUST_PURPOSE, {"u": user.id, "s": stamp}),
        max_age=days * 24 * 3600,
        httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        samesite="Lax",
    )
    two_factor.trusted_browser_added(user)


def _trusted(user: User) -> bool:
    token = request.cookies.get(TRUST_COOKIE, "")
    if not token or len(token) > 500:
        return False
    try:
        payload = read_token(TRUST_PURPOSE, token, max_age=_trust_days() * 24 * 3600)
    except TokenError:
        return False
    stamp = two_factor.trust_stamp(user)
    return (
        isinstance(payload, dict)
        and payload.get("u") == user.id
        and stamp is not None
        and _same(stamp, payload.get("s"))
    )


def _same(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


# --- required for some roles ----------------------------------------------------------------


def _must_enrol(user: User) -> bool:
    roles = current_app.config["REQUIRE_2FA_ROLES"]
    return (
        bool(roles)
        and two_factor.required_for(user, roles)
        and not two_factor.has_second_factor(user)
    )


@bp.before_app_request
def keep_on_enrolment():
    """Someone whose role requires two-factor sign-in and who has none reaches nothing but the
    set-up page (and Log out) until it is done."""
    if not current_app.config["REQUIRE_2FA_ROLES"] or request.endpoint in OPEN_BEFORE_ENROLMENT:
        return None
    if request.endpoint is None or not current_user.is_authenticated:
        return None
    if _must_enrol(current_user):
        flash("Your role requires two-factor sign-in. Set it up to continue.", "warning")
        return redirect(url_for("two_factor.account"))
    return None


# --- the account page -----------------------------------------------------------------------


def _qr_code(uri: str) -> Markup:
    """The QR code as an inline SVG, made here: the secret never leaves the server. segno's
    SVG uses presentation attributes only (no style), which the CSP allows."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5,
        dark="#000",
        light="#fff",
        title="QR code for your authenticator app",
        svgclass="qr-code",
    )
    return Markup(svg)  # noqa: S704 -- segno's own markup, nothing of the visitor's in it


def _account_page(confirm_form=None, off_form=None, regen_form=None, status: int = 200):
    user = current_user
    roles = current_app.config["REQUIRE_2FA_ROLES"]
    app = two_factor.active_app(user)
    pending = two_factor.enrolment(user) if app is None else None
    uri = two_factor.provisioning_uri(user, pending.secret) if pending else None
    return render_template(
        "auth/two_factor.html",
        active=app,
        pending=pending,
        qr=_qr_code(uri) if uri else None,
        secret=two_factor.secret_for_reading(pending.secret) if pending else None,
        uri=uri,
        codes_left=two_factor.recovery_codes_left(user) if app else 0,
        # Required, and no passkey stands in for the app: it stays on.
        required=bool(roles)
        and two_factor.required_for(user, roles)
        and not passkeys.has_passkey(user),
        confirm_form=confirm_form or ConfirmForm(),
        off_form=off_form or TurnOffForm(prefix="off"),
        regen_form=regen_form or ConfirmForm(prefix="regen"),
    ), status


@bp.route("/account/two-factor")
@requires(Permission.ACCOUNT)
def account():
    return _account_page()


@bp.route("/account/two-factor/begin", methods=["POST"])
@requires(Permission.ACCOUNT)
def begin():
    attempt_flashed(lambda: two_factor.begin_enrolment(current_user))
    return redirect(url_for("two_factor.account"))


@bp.route("/account/two-factor/confirm", methods=["POST"])
@requires(Permission.ACCOUNT)
def confirm():
    form = ConfirmForm()
    if form.validate_on_submit():
        done = attempt(lambda: two_factor.confirm_enrolment(current_user, form.code.data), form)
        if done.ok:
            return _show_codes(done.value, first=True)
    return _account_page(confirm_form=form, status=422)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@requires(Permission.ACCOUNT)
def regenerate():
    form = ConfirmForm(prefix="regen")  # beside the turn-off form: fields of its own
    if form.validate_on_submit():
        done = attempt(
            lambda: two_factor.regenerate_recovery_codes(current_user, form.code.data), form
        )
        if done.ok:
            return _show_codes(done.value, first=False)
    return _account_page(regen_form=form, status=422)


@bp.route("/account/two-factor/off", methods=["POST"])
@requires(Permission.ACCOUNT)
def turn_off():
    form = TurnOffForm(prefix="off")
    if form.validate_on_submit():
        done = attempt(
            lambda: two_factor.turn_off(
                current_user,
                form.password.data,
                form.code.data,
                required_roles=current_app.config["REQUIRE_2FA_ROLES"],
            ),
            form,
        )
        if done.ok:
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for("two_factor.account"))
    return _account_page(off_form=form, status=422)


def _show_codes(codes: list[str], *, first: bool):
    response = Response(
        render_template("auth/two_factor_codes.html", codes=codes, first=first), status=200
    )
    response.headers["Cache-Control"] = "no-store"  # shown once: not kept by the browser
    return response


# --- admin ----------------------------------------------------------------------------------


@bp.route("/admin/users/<int:user_id>/two-factor/reset", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def admin_reset(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if attempt_flashed(lambda: two_factor.reset(current_user, user)).ok:
        flash(
            f"{user.name}'s two-factor sign-in is reset: they sign in with their password and "
            "set it up again.",
            "success",
        )
    return redirect(url_for("users.edit", user_id=user.id))
