from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa


@pytest.fixture
def scanned(run_jobs):
    """Store the pairs of every record changed so far, as the worker's frequent comparison
    does after a save (the duplicates page reads stored pairs only): runs the jobs now due."""
    from crm.core.jobs import enqueue
    from crm.duplicates.models import COMPARE_JOB
    from crm.extensions import db

    def run() -> int:
        enqueue(COMPARE_JOB)
        db.session.commit()
        return run_jobs()

    return run


@pytest.fixture
def current(db):
    from crm.standards.models import Standard, StandardStatus

    return db.session.scalar(sa.select(Standard).where(Standard.status == StandardStatus.CURRENT))


@pytest.fixture
def make_event(db):
    from crm.events.operations import events as event_ops

    def make(name: str = "Dhaka roundtable") -> object:
        start = (datetime.now() + timedelta(days=10)).replace(microsecond=0)
        event = event_ops.create_event(
            None,
            event_ops.EventFields(
                name=name,
                kind="roundtable",
                hosting="hosted",
                starts_local=start,
                ends_local=start + timedelta(hours=3),
                timezone="Asia/Dhaka",
            ),
        )
        db.session.commit()
        return event

    return make


@pytest.fixture
def make_consultation(db, current):
    from crm.consultations.operations import consultations as consultation_ops

    def make(title: str = "1.0 review"):
        consultation = consultation_ops.create_consultation(
            None,
            consultation_ops.ConsultationFields(
                standard_id=current.id,
                title=title,
                opens_on=date.today() - timedelta(days=1),
                closes_on=date.today() + timedelta(days=10),
                access="public",
                segment_id=None,
            ),
        )
        db.session.commit()
        return consultation

    return make


@pytest.fixture
def make_champion(db):
    from crm.champions.models import Stage
    from crm.champions.operations import pipeline as champion_ops

    def make(contact, stage: Stage = Stage.ENGAGED, **fields):
        champion = champion_ops.enter_pipeline(
            None, contact, champion_ops.ChampionFields(**fields), stage=Stage.IDENTIFIED
        )
        for step in (Stage.APPROACHED, Stage.ENGAGED, Stage.COMMITTED, Stage.ACTIVE):
            if list(Stage).index(step) > list(Stage).index(stage):
                break
            champion_ops.move(None, champion, step, note="moving along")
        db.session.commit()
        return champion

    return make


@pytest.fixture
def make_campaign(db):
    from crm.campaigns.models import Campaign, CampaignStatus, Purpose

    def make(name: str = "Spring newsletter"):
        campaign = Campaign(
            name=name,
            purpose=Purpose.NEWSLETTER,
            sender_name="WEST",
            sender_email="advocacy@example.org",
            subject="News",
            body="Hello",
            status=CampaignStatus.DRAFT,
        )
        db.session.add(campaign)
        db.session.commit()
        return campaign

    return make
