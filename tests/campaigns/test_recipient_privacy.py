"""Least privilege: a volunteer sees how a campaign went, not who it went to, unless
CRM_VOLUNTEERS_SEE_RECIPIENTS says so; a lead always sees both."""

from __future__ import annotations

import pytest

from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import ConsentStatus


@pytest.fixture
def sent(db, ctx, person, make_contact, make_segment, make_campaign, run_jobs):
    """A campaign sent to two people, one person left out (no consent)."""
    people = [person("Amina", "amina.private@example.org"), person("Boris", "boris@example.org")]
    withheld = make_contact("Wale", consent_status=ConsentStatus.WITHDRAWN)
    withheld.email = "wale.withdrawn@example.org"
    db.session.commit()
    campaign = make_campaign(make_segment())
    send_ops.queue_campaign(None, campaign)
    db.session.commit()
    run_jobs()
    return campaign, people, withheld


def pages(client, campaign) -> dict[str, tuple[int, str]]:
    urls = {
        "detail": f"/campaigns/{campaign.id}",
        "recipients": f"/campaigns/{campaign.id}/recipients",
        "preview": f"/campaigns/{campaign.id}/preview",
        "segment": f"/campaigns/segments/{campaign.segment_id}",
    }
    answers = {}
    for name, url in urls.items():
        response = client.get(url)
        answers[name] = (response.status_code, response.get_data(as_text=True))
    return answers


def test_a_volunteer_sees_the_figures_but_no_recipient(client, as_role, sent):
    campaign, people, withheld = sent
    as_role("volunteer")
    seen = pages(client, campaign)
    status, detail = seen["detail"]
    assert status == 200
    assert 'data-testid="stat-sent">2<' in detail  # the figures
    assert 'data-testid="stat-delivered"' in detail and 'data-testid="stat-bounced"' in detail
    assert "Unsubscribed or withdrew consent: 1" in detail  # counted, not named
    assert 'data-testid="recipients-hidden"' in detail
    assert seen["recipients"][0] == 403
    assert seen["preview"][0] == 200 and seen["segment"][0] == 200
    for name in ("detail", "preview", "segment"):
        text = seen[name][1]
        for contact in [*people, withheld]:
            assert contact.email not in text, (name, contact.email)
            assert contact.full_name not in text, (name, contact.full_name)
    assert "someone@example.org" in seen["preview"][1]  # shown with blank fields
    assert f"?contact_id={people[0].id}" not in seen["preview"][1]
    asked = client.get(f"/campaigns/{campaign.id}/preview?contact_id={people[0].id}")
    assert people[0].email not in asked.get_data(as_text=True)  # asking by id shows no one
    assert 'data-testid="people-hidden"' in seen["segment"][1]


def test_the_setting_lets_volunteers_see_the_recipients(app, client, as_role, sent, monkeypatch):
    campaign, people, withheld = sent
    monkeypatch.setitem(app.config, "VOLUNTEERS_SEE_RECIPIENTS", True)
    as_role("volunteer")
    seen = pages(client, campaign)
    assert all(status == 200 for status, _ in seen.values())
    assert 'data-testid="recipients-link"' in seen["detail"][1]
    assert withheld.full_name in seen["detail"][1]  # named among those left out
    for contact in people:
        assert contact.email in seen["recipients"][1]
        assert contact.full_name in seen["segment"][1]
    preview = client.get(f"/campaigns/{campaign.id}/preview?contact_id={people[1].id}")
    assert people[1].email in preview.get_data(as_text=True)
    # Nothing else comes with it: sending is still a lead's.
    assert client.post(f"/campaigns/{campaign.id}/cancel").status_code == 403


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_leads_and_admins_always_see_the_recipients(client, as_role, sent, role):
    campaign, people, withheld = sent
    as_role(role)
    seen = pages(client, campaign)
    assert all(status == 200 for status, _ in seen.values())
    recipients = seen["recipients"][1]
    for contact in people:
        assert contact.email in recipients
    assert withheld.email not in recipients  # left out, so not sent to
    assert withheld.full_name in seen["detail"][1]
    only_sent = client.get(f"/campaigns/{campaign.id}/recipients?status=failed")
    assert people[0].email not in only_sent.get_data(as_text=True)


def test_the_recipient_list_of_a_draft_says_nobody_yet(client, as_role, make_campaign):
    campaign = make_campaign()
    as_role("lead")
    page = client.get(f"/campaigns/{campaign.id}/recipients").get_data(as_text=True)
    assert "Nobody yet: the campaign has not been sent." in page
