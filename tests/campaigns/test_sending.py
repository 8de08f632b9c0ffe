"""Queueing a send (who gets it, who is left out and why) and the worker draining the outbox
through the real `sendgrid` library against a fake SendGrid on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.campaigns import delivery, worker
from crm.campaigns.models import (
    Campaign,
    CampaignStatus,
    MessageStatus,
    OutboxMessage,
    Suppression,
    SuppressionReason,
)
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import ConsentStatus
from crm.core.db import utcnow
from crm.core.errors import OperationError


def messages(db, **where):
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(OutboxMessage, key) == value)
    return list(db.session.scalars(stmt))


@pytest.fixture
def crowd(db, person, make_contact):
    """One of each: fine, no consent, withdrew, suppressed, no address, invalid address."""
    ok = person("Amina")
    not_asked = person("Nadia", consent_status=ConsentStatus.UNKNOWN)
    withdrawn = person("Wale", consent_status=ConsentStatus.WITHDRAWN)
    suppressed = person("Sami")
    db.session.add(Suppression(email=suppressed.email, reason=SuppressionReason.BOUNCE))
    no_email = make_contact("Noel", consent_status=ConsentStatus.GRANTED)
    invalid = person("Ivy", email="ivy@localhost")
    db.session.commit()
    return {
        "ok": ok,
        "not_asked": not_asked,
        "withdrawn": withdrawn,
        "suppressed": suppressed,
        "no_email": no_email,
        "invalid": invalid,
    }


def test_queue_writes_one_row_per_recipient_and_says_who_was_left_out(
    db, ctx, crowd, make_segment, make_campaign, client, as_role
):
    segment = make_segment(consent_only=True)  # the send still reports who lacked consent
    campaign = make_campaign(segment)
    result = send_ops.queue_campaign(None, campaign)
    db.session.commit()
    assert result.queued == 1
    assert result.left_out == {
        "not_asked": 1,
        "withdrawn": 1,
        "suppressed": 1,
        "no_email": 1,
        "invalid": 1,
    }
    (row,) = messages(db)
    assert row.email == crowd["ok"].email and row.status is MessageStatus.QUEUED
    assert campaign.status is CampaignStatus.SENDING
    as_role("lead")
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Left out, and why" in page
    assert crowd["suppressed"].full_name in page and "Suppressed" in page
    assert crowd["withdrawn"].full_name in page
    with pytest.raises(OperationError):  # sending twice is refused
        send_ops.queue_campaign(None, campaign)


def test_each_address_once(db, ctx, person, make_segment, make_campaign):
    a = person("Amina", email="shared@example.org")
    b = person("Bea", email="other@example.org")
    b.email = "SHARED@example.org"  # an import that skipped normalization
    db.session.commit()
    campaign = make_campaign(make_segment())
    result = send_ops.queue_campaign(None, campaign)
    assert result.queued == 1 and result.left_out == {"duplicate": 1}
    assert [m.contact_id for m in messages(db)] == [a.id]


def test_nobody_to_mail_changes_nothing(db, ctx, crowd, make_segment, make_campaign):
    campaign = make_campaign(make_segment(countries=["NZ"]))
    with pytest.raises(OperationError) as exc:
        send_ops.queue_campaign(None, campaign)
    assert "Nobody" in exc.value.message
    db.session.rollback()
    assert messages(db) == [] and campaign.status is CampaignStatus.DRAFT


def test_send_now_from_the_page(client, as_role, db, crowd, make_campaign):
    campaign = make_campaign()
    as_role("lead")
    detail = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="would-send">1<' in detail
    response = client.post(f"/campaigns/{campaign.id}/send")
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENDING and len(messages(db)) == 1


def test_the_file_provider_writes_each_message_with_unsubscribe_headers(
    db, ctx, person, make_campaign, make_org, file_provider, outbox
):
    org = make_org("Sunrise Knitwear")
    person("Amina", organization_id=org.id)
    person("Boris")
    campaign = make_campaign(
        subject="{{ first_name }}, news",
        body="Dear {{ first_name }} ({{ organization }}),\nRead on. Tom & Jerry <3\n",
    )
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    outcome = worker.drain_once(file_provider)
    assert outcome["sent"] == 2
    mails = sorted(outbox(), key=lambda m: m["Subject"])
    assert [m["Subject"] for m in mails] == ["Amina, news", "Boris, news"]
    text = mails[0].get_body(("plain",)).get_content()
    html = mails[0].get_body(("html",)).get_content()
    assert "Dear Amina (Sunrise Knitwear)" in text and "Tom & Jerry <3" in text
    assert "Tom &amp; Jerry &lt;3" in html
    assert "Unsubscribe: http://localhost/u/" in text  # the footer, since the body has no link
    assert 'Unsubscribe: <a href="http://localhost/u/' in html
    assert mails[0]["List-Unsubscribe"].startswith("<http://localhost/u/")
    assert mails[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = next(Path(file_provider.files.directory).glob("*.eml")).read_bytes()
    assert b"\nList-Unsubscribe: <http://localhost/u/" in raw  # plain, not RFC 2047-encoded
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT and campaign.finished_at is not None


def test_sendgrid_gets_batches_of_1000_with_our_message_key(
    db, ctx, person, make_contact, make_campaign, sendgrid_provider, fake_sendgrid
):
    from crm.contacts.models import Contact

    db.session.execute(
        sa.insert(Contact),
        [
            {
                "first_name": f"P{i}",
                "last_name": "Bulk",
                "email": f"p{i}@example.org",
                "consent_status": ConsentStatus.GRANTED,
                "sort_name": f"bulk p{i}",
                "search_text": "",
            }
            for i in range(2300)
        ],
    )
    db.session.commit()
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    worker.drain_once(sendgrid_provider, batch_size=1000)
    worker.drain_once(sendgrid_provider, batch_size=1000)
    worker.drain_once(sendgrid_provider, batch_size=1000)
    assert [len(r["json"]["personalizations"]) for r in fake_sendgrid.requests] == [1000, 1000, 300]
    request = fake_sendgrid.requests[0]
    assert request["path"] == "/v3/mail/send"
    assert request["headers"]["Authorization"] == "Bearer SG.test-key"
    first = request["json"]["personalizations"][0]
    row = db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.email == first["to"][0]["email"])
    )
    assert first["custom_args"] == {
        "crm_message": row.message_key,
        "crm_campaign": str(campaign.id),
    }
    assert first["subject"] == f"News for {row.contact.first_name}"
    assert first["substitutions"]["%%first_name%%"] == row.contact.first_name
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "%%first_name%%" in request["json"]["content"][0]["value"]
    assert row.status is MessageStatus.SENT and row.provider_id
    assert len(messages(db, status=MessageStatus.SENT)) == 2300
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT


def test_logic_in_the_body_renders_per_person(
    db, ctx, person, make_org, make_campaign, sendgrid_provider, fake_sendgrid
):
    org = make_org("Sunrise Knitwear")
    person("Amina", organization_id=org.id)
    person("Boris")
    person("Chen")
    campaign = make_campaign(
        body="Hi {{ first_name }}{% if organization %} of {{ organization }}{% endif %}\n"
    )
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    worker.drain_once(sendgrid_provider)
    bodies = sorted(r["json"]["content"][0]["value"].split("\n")[0] for r in fake_sendgrid.requests)
    assert bodies == ["Hi Amina of Sunrise Knitwear", "Hi Boris", "Hi Chen"]


def test_rate_limited_then_retried_at_the_reset(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid
):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    reset = int(time.time()) + 120
    fake_sendgrid.answer(
        429,
        headers={
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        },
    )
    outcome = worker.drain_once(sendgrid_provider)
    assert outcome["retry"] == 1
    (row,) = messages(db)
    assert row.status is MessageStatus.QUEUED and "Rate limited" in row.error
    assert abs(row.next_attempt_at.timestamp() - reset) < 5
    assert worker.drain_once(sendgrid_provider)["claimed"] == 0  # not before the reset
    outcome = worker.drain_once(sendgrid_provider, now=utcnow() + timedelta(seconds=130))
    assert outcome["sent"] == 1
    db.session.refresh(row)
    assert row.status is MessageStatus.SENT and row.attempts == 2 and row.error is None


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_server_errors_back_off_and_retry(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid, kind
):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    if kind == "drop":
        fake_sendgrid.answer(200, drop=True)
    else:
        fake_sendgrid.answer(500)
    start = utcnow()
    assert worker.drain_once(sendgrid_provider, now=start)["retry"] == 1
    (row,) = messages(db)
    assert row.status is MessageStatus.QUEUED
    assert row.next_attempt_at - start == worker.backoff(1)
    assert worker.drain_once(sendgrid_provider, now=start + worker.backoff(1))["sent"] == 1


def test_retries_give_up_in_the_end(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid
):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.answer(503, times=worker.MAX_ATTEMPTS)
    now = utcnow()
    for _ in range(worker.MAX_ATTEMPTS):
        worker.drain_once(sendgrid_provider, now=now)
        now += timedelta(hours=2)
    (row,) = messages(db)
    assert row.status is MessageStatus.FAILED and "Gave up after 8 attempts" in row.error
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT  # finished: nothing left to try


def test_a_refused_api_key_keeps_the_messages_for_later(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid
):
    """401/403: the key is wrong or revoked, not the messages: nothing is lost."""
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.answer(401, message="The provided authorization grant is invalid")
    outcome = worker.drain_once(sendgrid_provider)
    assert outcome["retry"] == 1 and outcome["failed"] == 0
    (row,) = messages(db)
    assert row.status is MessageStatus.QUEUED and "(401)" in row.error
    assert row.attempts == 0  # waiting for a fixed key does not use up its attempts


@pytest.mark.parametrize("status", [400, 413])
def test_other_client_errors_fail_with_the_reason(
    db, ctx, person, make_campaign, sendgrid_provider, fake_sendgrid, status
):
    person("Amina")
    person("Boris")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    fake_sendgrid.answer(status, message="The from address does not match a verified Sender")
    outcome = worker.drain_once(sendgrid_provider)
    assert outcome["failed"] == 2
    for row in messages(db):
        assert row.status is MessageStatus.FAILED
        assert f"({status})" in row.error and "verified Sender" in row.error
    assert len(fake_sendgrid.requests) == 1


def test_a_scheduled_campaign_goes_out_when_due(db, ctx, person, make_campaign, file_provider):
    person("Amina")
    campaign = make_campaign()
    when = utcnow() + timedelta(hours=1)
    schedule_ops.schedule_campaign(None, campaign, when)
    db.session.commit()
    assert worker.drain_once(file_provider)["claimed"] == 0
    assert campaign.status is CampaignStatus.SCHEDULED
    outcome = worker.drain_once(file_provider, now=when + timedelta(seconds=1))
    assert outcome["sent"] == 1
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.SENT


def test_a_scheduled_campaign_with_nobody_to_mail_is_cancelled_with_the_reason(
    db, ctx, make_campaign, file_provider
):
    campaign = make_campaign()
    when = utcnow() + timedelta(hours=1)
    schedule_ops.schedule_campaign(None, campaign, when)
    db.session.commit()
    worker.drain_once(file_provider, now=when + timedelta(seconds=1))
    db.session.refresh(campaign)
    assert campaign.status is CampaignStatus.CANCELLED


def test_cancelling_while_sending_withdraws_what_is_queued(
    db, ctx, person, make_campaign, file_provider
):
    for name in ("Amina", "Boris", "Chen"):
        person(name)
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    worker.drain_once(file_provider, batch_size=1)
    assert schedule_ops.cancel_campaign(None, campaign) == 2
    db.session.commit()
    assert worker.drain_once(file_provider)["claimed"] == 0
    assert [m.status for m in messages(db)] == [
        MessageStatus.SENT,
        MessageStatus.CANCELLED,
        MessageStatus.CANCELLED,
    ]


def test_a_dead_workers_claim_is_taken_back(db, ctx, person, make_campaign, file_provider):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    now = utcnow()
    assert [m.id for m in worker.claim(10, now)]  # claimed, then the worker "dies"
    assert worker.drain_once(file_provider, now=now)["claimed"] == 0
    later = now + worker.CLAIM_LEASE + timedelta(seconds=1)
    assert worker.drain_once(file_provider, now=later)["sent"] == 1


def test_the_worker_command_drains_the_outbox(db, app, person, make_campaign, outbox, runner):
    with app.test_request_context():
        person("Amina")
        campaign = make_campaign()
        send_ops.queue_campaign(None, campaign)
        db.session.commit()
    result = runner.invoke(args=["crm", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "stopped after" in result.output
    directory = Path(app.config["MAIL_FILE_DIR"])
    assert len(list(directory.glob("*.eml"))) == 1  # sent by the command, not by the fixture
    assert db.session.scalar(sa.select(Campaign.status)) is CampaignStatus.SENT


def test_the_request_body_is_what_the_library_sends(db, ctx, person, make_campaign):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    batch, carried = delivery.batches_for(campaign, worker.claim(10, utcnow()))[0]
    body = delivery.SendGridBatchProvider.request_body(batch)
    assert body["from"] == {"email": "advocacy@example.org", "name": "WEST Advocacy"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_a_slow_answer_times_out_and_is_retried(db, ctx, person, make_campaign, fake_sendgrid):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    impatient = delivery.SendGridBatchProvider("SG.test-key", fake_sendgrid.url, timeout=0.3)
    fake_sendgrid.delay = 1.0
    start = utcnow()
    assert worker.drain_once(impatient, now=start)["retry"] == 1
    (row,) = messages(db)
    assert row.status is MessageStatus.QUEUED and "could not be reached" in row.error
    fake_sendgrid.delay = 0
    assert worker.drain_once(impatient, now=start + worker.backoff(1))["sent"] == 1


def test_the_worker_command_puts_back_the_signal_handlers_it_replaced(app, runner):
    import signal

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert runner.invoke(args=["crm", "worker", "--once"]).exit_code == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_sending_job_goes_on_batch_after_batch_and_hands_over_when_stopping(
    app, db, ctx, person, make_campaign, monkeypatch
):
    from crm.campaigns import jobs
    from crm.core.jobs import Job, JobStatus
    from crm.core.jobs.worker import JobContext

    for name in ("Amina", "Bola", "Chen", "Dina", "Emre"):
        person(name)
    monkeypatch.setitem(app.config, "CAMPAIGN_BATCH_SIZE", 1)
    monkeypatch.setitem(app.config, "CAMPAIGN_SEND_LANES", 1)
    monkeypatch.setattr(jobs, "SEND_FOR", 600.0)  # the budget cannot run out in this test
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()

    def lane() -> list[Job]:
        return list(db.session.scalars(sa.select(Job).where(Job.kind == jobs.SEND,
                                                            Job.status == JobStatus.QUEUED)))  # fmt: skip

    def run(job: Job, stopping: bool) -> dict:
        context = JobContext(job.id, jobs.SEND, 1, 10, None, None, should_stop=lambda: stopping)
        result = jobs.send_batch(dict(job.payload), context)
        job.status = JobStatus.DONE
        db.session.commit()
        return result

    (first,) = lane()
    # A worker asked to stop (SIGTERM) sends the batch in hand, then the lane waits for a job.
    assert run(first, stopping=True)["sent"] == 1
    (second,) = lane()
    # Otherwise one job sends batch after batch, up to the last.
    assert run(second, stopping=False)["sent"] == 4
    assert lane() == []
    assert {m.status for m in messages(db)} == {MessageStatus.SENT}
