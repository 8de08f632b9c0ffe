"""The home dashboard shows this quarter's key figures against last quarter's (issue 6)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm.champions.models import Champion, Stage, StageChange
from crm.events.models import Event, Participation
from crm.pledges.schedule import Quarter


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


@pytest.fixture
def two_quarters(db, make_contact):
    """Last quarter: one event with 1 attendee, one active champion. This quarter: one event
    with 3 attendees (and a no-show), a second champion made active."""
    this = Quarter.of(date.today())
    last = this.previous()

    def event(day: date, statuses: list[str]):
        e = Event(name=f"Event {day}", kind="workshop", hosting="hosted", starts_at=noon(day),
                  ends_at=noon(day) + timedelta(hours=2))  # fmt: skip
        db.session.add(e)
        db.session.flush()
        for status in statuses:
            db.session.add(Participation(event_id=e.id, contact_id=make_contact().id,
                                         role="attendee", status=status))  # fmt: skip

    def champion(active_on: date):
        c = Champion(contact_id=make_contact().id, stage=Stage.ACTIVE, stage_since=noon(active_on))
        db.session.add(c)
        db.session.flush()
        db.session.add_all([
            StageChange(champion_id=c.id, from_stage=None, to_stage="identified",
                        at=noon(active_on) - timedelta(hours=1)),
            StageChange(champion_id=c.id, from_stage="identified", to_stage="active",
                        at=noon(active_on)),
        ])  # fmt: skip

    event(last.first_day + timedelta(days=3), ["attended", "registered"])
    event(this.first_day, ["attended", "attended", "attended", "no_show"])
    champion(last.first_day + timedelta(days=1))
    champion(this.first_day)
    db.session.commit()
    return this, last


def dashboard_figures(page: str) -> dict[str, tuple[str, str]]:
    card = page.split('id="dashboard-quarter"', 1)[1].split('<div class="row', 1)[0]
    found = re.findall(
        r'<div class="fs-4 fw-bold">([^<]*)</div>\s*<div class="small text-muted">([^<]*?)\s*'
        r"<span[^>]*>\(([^)]*)\)</span>",
        card,
    )

    # A change reads "+2", "-2" (or with a minus sign) and "0" or "no change" when equal.
    def plain(change: str) -> str:
        change = change.strip().replace("\u2212", "-")
        return "0" if change in ("no change", "0", "+0") else change

    return {label.strip(): (now, plain(change)) for now, label, change in found}


def test_the_dashboard_shows_this_quarters_key_figures_against_last_quarters(
    client, as_role, two_quarters
):
    this, _last = two_quarters
    as_role("lead")
    page = client.get("/").get_data(as_text=True)
    assert f"{this.label} so far, against last quarter" in page
    figures = dashboard_figures(page)
    assert figures["Attended"] == ("3", "+2")
    assert figures["Active champions"] == ("2", "+1")
    assert figures["Active pledges"] == ("0", "0")
    assert figures["Adopted"] == ("0", "0")


def test_a_fall_shows_as_a_negative_change(client, as_role, db, make_contact):
    last = Quarter.of(date.today()).previous()
    e = Event(name="Last quarter's", kind="workshop", hosting="hosted",
              starts_at=noon(last.first_day), ends_at=noon(last.first_day) + timedelta(hours=1))  # fmt: skip
    db.session.add(e)
    db.session.flush()
    for _ in range(2):
        db.session.add(Participation(event_id=e.id, contact_id=make_contact().id,
                                     role="attendee", status="attended"))  # fmt: skip
    db.session.commit()
    as_role("volunteer")
    figures = dashboard_figures(client.get("/").get_data(as_text=True))
    assert figures["Attended"] == ("0", "-2")


def test_viewers_get_the_report_and_not_the_dashboard(client, as_role, two_quarters):
    as_role("viewer")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/reports/")
    assert "dashboard-quarter" not in client.get("/reports/").get_data(as_text=True)


def test_the_menu_shows_home_only_to_roles_with_a_dashboard(client, as_role):
    """A viewer's home is the report (already in the menu), a champion's and a
    representative's their own page: a Home item would only lead back to it."""
    home = 'bi-speedometer2"></i> Home</a>'
    as_role("viewer")
    page = client.get("/reports/").get_data(as_text=True)
    assert home not in page and "> Report</a>" in page
    as_role("lead")
    assert home in client.get("/reports/").get_data(as_text=True)
