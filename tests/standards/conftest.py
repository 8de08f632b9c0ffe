from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.fixture
def v1(db):
    """Version 1.0 as the migrations seed it: current, eight principles without texts."""
    from crm.standards.models import Standard

    return db.session.scalar(sa.select(Standard).where(Standard.version == "1.0"))


@pytest.fixture
def make_standard(db):
    """A version with principles P1..Pn, each with a text unless `texts=False`."""
    from crm.standards.models import Principle, Standard, StandardStatus

    def make(version: str, status: str = "draft", *, n: int = 3, texts: bool = True) -> Standard:
        standard = Standard(version=version, title="WEST Principles", status=StandardStatus(status))
        standard.principles = [
            Principle(
                code=f"P{i}",
                title=f"Principle {i}",
                text=f"What principle {i} asks." if texts else None,
                position=i,
            )
            for i in range(1, n + 1)
        ]
        db.session.add(standard)
        db.session.commit()
        return standard

    return make


@pytest.fixture
def make_pledge(db, make_org):
    """A pledge inserted directly (the pledge operations are not what is tested here)."""
    from crm.pledges.models import Pledge, PledgeStatus

    def make(standard, **kw) -> Pledge:
        pledge = Pledge(
            organization_id=kw.pop("organization_id", None) or make_org().id,
            standard_id=standard.id,
            status=kw.pop("status", PledgeStatus.ACTIVE),
            **kw,
        )
        db.session.add(pledge)
        db.session.commit()
        return pledge

    return make
