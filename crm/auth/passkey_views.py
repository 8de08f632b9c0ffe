"""Passkey pages: the account's list (add, rename, remove), signing in with a passkey from the
login page, and an admin removing a user's passkeys.

The browser's part of each ceremony is static/js/passkeys.js, which posts JSON here with the
CSRF token in a header. Each ceremony's challenge waits in the session (a signed cookie) for a
few minutes and is taken out by the answer, whatever it is (crm.auth.passkeys checks it).
"""

from __future__ import annotations

from typing import Any

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

from crm.auth import passkeys, sessions
from crm.auth.models import User
from crm.auth.operations import LoginThrottled
from crm.core.access import Permission, public, requires
from crm.core.errors import OperationError
from crm.core.http import client_address, safe_next
from crm.core.unit_of_work import attempt, attempt_flashed, keep_changes
from crm.extensions import db

bp = Blueprint("passkeys", __name__)

CEREMONY = "passkey_ceremony"  # the session key of the ceremony under way
MAX_BODY = 64 * 1024  # a passkey's answer is a few kilobytes


def _json_error(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=message), status


def json_body() -> dict[str, Any] | None:
    """The request's JSON object, or None for anything else (too large, not JSON, a list)."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _options(text: str, state: passkeys.ChallengeState) -> Response:
    session[CEREMONY] = state.to_dict()
    return Response(text, mimetype="application/json")


def _no_relying_party() -> tuple[Response, int]:
    return _json_error(
        "Passkeys cannot be used at this site's address: it needs a host name, not an IP address."
    )


# --------------------------------------------------------------------------- the account


def _page(status: int = 200, problem: dict[str, Any] | None = None):
    rp = passkeys.relying_party()
    return render_template(
        "auth/passkeys.html",
        passkeys=passkeys.passkeys_of(current_user),
        rp=rp,
        problem=problem or {},
    ), status


@bp.route("/account/passkeys")
@requires(Permission.ACCOUNT)
def account_passkeys():
    return _page()


@bp.route("/account/passkeys/options", methods=["POST"])
@requires(Permission.ACCOUNT)
def add_options():
    rp = passkeys.relying_party()
    if rp is None:
        return _no_relying_party()
    body = json_body()
    password = body.get("password") if body is not None else None
    try:
        text, state = passkeys.registration_options(
            current_user, rp, password if isinstance(password, str) else None
        )
    except OperationError as refused:
        return _json_error(refused.message)
    return _options(text, state)


@bp.route("/account/passkeys/add", methods=["POST"])
@requires(Permission.ACCOUNT)
def add():
    kept = session.pop(CEREMONY, None)  # one answer per challenge, right or wrong
    body = json_body()
    rp = passkeys.relying_party()
    if body is None:
        return _json_error("Send the passkey as a JSON object.")
    if rp is None:
        return _no_relying_party()
    user = current_user

    def add_it():
        state = passkeys.challenge_from(kept, "add", user)
        return passkeys.add_passkey(
            user, body.get("credential"), state=state, name=body.get("name"), rp=rp
        )

    done = attempt(add_it, show=False)
    if not done.ok:
        return _json_error(done.error.message)
    flash(f"Your passkey “{done.value.name}” is added.", "success")
    return jsonify(redirect=url_for("passkeys.account_passkeys"))


def _own(passkey_id: int) -> passkeys.Passkey:
    # Someone else's passkey is as good as missing: 404, saying nothing of whose it is.
    return passkeys.find_own(current_user, passkey_id) or abort(404)


@bp.route("/account/passkeys/<int:passkey_id>/rename", methods=["POST"])
@requires(Permission.ACCOUNT)
def rename(passkey_id: int):
    passkey = _own(passkey_id)
    name = request.form.get("name", "")
    done = attempt(lambda: passkeys.rename_passkey(current_user, passkey, name), show=False)
    if not done.ok:
        problem = {"id": passkey.id, "field": "name", "message": done.error.message, "name": name}
        return _page(422, problem)
    flash(f"The passkey is renamed “{passkey.name}”.", "success")
    return redirect(url_for("passkeys.account_passkeys"))


@bp.route("/account/passkeys/<int:passkey_id>/remove", methods=["POST"])
@requires(Permission.ACCOUNT)
def remove(passkey_id: int):
    passkey = _own(passkey_id)
    name = passkey.name
    password = request.form.get("password", "")
    done = attempt(lambda: passkeys.remove_passkey(current_user, passkey, password), show=False)
    if not done.ok:
        problem = {"id": passkey.id, "field": "password", "message": done.error.message}
        return _page(422, problem)
    flash(f"The passkey “{name}” is removed: it no longer signs you in.", "success")
    return redirect(url_for("passkeys.account_passkeys"))


# --------------------------------------------------------------------------- signing in


@bp.route("/login/passkey/options", methods=["POST"])
@public
def sign_in_options():
    rp = passkeys.relying_party()
    if rp is None:
        return _no_relying_party()
    text, state = passkeys.authentication_options(rp)
    return _options(text, state)


@bp.route("/login/passkey", methods=["POST"])
@public
def sign_in():
    kept = session.pop(CEREMONY, None)
    body = json_body()
    if body is None:
        return _json_error("Send the passkey as a JSON object.")
    home = safe_next(body.get("next") if isinstance(body.get("next"), str) else None)
    if current_user.is_authenticated:
        return jsonify(redirect=home or url_for("dashboard.home"))
    rp = passkeys.relying_party()
    if rp is None:
        return _no_relying_party()
    config = current_app.config
    try:
        state = passkeys.challenge_from(kept, "sign-in")
        user = passkeys.sign_in(
            body.get("credential"),
            state=state,
            rp=rp,
            address=client_address(),
            window_seconds=config["LOGIN_THROTTLE_WINDOW_SECONDS"],
            max_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        )
    except LoginThrottled as exc:
        keep_changes()  # the refusal is in the security log
        return _json_error(exc.message, 429)
    except OperationError as refused:
        keep_changes()  # the failure counts towards the limit, and is in the security log
        return _json_error(refused.message)
    remember = body.get("remember") is True
    sessions.start(user, remember=remember)
    login_user(user, remember=remember, duration=sessions.remember_lifetime())
    return jsonify(redirect=home or url_for("dashboard.home"))


# --------------------------------------------------------------------------- admins


@bp.route("/admin/users/<int:user_id>/passkeys/remove", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def remove_users_passkeys(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    done = attempt_flashed(lambda: passkeys.remove_all(current_user, user))
    if done.ok:
        flash(f"{user.name}'s passkeys are removed ({done.value}).", "success")
    return redirect(url_for("users.edit", user_id=user.id))


@bp.app_context_processor
def passkey_helpers() -> dict[str, Any]:
    # The login page (crm.auth.views) offers a passkey when the site's address allows one.
    return {"passkey_relying_party": passkeys.relying_party}
