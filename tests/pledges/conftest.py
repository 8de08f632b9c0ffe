from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa


@pytest.fixture
def standard(db):
    from crm.standards.models import Standard, StandardStatus

    return db.session.scalar(sa.select(Standard).where(Standard.status == StandardStatus.CURRENT))


@pytest.fixture
def make_pledge(db, make_org, make_contact, standard):
    """A pledge through the real operations, taken to `status`."""
    from crm.pledges.operations import lifecycle as pledge_ops

    def make(status: str = "active", *, org=None, activated_on: date | None = None, **kw):
        org = org or make_org()
        signatory = kw.pop("signatory", None) or make_contact(
            email=f"sig{org.id}@example.org", organization_id=org.id
        )
        pledge = pledge_ops.create_pledge(
            None,
            org,
            standard,
            signatory_id=None if status == "draft" else signatory.id,
            signed_on=None if status == "draft" else date(2026, 1, 5),
            **kw,
        )
        if status in ("active", "adopted", "withdrawn"):
            pledge_ops.transition(None, pledge, "active")
            if activated_on:
                pledge.activated_on = activated_on
        if status == "withdrawn":
            pledge_ops.transition(None, pledge, "withdrawn", reason="Changed plans")
        db.session.commit()
        return pledge

    return make


@pytest.fixture
def rep_for(make_user):
    """A representative account for a pledge's organization."""

    def make(pledge, **kw):
        return make_user("org_rep", organization_id=pledge.organization_id, **kw)

    return make
