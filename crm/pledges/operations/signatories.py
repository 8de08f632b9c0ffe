"""The signatory and their account: what a lead should check before confirming, and the
organization-representative account confirming creates.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.auth import operations as auth_ops
from crm.auth.models import User
from crm.core.access import Role
from crm.extensions import db
from crm.pledges.models import Pledge


def signatory_doubts(pledge: Pledge) -> list[str]:
    """What a lead should check before confirming: confirming invites the signatory to see and
    report for the organization, so a stranger's public submission must not slip through."""
    from urllib.parse import urlsplit

    doubts = []
    signatory = pledge.signatory
    if signatory is None or not signatory.email:
        return ["The signatory has no email address, so nobody can be invited to report."]
    if pledge.source == "public form":
        doubts.append("This pledge came in through the public form: check the signatory really "
                      "speaks for the organization.")  # fmt: skip
    website = pledge.organization.website
    host = (urlsplit(website).hostname or "").removeprefix("www.") if website else ""
    domain = signatory.email.rsplit("@", 1)[-1].lower()
    if host and not (domain == host or domain.endswith("." + host)):
        doubts.append(f"The signatory's address ({signatory.email}) is not at the organization's "
                      f"website domain ({host}).")  # fmt: skip
    if signatory.organization_id not in (None, pledge.organization_id):
        doubts.append("The signatory's contact record names another organization.")
    account = signatory_account(pledge)
    if account is not None and representative_for(pledge) is None:
        doubts.append(
            f"{signatory.email} already has an account ({account.role.label.lower()}), which "
            "confirming leaves as it is: it will not see this pledge until an admin links it."
        )
    return doubts


def signatory_account(pledge: Pledge) -> User | None:
    """Any account with the signatory's address."""
    signatory = pledge.signatory
    if signatory is None or not signatory.email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == signatory.email))


def representative_for(pledge: Pledge) -> User | None:
    """The signatory's account when it represents this pledge's organization."""
    account = signatory_account(pledge)
    if (
        account is not None
        and account.role is Role.ORG_REP
        and account.organization_id == pledge.organization_id
    ):
        return account
    return None


def ensure_representative(actor: User | None, pledge: Pledge) -> User | None:
    """An organization-representative account for the signatory, created when missing.

    Returns the new account (to invite), or None when there is nothing to do: no signatory
    email, or an account already exists (which is left exactly as it is).
    """
    signatory = pledge.signatory
    if signatory is None or not signatory.email or signatory_account(pledge) is not None:
        return None
    return auth_ops.create_user(
        actor,
        email=signatory.email,
        name=signatory.full_name,
        role=Role.ORG_REP,
        organization_id=pledge.organization_id,
        contact_id=signatory.id,
    )
