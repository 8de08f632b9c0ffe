"""SendGrid's Event Webhook: signature checked over the raw body with a key pair made here,
stale or tampered requests refused, each event once, in any order; bounces and spam reports
suppress, unsubscribes withdraw consent; the campaign page shows the figures."""

from __future__ import annotations

import base64
import json
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from crm.campaigns import queries, worker
from crm.campaigns.models import DeliveryEvent, OutboxMessage, Suppression
from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import ConsentStatus, Contact

URL = "/webhooks/sendgrid"
SIG = "X-Twilio-Email-Event-Webhook-Signature"
TS = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture
def key(app):
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.b64encode(public).decode()
    yield private
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = None


def signed(private, body: str, timestamp: int | None = None) -> dict:
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = private.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {SIG: base64.b64encode(signature).decode(), TS: timestamp}


def post(client, private, events, **kw):
    body = json.dumps(events)
    return client.post(
        URL, data=body, headers=signed(private, body, **kw), content_type="application/json"
    )


@pytest.fixture
def sent(db, app, person, make_campaign, file_provider):
    """A campaign sent to Amina and Boris; returns (campaign id, {first name: message})."""
    with app.test_request_context():
        person("Amina")
        person("Boris")
        campaign = make_campaign()
        send_ops.queue_campaign(None, campaign)
        db.session.commit()
        worker.drain_once(file_provider)
        campaign_id = campaign.id
    rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return campaign_id, {m.contact.first_name: m for m in rows}


def event(message, kind: str, n: int, **extra) -> dict:
    return {
        "email": message.email,
        "event": kind,
        "timestamp": int(time.time()) - 60 + n,
        "sg_event_id": f"evt-{kind}-{message.id}-{n}",
        "sg_message_id": "abc.filter",
        "crm_message": message.message_key,
        "crm_campaign": str(message.campaign_id),
        **extra,
    }


def test_events_are_recorded_once_and_acted_on(client, db, key, sent, as_role):
    campaign_id, m = sent
    amina, boris = m["Amina"], m["Boris"]
    batch = [
        event(amina, "click", 3, url="https://example.org/pledge/"),  # before its delivery
        event(amina, "delivered", 1),
        event(amina, "open", 2),
        event(amina, "click", 4, url="https://example.org/pledge/"),
        event(boris, "bounce", 1, reason="550 no such user", type="bounce"),
        event(amina, "unsubscribe", 5),
        {"event": "delivered", "email": "x@example.org"},  # no sg_event_id: ignored
        {"event": "party", "email": "x@example.org", "sg_event_id": "p1"},
    ]
    response = post(client, key, batch)
    assert response.status_code == 200
    assert response.get_json() == {"recorded": 6, "duplicate": 0, "ignored": 2}
    again = post(client, key, batch[:3])
    assert again.get_json() == {"recorded": 0, "duplicate": 3, "ignored": 0}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeliveryEvent)) == 6

    suppression = db.session.scalar(sa.select(Suppression))
    assert suppression.email == boris.email and suppression.reason.value == "bounce"
    contact = db.session.get(Contact, amina.contact_id)
    assert contact.consent_status is ConsentStatus.WITHDRAWN
    assert contact.consent_source == "SendGrid unsubscribe"

    from crm.campaigns.models import Campaign

    campaign = db.session.get(Campaign, campaign_id)
    figures = queries.stats(campaign)
    assert figures["sent"] == 2 and figures["delivered"] == 1 and figures["opened"] == 1
    assert figures["clicked"] == 1 and figures["bounced"] == 1 and figures["unsubscribed"] == 1
    assert queries.link_clicks(campaign) == [("https://example.org/pledge/", 2, 1)]

    as_role("volunteer")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-testid="stat-clicked">1<' in page
    assert "https://example.org/pledge/" in page
    assert "Opens and clicks by hour" in page


def test_suppressed_and_unsubscribed_are_left_out_next_time(
    client, db, key, sent, make_campaign, app
):
    _campaign_id, m = sent
    post(client, key, [event(m["Boris"], "spamreport", 1), event(m["Amina"], "unsubscribe", 2)])
    from crm.campaigns.models import Segment

    segment = db.session.scalar(sa.select(Segment))
    segment.criteria = {**segment.criteria, "consent_only": False}
    db.session.commit()
    second = make_campaign(segment, name="Second")
    with app.test_request_context():
        assert send_ops.left_out_preview(second) == {
            "included": 0,
            "withdrawn": 1,
            "suppressed": 1,
        }


def test_bad_signatures_are_refused_and_nothing_is_stored(client, db, key, sent):
    _campaign_id, m = sent
    body = json.dumps([event(m["Boris"], "bounce", 1)])
    headers = signed(key, body)
    cases = [
        (body.replace("bounce", "delivered"), headers),  # tampered
        (body, {**headers, SIG: base64.b64encode(b"nonsense").decode()}),
        (body, {TS: headers[TS]}),  # unsigned
        (body, signed(key, body, timestamp=int(time.time()) - 3600)),  # stale
        (body, {**headers, TS: "yesterday"}),
        (body, signed(ec.generate_private_key(ec.SECP256R1()), body)),  # someone else's key
    ]
    for data, h in cases:
        response = client.post(URL, data=data, headers=h, content_type="application/json")
        assert response.status_code == 403, h
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DeliveryEvent)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0


def test_no_key_configured_refuses_everything(client, app, db):
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = None
    response = client.post(URL, data="[]", headers={SIG: "x", TS: str(int(time.time()))})
    assert response.status_code == 403


@pytest.mark.parametrize("body", ["not json", '{"event": "open"}', "[1, 2]"])
def test_a_signed_body_that_is_not_a_list_of_events_is_a_400(client, key, body):
    response = client.post(URL, data=body, headers=signed(key, body))
    assert response.status_code == 400


def test_the_webhook_needs_no_csrf_token(client, app, key, sent):
    _campaign_id, m = sent
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = post(client, key, [event(m["Amina"], "delivered", 1)])
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200
