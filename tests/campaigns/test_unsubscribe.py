"""One-click unsubscribe: a signed link, no login, GET asks and POST acts, RFC 8058 POSTs from
mail clients work without a CSRF token, and the consent change is recorded with time and
source."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.campaigns import delivery, worker
from crm.campaigns.operations import sending as send_ops
from crm.contacts.models import ConsentStatus
from crm.core.errors import OperationError
from tests.conftest import first_link


@pytest.fixture
def received(db, app, person, make_campaign, file_provider, outbox):
    """A campaign email as Amina received it; returns (contact, email, unsubscribe path)."""
    with app.test_request_context():
        amina = person("Amina")
        campaign = make_campaign()
        send_ops.queue_campaign(None, campaign)
        db.session.commit()
        worker.drain_once(file_provider)
        amina_id = amina.id
    from crm.contacts.models import Contact

    amina = db.session.get(Contact, amina_id)  # in the test's own session
    (mail,) = outbox()
    link = first_link(mail, "/u/")
    assert mail["List-Unsubscribe"] == f"<{link}>"
    return amina, mail, link.replace("http://localhost", "")


def test_get_only_asks_and_post_unsubscribes(client, db, received):
    amina, _mail, path = received
    page = client.get(path)
    assert page.status_code == 200 and "Stop emails" in page.get_data(as_text=True)
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.GRANTED  # a link scanner changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.WITHDRAWN
    assert amina.consent_source == "unsubscribe link (Spring newsletter)"
    assert amina.consent_at is not None
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "contact", AuditEntry.object_id == amina.id
        )
    )
    assert entry.changes == {"consent_status": ["granted", "withdrawn"]}
    again = client.post(path)  # twice is fine
    assert again.status_code == 200


def test_one_click_post_from_a_mail_client_without_csrf(app, client, db, received):
    amina, _mail, path = received
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 200
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.WITHDRAWN
    assert amina.consent_source.startswith("one-click unsubscribe")


def test_unsubscribed_people_are_left_out_next_time(db, ctx, client, received, make_campaign):
    amina, _mail, path = received
    client.post(path)
    from crm.campaigns.models import Segment

    segment = db.session.scalar(sa.select(Segment))
    segment.criteria = {**segment.criteria, "consent_only": False}
    db.session.commit()
    second = make_campaign(segment, name="Second")
    with pytest.raises(OperationError) as exc:
        send_ops.queue_campaign(None, second)
    assert "Nobody" in str(exc.value)
    assert send_ops.left_out_preview(second) == {"included": 0, "withdrawn": 1}


@pytest.mark.parametrize("token", ["garbage", "test-message"])
def test_a_bad_link_changes_nothing(client, db, received, token):
    amina, _mail, path = received
    assert client.get(f"/u/{token}").status_code == 404
    assert client.post(f"/u/{token}").status_code == 404
    assert client.post(path[:-3]).status_code == 404  # cut short
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.GRANTED


def test_a_token_names_one_message_only(ctx):
    assert delivery.unsubscribe_url("a" * 32) != delivery.unsubscribe_url("b" * 32)


def test_the_preference_page_leaves_out_only_the_topics_declined(
    client, db, app, received, make_campaign
):
    amina, _mail, path = received
    page = client.get(path + "/topics")
    assert page.status_code == 200 and "Newsletter" in page.get_data(as_text=True)
    wanted = [
        "awareness", "event_invitation", "pledge_drive", "champion_recruitment", "consultation"
    ]  # fmt: skip
    saved = client.post(path + "/topics", data={"topics": wanted})
    assert saved.status_code == 200 and "Your choices are saved" in saved.get_data(as_text=True)
    db.session.refresh(amina)
    assert amina.consent_status is ConsentStatus.GRANTED  # still hears from us
    from crm.campaigns.models import Segment, TopicOptOut

    assert [t.topic.value for t in db.session.scalars(sa.select(TopicOptOut))] == ["newsletter"]
    segment = db.session.scalar(sa.select(Segment))
    newsletter = make_campaign(segment, name="Newsletter 2", purpose="newsletter")
    invitation = make_campaign(segment, name="Invite", purpose="event_invitation")
    with app.test_request_context():
        assert send_ops.left_out_preview(newsletter) == {"included": 0, "topic": 1}
        assert send_ops.left_out_preview(invitation) == {"included": 1}
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "contact", AuditEntry.summary.like("Email topics%")
        )
    )
    assert entry is not None
    client.post(path + "/topics", data={"topics": [*wanted, "newsletter"]})  # changed their mind
    assert db.session.scalars(sa.select(TopicOptOut)).all() == []


def test_the_preference_page_refuses_bad_input_and_needs_csrf(client, db, app, received):
    _amina, _mail, path = received
    bad = client.post(path + "/topics", data={"topics": ["awareness", "casino"]})
    assert bad.status_code == 422
    from crm.campaigns.models import TopicOptOut

    assert db.session.scalars(sa.select(TopicOptOut)).all() == []
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(path + "/topics", data={"topics": []}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalars(sa.select(TopicOptOut)).all() == []
    assert client.get("/u/garbage/topics").status_code == 404


def test_a_batchs_links_are_the_ones_a_single_message_gets(app):
    """The batch's link maker signs with the key derived once; the link is the same, and it
    leads back to its message, a changed one to none."""
    with app.test_request_context():
        make = delivery.unsubscribe_url_maker()
        for key in ("0" * 32, "a1b2c3d4e5f60718293a4b5c6d7e8f90"):
            url = make(key)
            assert url == delivery.unsubscribe_url(key)
            token = url.rsplit("/", 1)[-1].split("?")[0]
            assert delivery.message_key_from(token) == key
            assert delivery.message_key_from(token[:-2] + "xx") is None
