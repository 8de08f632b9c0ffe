"""Password links — invitations and resets: signed, expiring, and dead once used.

The link carries the start of the user's session token, which changes whenever a password is
set or a newer link is sent; so a link works once, and only the newest one works. An invitation
works for `CRM_INVITATION_MAX_AGE`, a reset sent by an admin for `CRM_RESET_LINK_HOURS`, one
asked for with "Forgot your password?" for `CRM_FORGOT_LINK_MINUTES` (each link says which in
its signed payload). The emails are jobs queued in the caller's transaction
(`crm.core.mail.queue_mail`): the worker sends them once it commits.
"""

from __future__ import annotations

from flask import current_app

from crm.auth.models import User
from crm.core.db import utcnow
from crm.core.http import external_url
from crm.core.jobs import Job
from crm.core.mail import MailMessage, queue_mail
from crm.core.tokens import TokenError, make_token, read_stamped_token
from crm.extensions import db

PURPOSE = "invitation"


def invitation_token(user: User, *, lasts_seconds: int | None = None) -> str:
    # The session token changes when a password is set, which voids the link.
    payload: dict = {"uid": user.id, "st": user.session_token[:12]}
    if lasts_seconds is not None:
        payload["max"] = lasts_seconds  # shorter than an invitation: a reset link
    return make_token(PURPOSE, payload)


def _longest_link_seconds() -> int:
    config = current_app.config
    return max(
        config["INVITATION_MAX_AGE_SECONDS"],
        config["RESET_LINK_HOURS"] * 3600,
        config["FORGOT_LINK_MINUTES"] * 60,
    )


def user_from_invitation(token: str) -> User:
    data, signed_at = read_stamped_token(PURPOSE, token, _longest_link_seconds())
    if not isinstance(data, dict):
        raise TokenError("This link is not valid. Check that you copied all of it.")
    lasts = data.get("max", current_app.config["INVITATION_MAX_AGE_SECONDS"])
    if not isinstance(lasts, int) or (utcnow() - signed_at).total_seconds() > lasts:
        raise TokenError("This link has expired. Ask for a new one.")
    user = db.session.get(User, data.get("uid"))
    if user is None or not user.active:
        raise TokenError("This link is no longer valid. Ask an administrator for a new one.")
    if user.session_token[:12] != data.get("st"):
        raise TokenError(
            "This link has already been used, or a newer one was sent. Use the latest email, "
            "or log in if you have set your password."
        )
    return user


def invitation_url(user: User, *, lasts_seconds: int | None = None) -> str:
    token = invitation_token(user, lasts_seconds=lasts_seconds)
    return external_url("auth.accept_invitation", token=token)


def queue_password_reset(user: User, admin: User) -> Job:
    """The email with a link to choose a new password, sent once this transaction commits."""
    hours = current_app.config["RESET_LINK_HOURS"]
    link = invitation_url(user, lasts_seconds=hours * 3600)
    text = (
        f"Hello {user.name},\n\n"
        f"{admin.name} has sent you a link to choose a new password for WEST Advocacy CRM "
        f"(it works for {hours} hours, once):\n{link}\n\n"
        "Until you use it, you are signed out everywhere; your old password still works.\n\n"
        "— WEST Principles community\n"
    )
    return queue_mail(
        MailMessage(to=user.email, subject="Choose a new password", text=text), actor=admin
    )


def queue_forgotten_password(user: User) -> Job:
    """The email answering "Forgot your password?", sent once this transaction commits."""
    minutes = current_app.config["FORGOT_LINK_MINUTES"]
    link = invitation_url(user, lasts_seconds=minutes * 60)
    text = (
        f"Hello {user.name},\n\n"
        "Someone, we hope you, asked for a link to choose a new password for WEST Advocacy CRM. "
        f"It works for {minutes} minutes, once:\n{link}\n\n"
        "If it was not you, ignore this email: your password has not changed, and nobody can "
        "use the link without reading your mail.\n\n"
        "— WEST Principles community\n"
    )
    return queue_mail(MailMessage(to=user.email, subject="Choose a new password", text=text))


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
