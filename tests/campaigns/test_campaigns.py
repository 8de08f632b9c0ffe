"""Composing campaigns: sandboxed merge fields checked at save, the lifecycle, read-only once
sent, preview as a recipient and a test to yourself."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.campaigns.models import Campaign, CampaignStatus
from crm.campaigns.operations import editing as campaign_ops
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.core.db import utcnow
from crm.core.errors import OperationError


def fields(segment, **kw) -> campaign_ops.CampaignFields:
    data = dict(
        name="Pledge drive",
        purpose="pledge_drive",
        segment_id=segment.id,
        sender_name="WEST Advocacy",
        sender_email="advocacy@example.org",
        subject="Hello {{ first_name }}",
        body="Dear {{ first_name }},\n\nSign here: {{ pledge_url }}\n",
    )
    data.update(kw)
    return campaign_ops.CampaignFields(**data)


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"body": "Dear {{ frist_name }}"}, "body", "no merge field “frist_name”"),
        ({"subject": "Hi {{ nickname }}"}, "subject", "no merge field “nickname”"),
        ({"body": "{{ first_name.__class__.__mro__ }}"}, "body", "merge fields only"),
        ({"body": "{{ ''.__class__.__subclasses__() }}"}, "body", "merge fields only"),
        ({"body": "{% if first_name %}unclosed"}, "body", "Message"),
        ({"body": "{{ first_name | nosuchfilter }}"}, "body", "Message"),
        ({"body": "Come: {{ event_url }}"}, "event_id", "choose the event"),
        ({"subject": "Two\nlines"}, "subject", "one line"),
        ({"subject": ""}, "subject", "required"),
        ({"body": "   "}, "body", "Write the message"),
        ({"sender_email": "not an address"}, "sender_email", "Sender address"),
        ({"reply_to": "nope@"}, "reply_to", "Reply-to"),
        ({"purpose": "spam"}, "purpose", "purpose"),
        ({"segment_id": 987654}, "segment_id", "segment"),
        ({"event_id": 987654}, "event_id", "event"),
        ({"name": ""}, "name", "Name"),
    ],
)
def test_bad_campaigns_are_refused_at_save(db, make_segment, change, field, words):
    segment = make_segment()
    with pytest.raises(OperationError) as exc:
        campaign_ops.create_campaign(None, fields(segment, **change))
    assert exc.value.field == field
    assert words in exc.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_the_form_shows_an_unknown_field_next_to_the_message(client, as_role, make_segment, db):
    segment = make_segment()
    as_role("lead")
    data = {
        "name": "News",
        "purpose": "newsletter",
        "segment_id": str(segment.id),
        "event_id": "",
        "sender_name": "WEST",
        "sender_email": "advocacy@example.org",
        "subject": "News",
        "body": "Hi {{ firstname }}",
    }
    page = client.post("/campaigns/new", data=data)
    assert page.status_code == 422
    assert "no merge field “firstname”" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
    data["body"] = "Hi {{ first_name }}{% if organization %} of {{ organization }}{% endif %}"
    saved = client.post("/campaigns/new", data=data)
    assert saved.status_code == 302
    assert client.get(saved.headers["Location"]).status_code == 200


def test_lifecycle_schedule_unschedule_cancel(db, make_campaign, person):
    person("Amina")
    campaign = make_campaign()
    with pytest.raises(OperationError) as exc:
        schedule_ops.schedule_campaign(None, campaign, utcnow() - timedelta(minutes=1))
    assert exc.value.field == "scheduled_at"
    assert campaign.status is CampaignStatus.DRAFT
    schedule_ops.schedule_campaign(None, campaign, utcnow() + timedelta(hours=2))
    assert campaign.status is CampaignStatus.SCHEDULED
    with pytest.raises(OperationError):  # scheduled: not editable until back to draft
        campaign_ops.update_campaign(None, campaign, fields(campaign.segment))
    schedule_ops.unschedule_campaign(None, campaign)
    assert campaign.status is CampaignStatus.DRAFT and campaign.scheduled_at is None
    schedule_ops.schedule_campaign(None, campaign, utcnow() + timedelta(hours=2))
    schedule_ops.cancel_campaign(None, campaign)
    assert campaign.status is CampaignStatus.CANCELLED
    with pytest.raises(OperationError):
        send_ops.queue_campaign(None, campaign)
    with pytest.raises(OperationError):
        schedule_ops.cancel_campaign(None, campaign)


def test_a_draft_without_a_segment_cannot_be_sent(db, make_campaign):
    campaign = make_campaign()
    campaign.segment_id = None
    db.session.commit()
    db.session.refresh(campaign)
    with pytest.raises(OperationError) as exc:
        send_ops.queue_campaign(None, campaign)
    assert exc.value.field == "segment_id"


def test_a_sent_campaign_is_read_only(client, as_role, make_campaign, person, db, ctx):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    with pytest.raises(OperationError):
        campaign_ops.update_campaign(None, campaign, fields(campaign.segment, name="Changed"))
    db.session.rollback()
    as_role("lead")
    page = client.get(f"/campaigns/{campaign.id}/edit")
    assert page.status_code == 302
    response = client.post(f"/campaigns/{campaign.id}/edit", data={"name": "Changed"})
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.name == "Spring newsletter"
    detail = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f"/campaigns/{campaign.id}/edit" not in detail


def test_preview_as_any_recipient_and_a_test_to_myself(
    client, as_role, make_campaign, person, make_org, db, outbox
):
    org = make_org("Sunrise Knitwear")
    amina = person("Amina", organization_id=org.id)
    boris = person("Boris")
    campaign = make_campaign(
        body="Dear {{ first_name }}{% if organization %} at {{ organization }}{% endif %},\n"
        "Sign: {{ pledge_url }}\n<b>bold?</b>\n"
    )
    lead = as_role("lead")
    page = client.get(f"/campaigns/{campaign.id}/preview?contact_id={boris.id}")
    text = page.get_data(as_text=True)
    body = text.split('data-testid="preview-body"')[1].split("</div>")[0]
    assert "Dear Boris," in body and "Sunrise" not in body
    assert "&lt;b&gt;bold?&lt;/b&gt;" in text  # the body is text; markup is shown, not run
    text = client.get(f"/campaigns/{campaign.id}/preview?contact_id={amina.id}").get_data(
        as_text=True
    )
    assert "Dear Amina at Sunrise Knitwear," in text
    response = client.post(f"/campaigns/{campaign.id}/test", data={"contact_id": amina.id})
    assert response.status_code == 302
    (mail,) = outbox()
    assert mail["To"] == lead.email
    assert mail["Subject"] == "[Test] News for Amina"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Dear Amina at Sunrise Knitwear" in mail.get_body(("plain",)).get_content()


def test_volunteers_view_but_cannot_send(client, as_role, make_campaign, person):
    person("Amina")
    campaign = make_campaign()
    as_role("volunteer")
    assert client.get(f"/campaigns/{campaign.id}").status_code == 200
    assert client.get(f"/campaigns/{campaign.id}/preview").status_code == 200
    assert client.post(f"/campaigns/{campaign.id}/send").status_code == 403
    assert client.post(f"/campaigns/{campaign.id}/test").status_code == 403
