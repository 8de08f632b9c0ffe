"""Each campaign's messages by status are stored, so the campaigns list and a consultation's
reminders read a row per campaign instead of counting the outbox: written when a campaign is
queued, moved by cancelling, recounted by each sending job and by the minute's tick."""

from __future__ import annotations

import re

import sqlalchemy as sa

from crm.campaigns import counting, jobs, worker
from crm.campaigns.models import CampaignCounts, MessageStatus, OutboxMessage
from crm.campaigns.operations import scheduling as schedule_ops
from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import ConsentStatus
from crm.core.jobs import JobContext


def stored(db, campaign) -> dict[str, int]:
    db.session.expire_all()
    return counting.stored([campaign.id])[campaign.id]


def run_tick() -> dict:
    return jobs.tick({}, JobContext(0, jobs.TICK, 1, 1, None, None))


def test_sending_jobs_keep_the_counts_and_the_list_reads_them(
    app, db, ctx, person, make_campaign, client, as_role
):
    from crm.core.jobs.worker import Worker

    for name in ("Amina", "Bola", "Chen"):
        person(name)
    campaign = make_campaign(name="Harvest news")
    assert counting.stored([campaign.id]) == {campaign.id: {}}  # a draft: nothing counted
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    assert stored(db, campaign) == {"queued": 3}
    Worker(app, name="test:counts").drain()
    assert stored(db, campaign) == {"sent": 3}

    # The list shows what is stored, not a count of the outbox made for the page.
    db.session.execute(
        sa.update(CampaignCounts).where(CampaignCounts.campaign_id == campaign.id).values(sent=7341)
    )
    db.session.commit()
    as_role("lead")
    page = client.get("/campaigns/").get_data(as_text=True)
    row = re.search(r"Harvest news.*?</tr>", page, re.S)
    assert row is not None and ">7341<" in row.group(0)


def test_cancelling_moves_the_counts_and_the_tick_recounts(
    db, ctx, person, make_campaign, file_provider
):
    for name in ("Amina", "Bola", "Chen"):
        person(name)
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    worker.drain_once(file_provider, batch_size=1)  # one sent, outside any sending job
    assert stored(db, campaign) == {"queued": 3}  # not recounted yet
    assert schedule_ops.cancel_campaign(None, campaign) == 2
    db.session.commit()
    assert stored(db, campaign) == {"queued": 1, "cancelled": 2}
    assert counting.behind() == [campaign.id]  # cancelled since it was last counted
    run_tick()
    db.session.commit()
    assert stored(db, campaign) == {"sent": 1, "cancelled": 2}
    assert counting.behind() == []


def test_a_campaign_queued_before_the_counts_were_kept_is_counted_by_the_tick(
    db, ctx, person, make_campaign
):
    person("Amina")
    campaign = make_campaign()
    send_ops.queue_campaign(None, campaign)
    db.session.execute(sa.delete(CampaignCounts))
    db.session.commit()
    assert counting.behind() == [campaign.id]
    run_tick()
    db.session.commit()
    assert stored(db, campaign) == {"queued": 1}


def test_each_message_gets_its_own_random_key(db, ctx, person, make_campaign):
    for name in ("Amina", "Bola", "Chen", "Dina"):
        person(name)
    send_ops.queue_campaign(None, make_campaign())
    keys = list(db.session.scalars(sa.select(OutboxMessage.message_key)))
    assert len(keys) == 4 and len(set(keys)) == 4
    assert all(re.fullmatch("[0-9a-f]{32}", key) for key in keys)


def test_an_address_goes_to_the_first_person_not_left_out(
    db, ctx, person, make_segment, make_campaign
):
    withdrawn = person("Wale", email="shared@example.org", consent_status=ConsentStatus.WITHDRAWN)
    agreed = person("Amina", email="other@example.org")
    agreed.email = " Shared@Example.org"  # an import that skipped normalization
    db.session.commit()
    result = send_ops.queue_campaign(None, make_campaign(make_segment()))
    assert result.queued == 1 and result.left_out == {"withdrawn": 1}
    (message,) = db.session.scalars(sa.select(OutboxMessage))
    assert message.contact_id == agreed.id and message.email == "shared@example.org"
    assert message.contact_id != withdrawn.id and message.status is MessageStatus.QUEUED
