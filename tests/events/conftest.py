from __future__ import annotations

from datetime import datetime, timedelta

import pytest


@pytest.fixture
def make_event(db):
    from crm.events.operations import events as event_ops

    def make(name: str = "Dhaka roundtable", *, days: int = 10, capacity=None, **kw):
        start = (datetime.now() + timedelta(days=days)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        fields = event_ops.EventFields(
            name=name,
            kind=kw.pop("kind", "roundtable"),
            hosting=kw.pop("hosting", "hosted"),
            starts_local=start,
            ends_local=start + timedelta(hours=kw.pop("hours", 3)),
            timezone=kw.pop("timezone", "Asia/Dhaka"),
            capacity=capacity,
            is_public=kw.pop("is_public", True),
            **kw,
        )
        event = event_ops.create_event(None, fields)
        db.session.commit()
        return event

    return make


@pytest.fixture
def registration():
    def form(**overrides):
        data = {
            "first_name": "Rahima",
            "last_name": "Khatun",
            "email": "rahima@example.org",
            "organization": "",
            "consent": "",
            "website": "",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v != "" or k in ("first_name", "email")}

    return form
