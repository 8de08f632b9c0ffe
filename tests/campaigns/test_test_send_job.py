"""A campaign's "send a test to yourself" is a job queued with the request: the worker sends
it; a request that fails sends nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.core.jobs import Job


def test_a_test_send_is_queued_for_the_worker(
    client, as_role, make_campaign, person, db, queued_mail, outbox
):
    amina = person("Amina")
    campaign = make_campaign()
    lead = as_role("lead")
    page = client.post(
        f"/campaigns/{campaign.id}/test", data={"contact_id": amina.id}, follow_redirects=True
    ).get_data(as_text=True)
    assert f"A test is on its way to {lead.email} as {amina.full_name} would see it." in page
    assert queued_mail() == [(lead.email, "[Test] News for Amina")]
    job = db.session.scalar(sa.select(Job).where(Job.kind == "mail.send"))
    assert job.created_by_id == lead.id  # the Jobs page says who asked
    assert [m["To"] for m in outbox()] == [lead.email]


def test_a_test_send_whose_request_fails_sends_nothing(
    client, as_role, make_campaign, person, db, queued_mail, outbox, monkeypatch
):
    from crm.campaigns import views

    def broken(*args, **kwargs):
        raise RuntimeError("the page broke after the email was queued")

    monkeypatch.setattr(views, "flash", broken)
    person("Amina")
    campaign = make_campaign()
    as_role("lead")
    with pytest.raises(RuntimeError):
        client.post(f"/campaigns/{campaign.id}/test")
    assert queued_mail() == [] and outbox() == []
