"""Administering accounts: list, invite, edit, re-send an invitation.

These pages link an account to a contact or an organization, so unlike the rest of crm.auth
they stand on those domains (an exception declared in pyproject.toml's import contracts).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from crm.auth import operations, passkeys, security_log, sessions, two_factor
from crm.auth.forms import UserForm
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.access import Permission, Role, requires
from crm.core.unit_of_work import attempt, attempt_flashed
from crm.extensions import db
from crm.organizations import queries as org_queries

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def _links(form: UserForm) -> tuple[int | None, int | None] | None:
    """The contact and organization ids the form names, or None after adding field errors."""
    contact_id = organization_id = None
    ok = True
    if form.contact_email.data and form.contact_email.data.strip():
        email = form.contact_email.data.strip().lower()
        contact_id = db.session.scalar(sa.select(Contact.id).where(Contact.email == email))
        if contact_id is None:
            form.contact_email.errors.append("There is no contact with this email.")
            ok = False
    if form.organization.data and form.organization.data.strip():
        org = org_queries.by_name(form.organization.data)
        organization_id = org.id if org else None
    role = form.role.data
    if role == Role.CHAMPION and contact_id is None and ok:
        form.contact_email.errors.append("A champion's account must be linked to their contact.")
        ok = False
    if role == Role.ORG_REP and organization_id is None and not form.organization.errors:
        form.organization.errors.append("A representative must be linked to an organization.")
        ok = False
    return (contact_id, organization_id) if ok and not form.organization.errors else None


def _invitation_on_its_way(user: User) -> None:
    # The worker sends it after the commit: the page cannot know more than that.
    flash(f"An invitation is on its way to {user.email}.", "success")


@bp.route("/")
@requires(Permission.USERS_MANAGE)
def index():
    users = db.session.scalars(
        sa.select(User)
        .options(selectinload(User.contact), selectinload(User.organization))
        .order_by(User.role, User.name)
    ).all()
    with_second_factor = two_factor.users_with_second_factor([u.id for u in users])
    return render_template(
        "auth/users/index.html", users=users, with_second_factor=with_second_factor
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
def new():
    form = UserForm()
    if request.method == "GET":
        form.role.data = Role.VOLUNTEER.value  # least surprise: never an admin by default
    links = _links(form) if form.validate_on_submit() else None
    if links is not None:
        contact_id, organization_id = links

        def create_and_invite() -> User:
            user = operations.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=Role(form.role.data),
                contact_id=contact_id,
                organization_id=organization_id,
            )
            operations.invite(current_user, user)
            return user

        done = attempt(create_and_invite, form)
        if done.ok:
            _invitation_on_its_way(done.value)
            return redirect(url_for("users.index"))
    return render_template("auth/users/form.html", form=form, user=None)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
def edit(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.email.render_kw = {"readonly": True}
    if request.method == "GET":
        form.contact_email.data = user.contact.email if user.contact else ""
        form.organization.data = user.organization.name if user.organization else ""
    links = _links(form) if form.validate_on_submit() else None
    if links is not None:
        contact_id, organization_id = links
        done = attempt(
            lambda: operations.update_user(
                current_user,
                user,
                name=form.name.data,
                role=Role(form.role.data),
                active=form.active.data,
                contact_id=contact_id,
                organization_id=organization_id,
            )
        )
        if done.ok:
            flash(f"{user.name} is saved.", "success")
            return redirect(url_for("users.index"))
    return render_template(
        "auth/users/form.html",
        form=form,
        user=user,
        open_sessions=sessions.open_sessions(user),
        has_second_factor=two_factor.has_second_factor(user),
        passkey_count=passkeys.count_for(user),
    )


@bp.route("/security")
@requires(Permission.USERS_MANAGE)
def security():
    email = request.args.get("email", "").strip()[:254]
    return render_template(
        "auth/security_log.html", events=security_log.events(email=email), who="all", email=email
    )


@bp.route("/<int:user_id>/security")
@requires(Permission.USERS_MANAGE)
def user_security(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    return render_template(
        "auth/security_log.html", events=security_log.events(user_id=user.id), who=user
    )


@bp.route("/<int:user_id>/sessions/end", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def end_sessions(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    done = attempt_flashed(lambda: operations.end_sessions(current_user, user))
    if done.ok:
        flash(f"{user.name} is signed out everywhere ({done.value} session(s)).", "success")
    return redirect(url_for("users.edit", user_id=user.id))


@bp.route("/<int:user_id>/invite", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def reinvite(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    if attempt_flashed(lambda: operations.invite(current_user, user), category="info").ok:
        _invitation_on_its_way(user)
    return redirect(url_for("users.index"))


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def reset_password(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    done = attempt_flashed(
        lambda: operations.send_password_reset(current_user, user), category="warning"
    )
    if done.ok:
        flash(f"A password reset link is on its way to {user.email}.", "success")
    return redirect(url_for("users.index"))
