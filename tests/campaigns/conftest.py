from __future__ import annotations

import pytest


@pytest.fixture
def sendgrid_provider(fake_sendgrid):
    from crm.campaigns.delivery import SendGridBatchProvider

    return SendGridBatchProvider("SG.test-key", fake_sendgrid.url, timeout=5)


@pytest.fixture
def file_provider(app):
    from crm.campaigns.delivery import FileBatchProvider

    return FileBatchProvider(app.config["MAIL_FILE_DIR"], app.config["MAIL_DEFAULT_SENDER"])


@pytest.fixture
def person(make_contact):
    """A contact who agreed to email (the usual recipient)."""
    from crm.contacts.models import ConsentStatus

    def make(first_name: str = "Amara", email: str | None = None, **kw):
        kw.setdefault("consent_status", ConsentStatus.GRANTED)
        contact = make_contact(first_name, **kw)
        if email is None:
            email = f"{first_name.lower()}.{contact.id}@example.org"
        contact.email = email
        from crm.extensions import db

        db.session.commit()
        return contact

    return make


@pytest.fixture
def make_segment(db):
    from crm.campaigns.operations import saved_segments as segment_ops

    def make(name: str = "Everyone who agreed", **criteria):
        segment = segment_ops.create_segment(
            None, segment_ops.SegmentFields(name=name, criteria=criteria)
        )
        db.session.commit()
        return segment

    return make


@pytest.fixture
def make_campaign(db, make_segment):
    from crm.campaigns.operations import editing as campaign_ops

    def make(segment=None, **kw):
        if segment is None:
            segment = make_segment()
        fields = campaign_ops.CampaignFields(
            name=kw.pop("name", "Spring newsletter"),
            purpose=kw.pop("purpose", "newsletter"),
            segment_id=segment.id if segment else None,
            sender_name=kw.pop("sender_name", "WEST Advocacy"),
            sender_email=kw.pop("sender_email", "advocacy@example.org"),
            subject=kw.pop("subject", "News for {{ first_name }}"),
            body=kw.pop("body", "Dear {{ first_name }},\n\nThe principles are growing.\n"),
            **kw,
        )
        campaign = campaign_ops.create_campaign(None, fields)
        db.session.commit()
        return campaign

    return make
