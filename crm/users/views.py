"""Administering accounts: list, invite, edit, re-send an invitation."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from crm.auth import operations
from crm.auth.invitations import send_invitation
from crm.auth.models import Role, User
from crm.contacts.models import Contact
from crm.core.access import Permission, requires
from crm.core.errors import OperationError
from crm.core.mail import MailError
from crm.extensions import db
from crm.organizations.models import Organization
from crm.users.forms import UserForm

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def _check_links(form: UserForm) -> bool:
    ok = True
    if form.contact_id.data and db.session.get(Contact, form.contact_id.data) is None:
        form.contact_id.errors.append("There is no contact with this id.")
        ok = False
    if (
        form.organization_id.data
        and db.session.get(Organization, form.organization_id.data) is None
    ):
        form.organization_id.errors.append("There is no organization with this id.")
        ok = False
    role = form.role.data
    if role == Role.CHAMPION and not form.contact_id.data:
        form.contact_id.errors.append("A champion's account must be linked to their contact.")
        ok = False
    if role == Role.ORG_REP and not form.organization_id.data:
        form.organization_id.errors.append("A representative must be linked to an organization.")
        ok = False
    return ok


def _deliver_invitation(user: User) -> None:
    try:
        send_invitation(user, current_user)
    except MailError as exc:
        flash(f"The account is saved but the invitation could not be sent: {exc}", "warning")
    else:
        flash(f"Invitation sent to {user.email}.", "success")


@bp.route("/")
@requires(Permission.USERS_MANAGE)
def index():
    users = db.session.scalars(sa.select(User).order_by(User.role, User.name)).all()
    return render_template("users/index.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
def new():
    form = UserForm()
    if form.validate_on_submit() and _check_links(form):
        try:
            user = operations.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=Role(form.role.data),
                contact_id=form.contact_id.data,
                organization_id=form.organization_id.data,
            )
            operations.mark_invited(current_user, user)
        except OperationError as exc:
            getattr(form, exc.field or "email").errors.append(exc.message)
        else:
            db.session.commit()
            _deliver_invitation(user)
            return redirect(url_for("users.index"))
    return render_template("users/form.html", form=form, user=None)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
def edit(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.email.render_kw = {"readonly": True}
    if form.validate_on_submit() and _check_links(form):
        try:
            operations.update_user(
                current_user,
                user,
                name=form.name.data,
                role=Role(form.role.data),
                active=form.active.data,
                contact_id=form.contact_id.data,
                organization_id=form.organization_id.data,
            )
        except OperationError as exc:
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(f"{user.name} is saved.", "success")
            return redirect(url_for("users.index"))
    return render_template("users/form.html", form=form, user=user)


@bp.route("/<int:user_id>/invite", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def reinvite(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    try:
        operations.mark_invited(current_user, user)
    except OperationError as exc:
        flash(exc.message, "info")
    else:
        db.session.commit()
        _deliver_invitation(user)
    return redirect(url_for("users.index"))
