"""The dashboard's figures are counted by a job and stored; the page counts no big table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.contacts.models import ConsentStatus
from crm.core import shared_store
from crm.core.jobs import Job, enqueue
from crm.dashboard.figures import COUNT, KEY
from crm.engagements.models import Engagement, EngagementKind
from crm.organizations.models import OrganizationKind
from crm.pledges.schedule import Quarter
from crm.reports.stored import rebuild

COUNTED = ("contact", "organization", "engagement", "champion", "endorsement")


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The SQL every request in the block sends (lower case)."""
    from crm.extensions import db

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lower())

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def uncapped_counts(seen: list[str]) -> list[str]:
    """Counts over a table the dashboard must not count whole: any COUNT that reads one of
    them without a LIMIT inside."""
    found = []
    for sql in seen:
        if "count(" not in sql:
            continue
        tables = set(re.findall(r"\bfrom\s+\"?(\w+)\"?", sql))
        if tables & set(COUNTED) and " limit " not in sql:
            found.append(sql)
    return found


@pytest.fixture
def some_data(db, make_contact, make_org):
    for _ in range(3):
        make_contact(consent_status=ConsentStatus.GRANTED)
    make_contact()
    make_org(kind=OrganizationKind.NGO)
    make_org(kind=OrganizationKind.NGO)
    make_org(kind=OrganizationKind.SUPPLIER)
    today = date.today()
    for days in (1, 10, 45):
        db.session.add(Engagement(kind=EngagementKind.MEETING, occurred_on=today -
                                  timedelta(days=days), summary="Met"))  # fmt: skip
    db.session.commit()


def test_the_figures_job_stores_what_it_counted(app, db, some_data, run_jobs):
    with app.test_request_context():
        enqueue(COUNT)
        db.session.commit()
    assert run_jobs() == 1
    with app.test_request_context():
        stored = shared_store.get(KEY)
    assert stored is not None
    figures = stored.value
    assert (figures["contacts"], figures["consented"]) == (4, 3)
    assert figures["organizations"] == 3
    assert figures["engagements_30d"] == 2
    assert figures["by_kind"] == [["ngo", 2], ["supplier", 1]]
    job = db.session.scalars(sa.select(Job).where(Job.kind == COUNT)).one()
    assert job.result == {"contacts": 4, "organizations": 3}


def test_with_figures_stored_the_dashboard_counts_no_big_table(app, client, as_role, db):
    as_role("lead")
    with app.test_request_context():
        shared_store.put(KEY, {"contacts": 1_234_567, "organizations": 89_012, "consented": 345,
                               "engagements_30d": 67, "by_kind": [["ngo", 5]],
                               "pipeline": {"active": 7}, "lapsing": 2, "to_review": 1})  # fmt: skip
        rebuild(Quarter.of(date.today()))  # the report job's work
        db.session.commit()
    with statements(app) as seen:
        page = client.get("/").get_data(as_text=True)
    assert "1,234,567" in page and "89,012" in page
    assert "Counted" in page and "every minute" in page  # it says the figures can be stale
    assert not uncapped_counts(seen), uncapped_counts(seen)
    assert not any("count(" in sql and "from contact" in sql for sql in seen)
    assert not any("pledge" in sql for sql in seen)  # the stored report, not built again
    assert 'id="report-built-at"' in page


def test_a_big_database_with_nothing_stored_says_the_figures_are_being_counted(
    app, client, as_role, db, some_data, monkeypatch
):
    as_role("lead")
    monkeypatch.setitem(app.config, "COUNT_CAP", 2)  # 4 contacts: "big"
    with statements(app) as seen:
        page = client.get("/").get_data(as_text=True)
    assert "being counted" in page
    assert not uncapped_counts(seen), uncapped_counts(seen)
    # and the report is queued rather than built in the request
    assert "being prepared" in page
    assert db.session.scalars(sa.select(Job.kind).where(Job.kind == "reports.build")).all()


def test_a_small_database_with_nothing_stored_is_counted_in_the_request(client, as_role, some_data):
    as_role("lead")
    page = client.get("/").get_data(as_text=True)
    stats = page.split('id="dashboard-stats"', 1)[1]
    assert re.findall(r'<div class="stat-value">([^<]*)</div>', stats) == ["4", "3", "3", "2"]
    assert "Counted" not in stats  # counted for this page: current


def test_an_unfiltered_big_list_shows_the_stored_total_without_counting(
    app, client, as_role, db, some_data, run_jobs, monkeypatch
):
    as_role("lead")
    with app.test_request_context():
        enqueue(COUNT)
        db.session.commit()
    run_jobs()
    monkeypatch.setitem(app.config, "COUNT_CAP", 2)  # 4 contacts, 3 organizations: "big"
    with statements(app) as seen:
        contacts = client.get("/contacts/").get_data(as_text=True)
        organizations = client.get("/organizations/").get_data(as_text=True)
    assert re.search(r">\s*4 contacts", contacts), "the stored total, exact"
    assert re.search(r">\s*3 organizations", organizations)
    assert not [sql for sql in seen if "count(" in sql]  # not counted on the request
    filtered = client.get("/contacts/?country=KE").get_data(as_text=True)
    assert "more than" not in filtered  # a filtered list counts (capped) as before
