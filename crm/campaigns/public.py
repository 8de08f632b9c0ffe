"""The unsubscribe page: no login, the signed link is the only key.

GET shows a button (mail scanners fetch links; a fetch must not unsubscribe anyone); POST
unsubscribes, and is what mail clients send for RFC 8058 one-click unsubscribe
(`List-Unsubscribe=One-Click`), without a CSRF token, so the endpoint is exempt from CSRF.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from crm.campaigns import operations
from crm.campaigns.delivery import UNSUBSCRIBE_PURPOSE
from crm.campaigns.models import OutboxMessage
from crm.core.access import public
from crm.core.tokens import TokenError, read_token
from crm.extensions import csrf, db

bp = Blueprint("campaign_public", __name__, url_prefix="/u")


def _message(token: str) -> OutboxMessage | None:
    try:
        key = read_token(UNSUBSCRIBE_PURPOSE, token, max_age=None)
    except TokenError:
        return None
    if not isinstance(key, str):
        return None
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.message_key == key))


@bp.route("/<token>", methods=["GET", "POST"])
@public
@csrf.exempt
def unsubscribe(token: str):
    message = _message(token)
    if message is None:
        return render_template("campaigns/unsubscribe.html", state="invalid"), 404
    if request.method == "GET":
        return render_template("campaigns/unsubscribe.html", state="ask", message=message)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    source = "one-click unsubscribe" if one_click else "unsubscribe link"
    operations.unsubscribe(message, f"{source} ({message.campaign.name})")
    db.session.commit()
    return render_template("campaigns/unsubscribe.html", state="done", message=message)
