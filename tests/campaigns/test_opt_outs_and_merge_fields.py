"""Nobody is mailed after they opt out, a cancelled campaign stays
cancelled, templates stay within the merge fields, one address is one person."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.campaigns import rendering, worker
from crm.campaigns.models import (
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Suppression,
    SuppressionReason,
)
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.campaigns.operations import unsubscribing as unsubscribe_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core.errors import OperationError


def rows(db):
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_someone_who_unsubscribes_after_queueing_is_not_mailed(
    db, ctx, person, make_campaign, file_provider
):
    amina, boris = person("Amina"), person("Boris")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    amina.consent_status = ConsentStatus.WITHDRAWN  # unsubscribed through an earlier campaign
    db.session.add(
        Suppression(email=boris.email.upper(), reason=SuppressionReason.BOUNCE, source="test")
    )
    db.session.commit()
    outcome = worker.drain_once(file_provider)
    assert outcome["sent"] == 0
    assert {r.status for r in rows(db)} == {MessageStatus.CANCELLED}
    assert all("since queued" in r.error for r in rows(db))


def test_a_cancelled_campaign_is_not_sent_on_retry(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid
):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.answer(500, message="down")
    assert worker.drain_once(sendgrid_provider)["retry"] == 1
    schedule_ops.cancel_campaign(None, campaign)  # while the message waits to be retried
    db.session.commit()
    fake_sendgrid.answer(202)
    requests_before = len(fake_sendgrid.requests)
    later = rows(db)[0].next_attempt_at  # when the retry would have gone
    outcome = worker.drain_once(sendgrid_provider, now=later)
    assert outcome["sent"] == 0 and len(fake_sendgrid.requests) == requests_before
    assert rows(db)[0].status is MessageStatus.CANCELLED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "{% if organization == '' %}Dear {{ frist_name }}{% endif %}",
            "no merge field “frist_name”",
        ),
        ("{% for i in range(100000) %}x{% endfor %}", "no merge field “range”"),
        ("{% for letter in first_name %}x{% endfor %}", "merge fields only"),
        ("{{ 'x' * 100000000 }}", "merge fields only"),
        ("{% include 'base.html' %}", "merge fields only"),
        ("{{ first_name[0] }}", "merge fields only"),
        ("{{ lipsum() }}", "no merge field “lipsum”"),
        ("{{ first_name | wordwrap(3) }}", "the filter “wordwrap” is not available"),
    ],
)
def test_templates_stay_within_the_merge_fields(body, message):
    with pytest.raises(OperationError, match=message):
        rendering.check(body, "body", "Message")


def test_conditions_on_fields_are_fine():
    rendering.check(
        "{% if organization %}At {{ organization | upper }}{% else %}Hello{% endif %} "
        "{{ first_name | default('friend') }}",
        "body",
        "Message",
    )


def test_unsubscribing_withdraws_every_record_of_the_address(
    db, ctx, person, make_contact, make_campaign, file_provider
):
    amina = person("Amina", email="amina@example.org")
    twin = make_contact("Amina", "Duplicate", consent_status=ConsentStatus.GRANTED)
    twin.email = None
    db.session.commit()
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    # A second record with the same address in another case (an old import, say).
    db.session.execute(
        sa.update(Contact).where(Contact.id == twin.id).values(email="AMINA@example.org")
    )
    db.session.commit()
    message = rows(db)[0]
    assert unsubscribe_ops.unsubscribe(message, "test link") is True
    db.session.commit()
    db.session.refresh(amina)
    db.session.refresh(twin)
    assert amina.consent_status is ConsentStatus.WITHDRAWN
    assert twin.consent_status is ConsentStatus.WITHDRAWN


def test_a_campaign_cannot_be_queued_twice(db, ctx, person, make_campaign):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    with pytest.raises(OperationError):
        send_ops.queue_campaign(None, campaign)
    assert len(rows(db)) == 1
    assert campaign.status is CampaignStatus.SENDING


def test_webhook_blocked_bounces_do_not_suppress_and_keyless_unsubscribes_count(db, ctx, person):
    from crm.campaigns import tracking

    amina = person("Amina", email="amina@example.org")
    outcome = tracking.record_events(
        [
            {"email": "boris@example.org", "event": "bounce", "type": "blocked",
             "sg_event_id": "e1", "timestamp": 1764000000},
            {"email": "AMINA@example.org", "event": "unsubscribe", "sg_event_id": "e2",
             "timestamp": 1764000001},
        ]
    )  # fmt: skip
    db.session.commit()
    assert outcome["recorded"] == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.WITHDRAWN
    # The same events again (SendGrid retries): recorded once.
    again = tracking.record_events(
        [{"email": "boris@example.org", "event": "bounce", "type": "bounce",
          "sg_event_id": "e1", "timestamp": 1764000000}]
    )  # fmt: skip
    assert again["duplicate"] == 1


def test_campaign_mail_is_exported_and_erased(db, ctx, person, make_campaign, file_provider):
    from crm.contacts.operations import erase_contact, export_personal_data

    amina = person("Amina", email="amina@example.org")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    worker.drain_once(file_provider)
    data = export_personal_data(None, amina)
    assert data["campaign_emails"][0]["to"] == "amina@example.org"
    assert data["campaign_emails"][0]["status"] == "sent"
    erase_contact(None, amina)
    db.session.commit()
    (message,) = rows(db)
    assert "amina" not in message.email and message.status is MessageStatus.SENT
