"""SendGrid's Event Webhook: verify, record each event once, and act on bounces, spam reports
and unsubscribes. Events come in batches, in any order, and sometimes more than once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.campaigns.models import (
    DeliveryEvent,
    EventKind,
    OutboxMessage,
    Suppression,
    SuppressionReason,
)
from crm.campaigns.operations import unsubscribing as unsubscribe_ops
from crm.core import safe_json
from crm.core.errors import OperationError
from crm.extensions import db

SUPPRESSING = {
    EventKind.BOUNCE: SuppressionReason.BOUNCE,
    EventKind.SPAM_REPORT: SuppressionReason.SPAM_REPORT,
}
UNSUBSCRIBING = {EventKind.UNSUBSCRIBE, EventKind.GROUP_UNSUBSCRIBE}


class SignatureError(Exception):
    pass


def verify(
    body: str, signature: str | None, timestamp: str | None, public_key: str | None, max_age: int
) -> None:
    """Raise SignatureError unless `body` was signed by SendGrid's key within `max_age` seconds."""
    from sendgrid.helpers.eventwebhook import EventWebhook

    if not public_key:
        raise SignatureError("The webhook's public key is not configured.")
    if not signature or not timestamp:
        raise SignatureError("The request is not signed.")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("The timestamp is not a number.") from None
    if abs(time.time() - sent) > max_age:
        raise SignatureError("The signature is too old (or from the future).")
    try:
        webhook = EventWebhook(public_key)
        valid = webhook.verify_signature(body, signature, timestamp)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"The signature could not be read: {exc}") from None
    if not valid:
        raise SignatureError("The signature does not match.")


def parse(body: str) -> list[dict]:
    try:
        events = safe_json.loads(body)
    except safe_json.JSONRefused as exc:
        raise OperationError(str(exc)) from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise OperationError("The body is not a list of events.")
    return events


def record_events(events: list[dict]) -> dict[str, int]:
    """Store new events (those seen before are skipped) and apply what they mean."""
    ids = [str(e.get("sg_event_id") or "")[:100] for e in events]
    known: set[str] = set()
    wanted = [i for i in ids if i]
    for start in range(0, len(wanted), 1000):
        known.update(
            db.session.scalars(
                sa.select(DeliveryEvent.sg_event_id).where(
                    DeliveryEvent.sg_event_id.in_(wanted[start : start + 1000])
                )
            )
        )
    keys = {str(e.get("crm_message")) for e in events if e.get("crm_message")}
    messages: dict[str, OutboxMessage] = {}
    key_list = list(keys)
    for start in range(0, len(key_list), 1000):
        for m in db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.message_key.in_(key_list[start : start + 1000])
            )
        ):
            messages[m.message_key] = m
    outcome = {"recorded": 0, "duplicate": 0, "ignored": 0}
    rows = []
    for event, sg_id in zip(events, ids, strict=True):
        try:
            kind = EventKind(event.get("event", ""))  # no kind: ValueError, ignored
        except ValueError:
            outcome["ignored"] += 1
            continue
        if not sg_id or not event.get("email"):
            outcome["ignored"] += 1
            continue
        if sg_id in known:
            outcome["duplicate"] += 1
            continue
        known.add(sg_id)
        message = messages.get(str(event.get("crm_message") or ""))
        try:
            at = datetime.fromtimestamp(int(event.get("timestamp", "")), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            at = datetime.now(UTC)
        email = str(event["email"]).strip().lower()[:254]
        rows.append(
            {
                "sg_event_id": sg_id,
                "message_id": message.id if message else None,
                "campaign_id": message.campaign_id if message else None,
                "email": email,
                "kind": kind,
                "at": at,
                "url": str(event["url"])[:1000]
                if kind is EventKind.CLICK and event.get("url")
                else None,
                "reason": str(event.get("reason") or event.get("type") or "")[:500] or None,
            }
        )
        # A "blocked" bounce is temporary (the receiving server refused for now): no suppression.
        permanent = kind is not EventKind.BOUNCE or event.get("type", "bounce") == "bounce"
        if kind in SUPPRESSING and permanent:
            _suppress(email, SUPPRESSING[kind], f"SendGrid {kind.value}")
        elif kind in UNSUBSCRIBING:
            if message is not None:
                unsubscribe_ops.unsubscribe(message, "SendGrid unsubscribe")
            else:  # from a message sent outside the CRM's campaigns: the address still counts
                unsubscribe_ops.withdraw_address(email, "SendGrid unsubscribe")
        outcome["recorded"] += 1
    if rows:
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(DeliveryEvent), rows)
        except IntegrityError:
            # Another delivery of the same events got in first: keep what is new, one by one.
            for row in rows:
                try:
                    with db.session.begin_nested():
                        db.session.execute(sa.insert(DeliveryEvent), [row])
                except IntegrityError:
                    outcome["recorded"] -= 1
                    outcome["duplicate"] += 1
    db.session.flush()
    return outcome


def _suppress(email: str, reason: SuppressionReason, source: str) -> None:
    if db.session.scalar(sa.select(Suppression.id).where(Suppression.email == email)) is None:
        try:
            with db.session.begin_nested():
                db.session.add(Suppression(email=email, reason=reason, source=source))
        except IntegrityError:
            pass  # a concurrent batch suppressed it first
