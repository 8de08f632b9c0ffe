"""The quarterly report around empty quarters, every figure worked out by hand.

A small fixed dataset in 2025: one pledge signed and active in Q2 that reports on Q2 (filed
10 July) and never again, one event and one champion in Q2, nothing after. So:

- Q1 2025 is empty, and so is the quarter before it: every figure is 0 (or no average).
- Q3 2025 has no activity of its own but is compared with a busy Q2, and the pledge is still
  active (its Q3 report is due 30 October).
- Q4 2025: the Q3 report was missed (62 days late at 31 December): non-reporting.
- Q1 2026: 152 days late, over the 90 days' grace: lapsed.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from crm.champions.models import Champion, Endorsement, Stage, StageChange, Verification
from crm.events.models import Event, Participation
from crm.pledges.models import Assessment, Pledge, PledgeChange, ProgressReport
from crm.pledges.schedule import Quarter
from crm.reports.build import build_report
from crm.standards.models import Standard, StandardStatus


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def fixed(db, make_org, make_contact):
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    org = make_org("Brand A", kind="brand", country="DE")
    pledge = Pledge(organization_id=org.id, standard_id=standard.id, status="active",
                    signed_on=date(2025, 4, 10), activated_on=date(2025, 4, 20), listed=True)  # fmt: skip
    db.session.add(pledge)
    db.session.flush()
    db.session.add_all([
        PledgeChange(pledge_id=pledge.id, from_status=None, to_status="signed", at=at("2025-04-10")),
        PledgeChange(pledge_id=pledge.id, from_status="signed", to_status="active",
                     at=at("2025-04-20")),
    ])  # fmt: skip
    report = ProgressReport(pledge_id=pledge.id, standard_id=standard.id, year=2025, quarter=2,
                            status="accepted", submitted_at=at("2025-07-10"))  # fmt: skip
    for principle in standard.principles:
        report.answers.append(Assessment(principle_id=principle.id, position=principle.position,
                                         level="implementing"))  # fmt: skip
    db.session.add(report)
    champion = Champion(contact_id=make_contact().id, stage=Stage.ACTIVE,
                        stage_since=at("2025-05-02"))  # fmt: skip
    db.session.add(champion)
    db.session.flush()
    db.session.add_all([
        StageChange(champion_id=champion.id, from_stage=None, to_stage="identified",
                    at=at("2025-05-01")),
        StageChange(champion_id=champion.id, from_stage="identified", to_stage="active",
                    at=at("2025-05-02")),
        Endorsement(champion_id=champion.id, kind="talk", made_on=date(2025, 5, 20), title="Talk",
                    audience_reach=100, status=Verification.VERIFIED),
    ])  # fmt: skip
    event = Event(name="Roundtable", kind="roundtable", hosting="hosted",
                  starts_at=at("2025-05-15T09:00"), ends_at=at("2025-05-15T12:00"))  # fmt: skip
    db.session.add(event)
    db.session.flush()
    for status in ("attended", "attended", "no_show"):
        db.session.add(Participation(event_id=event.id, contact_id=make_contact().id,
                                     role="attendee", status=status))  # fmt: skip
    db.session.commit()
    return [p.code for p in standard.principles]


def table(report, section, key):
    return report.sections[section].set_index(key)


def column(report, section, key, name):
    return table(report, section, key)[name].to_dict()


def test_an_empty_quarter_after_an_empty_quarter_is_all_zeros(ctx, fixed):
    report = build_report(Quarter(2025, 1))
    pledges = table(report, "Pledges", "Pledges")
    assert pledges.to_dict("list") == {
        "This quarter": [0] * 6, "Previous quarter": [0] * 6, "Change": [0] * 6,
    }  # fmt: skip
    maturity = table(report, "Maturity by principle", "Principle")
    assert list(maturity.index) == fixed
    levels = ["Not started", "Planning", "Implementing", "Implemented", "Verified"]
    assert int(maturity[levels].to_numpy().sum()) == 0
    assert maturity["Average (0–4)"].isna().all() and maturity["Previous average"].isna().all()
    for section in ("By organization kind", "By country", "By region", "Learning library"):
        assert report.sections[section].empty, section
    for section in ("Champions", "Events", "Campaigns"):
        for row in report.sections[section].itertuples(index=False):
            key, *values = row
            if "rate" in key:
                # Nothing to take a rate of: no rate (or 0), never a made-up figure.
                assert all(v is None or v == 0 for v in values), (section, key)
            else:
                assert values == [0, 0, 0], (section, key)
    assert report.highlights == ["A quiet quarter: no pledges, endorsements or events recorded."]
    assert report.figures == {
        "Active pledges": (0, 0), "Adopted": (0, 0), "Active champions": (0, 0),
        "Attended": (0, 0),
    }  # fmt: skip


def test_a_quiet_quarter_after_a_busy_one(ctx, fixed):
    report = build_report(Quarter(2025, 3))
    pledges = table(report, "Pledges", "Pledges")
    assert pledges.loc["New (signed in the quarter)"].tolist() == [0, 1, -1]
    assert pledges.loc["Active"].tolist() == [1, 1, 0]
    assert pledges.loc["Non-reporting"].tolist() == [0, 0, 0]
    maturity = table(report, "Maturity by principle", "Principle")
    # The Q2 report was filed on 10 July: known at the end of Q3, not at the end of Q2.
    assert set(maturity["Implementing"]) == {1} and set(maturity["Average (0–4)"]) == {2.0}
    assert maturity["Previous average"].isna().all() and maturity["Change"].isna().all()
    assert column(report, "By country", "Country", "Live pledges") == {"Germany": 1}
    assert column(report, "By organization kind", "Organization kind", "Average maturity (0–4)") == {
        "Brand / retailer": 2.0
    }  # fmt: skip
    champions = table(report, "Champions", "Champions")
    assert champions["This quarter"].to_dict() == {
        "New champions": 0, "Active champions": 1, "Lapsing champions": 0,
        "Verified endorsements": 0, "Endorsement reach": 0,
    }  # fmt: skip
    assert champions["Previous quarter"].to_dict() == {
        "New champions": 1, "Active champions": 1, "Lapsing champions": 0,
        "Verified endorsements": 1, "Endorsement reach": 100,
    }  # fmt: skip
    events = table(report, "Events", "Events")
    quiet = events["This quarter"].to_dict()
    assert quiet.pop("Attendance rate") in (None, 0)  # no registrations, no rate
    assert quiet == {"Events held": 0, "Registrations": 0, "Attended": 0}
    assert events.loc["Attended", "Previous quarter"] == 2
    assert events.loc["Registrations", "Previous quarter"] == 3
    assert events.loc["Attendance rate", "Previous quarter"] == pytest.approx(0.667, abs=0.001)
    assert events.loc["Attended", "Change"] == -2
    assert report.highlights == ["A quiet quarter: no pledges, endorsements or events recorded."]
    assert report.figures["Attended"] == (0, 2) and report.figures["Active pledges"] == (1, 1)


def test_a_missed_report_makes_the_pledge_non_reporting_then_lapsed(ctx, fixed):
    q4 = build_report(Quarter(2025, 4))
    pledges = table(q4, "Pledges", "Pledges")
    assert pledges.loc["Active"].tolist() == [0, 1, -1]
    assert pledges.loc["Non-reporting"].tolist() == [1, 0, 1]
    assert "1 pledge had an overdue progress report." in q4.highlights
    maturity = table(q4, "Maturity by principle", "Principle")
    assert set(maturity["Average (0–4)"]) == {2.0} and set(maturity["Previous average"]) == {2.0}
    assert set(maturity["Change"]) == {0.0}
    q1 = build_report(Quarter(2026, 1))
    pledges = table(q1, "Pledges", "Pledges")
    assert pledges.loc["Lapsed"].tolist() == [1, 0, 1]
    assert pledges.loc["Non-reporting"].tolist() == [0, 1, -1]
    # Still live: counted by kind and country, with its last known maturity.
    assert column(q1, "By country", "Country", "Live pledges") == {"Germany": 1}


def test_the_download_of_an_empty_quarter_has_every_section(client, as_role, fixed):
    as_role("viewer")
    response = client.get("/reports/2025Q1.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert "Learning library" in book.sheetnames and "Events" in book.sheetnames
    events = [[c.value for c in row] for row in book["Events"].iter_rows()]
    assert events[0] == ["Events", "This quarter", "Previous quarter", "Change"]
    assert ["Attended", 0, 0, 0] in events
    page = client.get("/reports/?quarter=2025Q1")
    assert page.status_code == 200 and "A quiet quarter" in page.get_data(as_text=True)
