"""Public endpoints of campaigns: the unsubscribe page and SendGrid's Event Webhook.

GET shows a button (mail scanners fetch links; a fetch must not unsubscribe anyone); POST
unsubscribes, and is what mail clients send for RFC 8058 one-click unsubscribe
(`List-Unsubscribe=One-Click`), without a CSRF token, so the endpoint is exempt from CSRF.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template, request

from crm.campaigns import tracking
from crm.campaigns.delivery import message_key_from
from crm.campaigns.models import OutboxMessage, Purpose, TopicOptOut
from crm.campaigns.operations import unsubscribing as unsubscribe_ops
from crm.core.access import public
from crm.core.errors import OperationError
from crm.core.unit_of_work import attempt
from crm.extensions import csrf, db

bp = Blueprint("campaign_public", __name__, url_prefix="/u")


def _message(token: str) -> OutboxMessage | None:
    key = message_key_from(token)
    if key is None:
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
    unsubscribe_ops.unsubscribe(message, f"{source} ({message.campaign.name})")
    return render_template("campaigns/unsubscribe.html", state="done", message=message)


@bp.route("/<token>/topics", methods=["GET", "POST"])
@public
def topics(token: str):
    """The preference page: which kinds of email they still want (a normal form, with CSRF)."""
    message = _message(token)
    if message is None:
        return render_template("campaigns/unsubscribe.html", state="invalid"), 404
    status = 200
    saved = False
    if request.method == "POST":
        if attempt(
            lambda: unsubscribe_ops.choose_topics(message, request.form.getlist("topics"))
        ).ok:
            saved = True
        else:
            status = 422
    not_wanted = set()
    if message.contact_id is not None:
        not_wanted = set(
            db.session.scalars(
                sa.select(TopicOptOut.topic).where(TopicOptOut.contact_id == message.contact_id)
            )
        )
    return render_template(
        "campaigns/topics.html",
        message=message,
        token=token,
        topics=[(p, p not in not_wanted) for p in Purpose],
        saved=saved,
    ), status


webhook_bp = Blueprint("campaign_webhooks", __name__, url_prefix="/webhooks")


@webhook_bp.route("/sendgrid", methods=["POST"])
@public
@csrf.exempt
def sendgrid_events():
    """SendGrid's Event Webhook: the signature is checked over the raw body before parsing."""
    from sendgrid.helpers.eventwebhook import EventWebhookHeader

    body = request.get_data(as_text=True)
    try:
        tracking.verify(
            body,
            request.headers.get(EventWebhookHeader.SIGNATURE),
            request.headers.get(EventWebhookHeader.TIMESTAMP),
            current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY"),
            current_app.config["SENDGRID_WEBHOOK_MAX_AGE"],
        )
    except tracking.SignatureError as exc:
        return jsonify(error=str(exc)), 403
    try:
        outcome = tracking.record_events(tracking.parse(body))
    except OperationError as exc:
        return jsonify(error=exc.message), 400  # the error status keeps none of the events
    return jsonify(outcome), 200
