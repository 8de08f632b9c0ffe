"""Several requests in flight per sending job: against the fake SendGrid answering slowly, one
job posts batches at once, each person's merge fields stay theirs, and a refused request goes
back to the queue alone while the others are recorded sent."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from crm.campaigns import in_flight
from crm.campaigns.models import CampaignStatus, MessageStatus, OutboxMessage
from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import Contact
from crm.core.db import utcnow


@pytest.fixture
def through_fake(app, monkeypatch, fake_sendgrid):
    """The app's sending jobs post to the fake SendGrid, `size` messages a request, up to
    `requests` at once."""

    def configure(*, size: int, requests: int) -> None:
        monkeypatch.setitem(app.config, "MAIL_PROVIDER", "sendgrid")
        monkeypatch.setitem(app.config, "SENDGRID_API_KEY", "SG.test-key")
        monkeypatch.setitem(app.config, "SENDGRID_API_HOST", fake_sendgrid.url)
        monkeypatch.setitem(app.config, "CAMPAIGN_BATCH_SIZE", size)
        monkeypatch.setitem(app.config, "CAMPAIGN_SEND_LANES", 1)  # one job: its own requests
        monkeypatch.setitem(app.config, "CAMPAIGN_REQUESTS_IN_FLIGHT", requests)

    return configure


def statuses(db) -> Counter:
    return Counter(db.session.scalars(sa.select(OutboxMessage.status)))


@pytest.mark.parametrize("requests", [1, 3])
def test_one_sending_job_keeps_the_requests_configured_in_flight(
    app, db, ctx, person, make_campaign, fake_sendgrid, through_fake, requests
):
    from crm.core.jobs.worker import Worker

    for name in ("Amina", "Bola", "Chen", "Dina", "Emre", "Femi"):
        person(name)
    through_fake(size=1, requests=requests)
    fake_sendgrid.gather = requests  # the first answers wait until the job has them all out
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    Worker(app, name="test:1").drain()
    assert fake_sendgrid.most_in_flight == requests
    received = Counter(p["custom_args"]["crm_message"] for p in fake_sendgrid.personalizations)
    keys = set(db.session.scalars(sa.select(OutboxMessage.message_key)))
    assert set(received) == keys and set(received.values()) == {1}  # each once
    assert statuses(db) == {MessageStatus.SENT: 6}
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT


def test_each_person_gets_their_own_merge_fields_across_requests_in_flight(
    db, ctx, person, make_org, make_campaign, sendgrid_provider, fake_sendgrid
):
    orgs = [make_org(f"Org {i}") for i in range(3)]
    people = [person(f"P{i:02d}", organization_id=orgs[i % 3].id) for i in range(23)]
    campaign = make_campaign(
        subject="News for {{ first_name }}",
        body="Dear {{ first_name }} of {{ organization }},\n\nThe principles are growing.\n",
    )
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.gather = 4
    outcome = in_flight.send(
        sendgrid_provider,
        campaign_id=campaign.id,
        job_id=None,
        batch_size=5,
        in_flight=4,
        go_on=lambda so_far: True,
    )
    assert outcome["sent"] == 23 and outcome["exhausted"]
    assert fake_sendgrid.most_in_flight == 4
    assert sorted(len(r["json"]["personalizations"]) for r in fake_sendgrid.requests) == [
        3, 5, 5, 5, 5,
    ]  # fmt: skip
    keys = dict(
        db.session.execute(sa.select(OutboxMessage.email, OutboxMessage.message_key)).tuples().all()
    )
    by_email = {p.email: p for p in people}
    for request in fake_sendgrid.requests:
        assert "%%first_name%%" in request["json"]["content"][0]["value"]
        for p in request["json"]["personalizations"]:
            (to,) = p["to"]
            contact: Contact = by_email[to["email"]]
            assert p["subject"] == f"News for {contact.first_name}"
            assert p["substitutions"]["%%first_name%%"] == contact.first_name
            assert p["substitutions"]["%%organization%%"] == contact.organization.name
            assert p["custom_args"]["crm_message"] == keys[to["email"]]
    assert len(fake_sendgrid.personalizations) == 23


def test_a_refused_request_goes_back_alone_and_is_sent_once_later(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid
):
    for i in range(6):
        person(f"P{i}")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.answer(500)  # the first request to arrive
    fake_sendgrid.gather = 3  # answered once all three are out

    def send() -> dict:
        return in_flight.send(
            sendgrid_provider,
            campaign_id=campaign.id,
            job_id=None,
            batch_size=2,
            in_flight=3,
            go_on=lambda so_far: True,
        )

    outcome = send()
    assert fake_sendgrid.most_in_flight == 3
    # The provider's error stops new requests; the two already in flight are recorded sent.
    assert (outcome["sent"], outcome["retry"]) == (4, 2)
    assert statuses(db) == {MessageStatus.SENT: 4, MessageStatus.QUEUED: 2}
    refused = {p["custom_args"]["crm_message"] for p in fake_sendgrid.requests[0]["json"]["personalizations"]}  # fmt: skip
    waiting = list(
        db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "queued"))
    )
    assert {m.message_key for m in waiting} == refused
    assert all("500" in m.error and m.attempts == 1 for m in waiting)

    # Its back-off over, only the refused request's messages go again.
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert send()["sent"] == 2
    assert statuses(db) == {MessageStatus.SENT: 6}
    received = Counter(p["custom_args"]["crm_message"] for p in fake_sendgrid.personalizations)
    assert {key for key, n in received.items() if n == 2} == refused
    assert set(received.values()) == {1, 2} and len(received) == 6
