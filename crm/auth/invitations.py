"""Password links — invitations and resets: signed, expiring, and dead once used.

The link carries the start of the user's session token, which changes whenever a password is
set or a newer link is sent; so a link works once, and only the newest one works. The emails are
jobs queued in the caller's transaction (`crm.core.mail.queue_mail`): the worker sends them
once it commits.
"""

from __future__ import annotations

from flask import current_app

from crm.auth.models import User
from crm.core.http import external_url
from crm.core.jobs import Job
from crm.core.mail import MailMessage, queue_mail
from crm.core.tokens import TokenError, make_token, read_token
from crm.extensions import db

PURPOSE = "invitation"


def invitation_token(user: User) -> str:
    # The session token changes when a password is set, which voids the link.
    return make_token(PURPOSE, {"uid": user.id, "st": user.session_token[:12]})


def user_from_invitation(token: str) -> User:
    data = read_token(PURPOSE, token, current_app.config["INVITATION_MAX_AGE_SECONDS"])
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.active:
        raise TokenError("This invitation is no longer valid. Ask an administrator for a new one.")
    if user.session_token[:12] != data.get("st"):
        raise TokenError(
            "This link has already been used, or a newer one was sent. Use the latest email, "
            "or log in if you have set your password."
        )
    return user


def invitation_url(user: User) -> str:
    return external_url("auth.accept_invitation", token=invitation_token(user))


def queue_password_reset(user: User, admin: User) -> Job:
    """The email with a link to choose a new password, sent once this transaction commits."""
    hours = current_app.config["INVITATION_MAX_AGE_SECONDS"] // 3600
    text = (
        f"Hello {user.name},\n\n"
        f"{admin.name} has sent you a link to choose a new password for WEST Advocacy CRM "
        f"(it works for {hours} hours, once):\n{invitation_url(user)}\n\n"
        "Until you use it, you are signed out everywhere; your old password still works.\n\n"
        "— WEST Principles community\n"
    )
    return queue_mail(
        MailMessage(to=user.email, subject="Choose a new password", text=text), actor=admin
    )


def queue_invitation(user: User, inviter: User | None) -> Job:
    """The invitation email, sent once this transaction commits. Without an inviter (the
    command line), it says who invites nobody in particular."""
    days = current_app.config["INVITATION_MAX_AGE_SECONDS"] // 86400
    link = invitation_url(user)
    who = f"{inviter.name} has invited you" if inviter is not None else "You are invited"
    text = (
        f"Hello {user.name},\n\n"
        f"{who} to WEST Advocacy CRM as {user.role.label.lower()}.\n\n"
        f"Choose your password here (the link works for {days} days, once):\n{link}\n\n"
        "If you did not expect this email you can ignore it.\n\n"
        "— WEST Principles community\n"
    )
    return queue_mail(
        MailMessage(to=user.email, subject="Your WEST Advocacy CRM account", text=text),
        actor=inviter,
    )
