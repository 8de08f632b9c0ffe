from __future__ import annotations

import pytest


@pytest.fixture
def make_champion(db, make_contact, make_user):
    """A contact in the pipeline at `stage`, through the real operations."""
    from crm.champions.models import FUNNEL, Stage
    from crm.champions.operations import pipeline as champion_ops

    def make(stage: str = "identified", *, owner=None, contact=None, **fields):
        contact = contact or make_contact()
        if owner is None and Stage(stage) in (Stage.COMMITTED, Stage.ACTIVE, Stage.LAPSED):
            owner = make_user("lead")  # those stages need one on the way
        champion = champion_ops.enter_pipeline(
            None,
            contact,
            champion_ops.ChampionFields(owner_id=owner.id if owner else None, **fields),
            stage=Stage.IDENTIFIED,
        )
        target = Stage(stage)
        path = FUNNEL[1 : FUNNEL.index(target) + 1] if target in FUNNEL else [*FUNNEL[1:4], target]
        for step in path:
            champion_ops.move(None, champion, step, note="moving along")
        db.session.commit()
        return champion

    return make


@pytest.fixture
def champion_user(make_user, make_champion, make_contact):
    """A champion account linked to a champion record; returns (user, champion)."""

    def make(stage: str = "active", owner=None, **kw):
        contact = make_contact(email=kw.pop("email", None))
        champion = make_champion(stage, owner=owner, contact=contact)
        user = make_user("champion", contact_id=contact.id, **kw)
        return user, champion

    return make
