"""Reminding invited people who have not answered goes through the campaign path: "Remind
them" drafts a campaign, the lead sends it, the outbox worker delivers it (here through the real
`sendgrid` library to a fake SendGrid on 127.0.0.1), and each message carries the person's own
working link. Recipients are counted when it is queued, with every campaign's consent rules."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from crm.campaigns import worker
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Purpose,
    Suppression,
    SuppressionReason,
)
from crm.campaigns.operations import editing as campaign_ops
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import reminders as reminder_ops
from crm.consultations.operations import responses as response_ops
from crm.contacts.models import ConsentStatus
from crm.core.errors import OperationError


@pytest.fixture
def fake_sendgrid():
    from tests.campaigns.fake_sendgrid import FakeSendGrid

    fake = FakeSendGrid().start()
    yield fake
    fake.stop()


@pytest.fixture
def sendgrid_provider(fake_sendgrid):
    from crm.campaigns.delivery import SendGridBatchProvider

    return SendGridBatchProvider("SG.test-key", fake_sendgrid.url, timeout=5)


@pytest.fixture
def invited(db, make_contact, make_consultation, make_segment):
    """An open consultation by invitation (the segment "advisory") and its people."""
    from crm.tags.operations import tags_from_names

    def person(first, *, consent=ConsentStatus.GRANTED, tagged=True):
        contact = make_contact(first, email=f"{first.lower()}@example.org", consent_status=consent)
        if tagged:
            contact.tags = tags_from_names(["advisory"])
        return contact

    people = {
        "answered": person("Ans"),
        "waiting": person("Wait"),
        "late": person("Late"),  # answers after the draft is made, before it is sent
        "drafted": person("Dora"),  # saved a draft only: not an answer
        "not_asked": person("Quiet", consent=ConsentStatus.UNKNOWN),
        "suppressed": person("Sami"),
        "outsider": person("Otto", tagged=False),  # not invited at all
    }
    db.session.add(Suppression(email="sami@example.org", reason=SuppressionReason.BOUNCE))
    db.session.commit()
    consultation = make_consultation(
        access="invitation", segment=make_segment(["advisory"]), title="2.0 draft"
    )
    answer(consultation, people["answered"])
    answer(consultation, people["drafted"], submit=False)
    db.session.commit()
    return consultation, people


def answer(consultation, contact, *, submit=True):
    response_ops.respond(
        consultation,
        contact,
        [
            response_ops.AnswerFields(
                principle_id=consultation.standard.principles[0].id,
                mark="strength",
                comment="Clear enough",
            )
        ],
        submit=submit,
    )


def campaigns(db):
    return list(db.session.scalars(sa.select(Campaign).order_by(Campaign.id)))


def outbox_rows(db):
    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_remind_them_reaches_exactly_those_invited_who_have_not_answered_and_agreed(
    app, client, login, make_user, db, invited, sendgrid_provider, fake_sendgrid
):
    consultation, people = invited
    lead = login(make_user("lead", name="Lena Lead", email="lena@example.org"))
    page = client.get(f"/consultations/{consultation.id}/not-answered").get_data(as_text=True)
    assert 'data-testid="remind"' in page

    response = client.post(f"/consultations/{consultation.id}/remind")
    assert response.status_code == 302
    (campaign,) = campaigns(db)
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert campaign.status is CampaignStatus.DRAFT and campaign.purpose is Purpose.CONSULTATION
    assert campaign.consultation_id == consultation.id and campaign.segment_id is None
    assert campaign.name == "Reminder: 2.0 draft"
    assert (campaign.sender_name, campaign.sender_email) == ("Lena Lead", "lena@example.org")
    closes = f"{consultation.closes_on:%-d %B %Y}"
    assert "{{ first_name }}" in campaign.body and "{{ consultation_url }}" in campaign.body
    assert closes in campaign.body and "2.0 draft" in campaign.subject
    assert lead.id == campaign.created_by_id

    # The review page: who it would reach now (Wait, Late, Dora), who it leaves out and why.
    review = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="would-send">3<' in review
    assert "those invited to 2.0 draft who have not answered" in review
    # A second click finds the waiting draft instead of making another.
    client.post(f"/consultations/{consultation.id}/remind")
    assert len(campaigns(db)) == 1

    answer(consultation, people["late"])  # answered after the draft was made
    db.session.commit()

    assert client.post(f"/campaigns/{campaign.id}/send").status_code == 302
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENDING
    assert campaign.left_out["counts"] == {"not_asked": 1, "suppressed": 1}
    assert {r.contact_id for r in outbox_rows(db)} == {
        people["waiting"].id,
        people["drafted"].id,
    }

    with app.test_request_context():
        outcome = worker.drain_once(sendgrid_provider)
    assert outcome["sent"] == 2
    sent = {p["to"][0]["email"]: p for p in fake_sendgrid.personalizations}
    assert set(sent) == {"wait@example.org", "dora@example.org"}
    (request,) = fake_sendgrid.requests
    text = request["json"]["content"][0]["value"]
    assert "%%consultation_url%%" in text and "%%first_name%%" in text and closes in text

    # Each message carries that person's own link, and it opens that person's response.
    for key, email in (("waiting", "wait@example.org"), ("drafted", "dora@example.org")):
        contact = people[key]
        link = sent[email]["substitutions"]["%%consultation_url%%"]
        assert f"/c/{consultation.id}/r/" in link
        assert sent[email]["substitutions"]["%%first_name%%"] == contact.first_name
        html_link = sent[email]["substitutions"]["%%consultation_url!h%%"]
        assert html_link.startswith('<a href="http')
        client.get("/logout")
        form = client.get(urlsplit(link).path)
        assert form.status_code == 200
        body = form.get_data(as_text=True)
        assert f"Answering as {contact.full_name} ({email})" in body
        with app.test_request_context():
            token = link.rsplit("/", 1)[1]
            assert link_ops.read_personal_token(consultation, token).id == contact.id
    dora = client.get(urlsplit(sent["dora@example.org"]["substitutions"]["%%consultation_url%%"])
                      .path).get_data(as_text=True)  # fmt: skip
    assert "Clear enough" in dora  # her own saved draft, not a blank form
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT

    # The consultation shows the reminder, and who was reminded when.
    login(lead)
    detail = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    assert 'data-testid="reminders"' in detail and "Reminder: 2.0 draft" in detail
    assert f"/campaigns/{campaign.id}" in detail
    listing = client.get(f"/consultations/{consultation.id}/not-answered").get_data(as_text=True)
    assert "(sent)" in listing and "Not asked: not emailed" in listing


def test_someone_who_answers_after_queueing_is_not_reminded(
    app, ctx, db, make_user, invited, sendgrid_provider, fake_sendgrid
):
    consultation, people = invited
    campaign, created = reminder_ops.draft_reminder(
        make_user("lead"), consultation, sender_name="Lena", sender_email="lena@example.org"
    )
    assert created
    result = send_ops.queue_campaign(None, campaign)
    assert result.queued == 3  # Wait, Late, Dora
    answer(consultation, people["late"])
    db.session.commit()
    assert worker.drain_once(sendgrid_provider)["sent"] == 2
    late = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.contact_id == people["late"].id)
    )
    assert late.status is MessageStatus.CANCELLED and "answered" in late.error
    assert "late@example.org" not in {p["to"][0]["email"] for p in fake_sendgrid.personalizations}


def test_a_body_with_logic_renders_each_persons_link_too(
    app, ctx, client, db, make_user, invited, file_provider, outbox
):
    from tests.conftest import first_link

    consultation, people = invited
    campaign, _ = reminder_ops.draft_reminder(
        make_user("lead"), consultation, sender_name="Lena", sender_email="lena@example.org"
    )
    campaign.body = (
        "Hi {{ first_name }}{% if organization %} of {{ organization }}{% endif %},\n"
        "your link: {{ consultation_url }}\n"
    )
    db.session.commit()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    assert worker.drain_once(file_provider)["sent"] == 3
    for mail in outbox():
        link = first_link(mail, f"/c/{consultation.id}/r/")
        page = client.get(urlsplit(link).path).get_data(as_text=True)
        assert f"({mail['To']}). This link is personal" in page
        html = mail.get_body(("html",)).get_content()
        assert f'<a href="{link}">' in html


def test_consultation_url_needs_a_consultation(ctx, db, make_consultation, make_segment, invited):
    base = dict(
        name="Nudge", purpose="awareness", segment_id=None, sender_name="WEST",
        sender_email="advocacy@example.org", subject="Hello {{ first_name }}",
        body="Answer here: {{ consultation_url }}",
    )  # fmt: skip
    with pytest.raises(OperationError, match="choose the consultation") as exc:
        campaign_ops.create_campaign(None, campaign_ops.CampaignFields(**base))
    assert exc.value.field == "consultation_id"
    db.session.rollback()
    with pytest.raises(OperationError, match="choose the consultation"):
        campaign_ops.create_campaign(
            None,
            campaign_ops.CampaignFields(
                **{**base, "body": "Hi", "subject": "Go: {{ consultation_url }}"}
            ),
        )
    db.session.rollback()
    # An invitation consultation goes to its own invitees, never to a segment.
    invitation, _people = invited
    other = make_segment(["advisory"], name="Other")
    with pytest.raises(OperationError, match="leave the segment empty"):
        campaign_ops.create_campaign(
            None,
            campaign_ops.CampaignFields(
                **{**base, "segment_id": other.id, "consultation_id": invitation.id}
            ),
        )
    db.session.rollback()
    # A public consultation has no invitees: a campaign about it needs a segment to be sent.
    public = make_consultation(access="public", title="Public one")
    campaign = campaign_ops.create_campaign(
        None, campaign_ops.CampaignFields(**{**base, "consultation_id": public.id})
    )
    db.session.commit()
    with pytest.raises(OperationError, match="public consultation"):
        send_ops.queue_campaign(None, campaign)


def test_consultation_url_refused_on_the_campaign_form(client, as_role, db):
    as_role("lead")
    response = client.post(
        "/campaigns/new",
        data={"name": "Nudge", "purpose": "awareness", "segment_id": "", "event_id": "",
              "consultation_id": "", "sender_name": "WEST",
              "sender_email": "advocacy@example.org", "subject": "Hello",
              "body": "Answer here: {{ consultation_url }}"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "choose the consultation" in response.get_data(as_text=True)
    assert campaigns(db) == []


def test_a_closed_consultation_gets_no_reminder(client, as_role, db, invited):
    consultation, _people = invited
    as_role("lead")
    client.post(f"/consultations/{consultation.id}/remind")
    (campaign,) = campaigns(db)
    consultation.opens_on = date.today() - timedelta(days=30)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()
    refused = client.post(f"/campaigns/{campaign.id}/send", follow_redirects=True)
    assert "no longer take answers" in refused.get_data(as_text=True)
    assert outbox_rows(db) == []
    db.session.delete(campaign)
    db.session.commit()
    page = client.post(f"/consultations/{consultation.id}/remind", follow_redirects=True)
    assert "No reminder drafted" in page.get_data(as_text=True) and campaigns(db) == []


def test_preview_and_test_sends_show_a_sample_link_not_a_real_one(client, as_role, db, invited):
    consultation, people = invited
    as_role("lead")
    client.post(f"/consultations/{consultation.id}/remind")
    (campaign,) = campaigns(db)
    page = client.get(
        f"/campaigns/{campaign.id}/preview?contact_id={people['waiting'].id}"
    ).get_data(as_text=True)
    assert "Dear Wait" in page and "each-persons-own-link" in page
    tokens = re.findall(rf"/c/{consultation.id}/r/([\w.\-]+)", page)
    assert tokens and set(tokens) == {"each-persons-own-link"}


def test_only_roles_that_manage_consultations_and_edit_campaigns_draft_reminders(
    client, as_role, db, invited, monkeypatch
):
    from crm.auth.models import Role
    from crm.core.access import ROLE_PERMISSIONS, Permission

    consultation, _people = invited
    url = f"/consultations/{consultation.id}/remind"
    anonymous = client.post(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for role in ("volunteer", "viewer", "champion", "org_rep"):
        as_role(role)
        assert client.post(url).status_code == 403, role
    # A role that manages consultations but may not edit campaigns is refused too.
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.LEAD, ROLE_PERMISSIONS[Role.LEAD] - {Permission.CAMPAIGNS_EDIT}
    )
    as_role("lead")
    assert client.post(url).status_code == 403
    page = client.get(f"/consultations/{consultation.id}/not-answered").get_data(as_text=True)
    assert 'data-testid="remind"' not in page
    monkeypatch.undo()
    assert campaigns(db) == []
    as_role("admin")
    assert client.post(url).status_code == 302
    assert len(campaigns(db)) == 1


def test_remind_needs_the_csrf_token(app, client, as_role, db, invited):
    consultation, _people = invited
    as_role("lead")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        forged = client.post(f"/consultations/{consultation.id}/remind")
        assert forged.status_code == 400 and campaigns(db) == []
        page = client.get(f"/consultations/{consultation.id}/not-answered").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        ok = client.post(f"/consultations/{consultation.id}/remind", data={"csrf_token": token})
        assert ok.status_code == 302 and len(campaigns(db)) == 1
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def file_provider(app):
    from crm.campaigns.delivery import FileBatchProvider

    return FileBatchProvider(app.config["MAIL_FILE_DIR"], app.config["MAIL_DEFAULT_SENDER"])


def test_a_scheduled_reminder_goes_out_before_the_close_or_not_at_all(
    ctx, db, make_user, invited, file_provider
):
    from datetime import UTC, datetime

    consultation, _people = invited
    lead = make_user("lead")
    campaign, _ = reminder_ops.draft_reminder(
        lead, consultation, sender_name="Lena", sender_email="lena@example.org"
    )
    db.session.commit()
    after_close = datetime.combine(consultation.closes_on + timedelta(days=1), datetime.min.time(),
                                   tzinfo=UTC)  # fmt: skip
    with pytest.raises(OperationError, match="choose a time before then"):
        schedule_ops.schedule_campaign(lead, campaign, after_close)
    db.session.rollback()
    soon = datetime.now(UTC) + timedelta(hours=1)
    schedule_ops.schedule_campaign(lead, campaign, soon)
    db.session.commit()
    # The consultation closes early; when the time comes, the worker does not send it.
    consultation.closes_on = date.today() - timedelta(days=1)
    consultation.opens_on = date.today() - timedelta(days=20)
    db.session.commit()
    outcome = worker.drain_once(file_provider, now=soon + timedelta(minutes=1))
    assert outcome["claimed"] == 0
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.CANCELLED and outbox_rows(db) == []
