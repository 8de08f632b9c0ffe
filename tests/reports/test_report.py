"""The quarterly report's figures, checked by hand on a small fixed dataset."""

from __future__ import annotations

import io
import re
import zlib
from datetime import UTC, date, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from crm.champions.models import Champion, Endorsement, Stage, StageChange, Verification
from crm.events.models import Event, Participation
from crm.pledges.models import (
    Assessment,
    Pledge,
    PledgeChange,
    ProgressReport,
)
from crm.pledges.schedule import Quarter
from crm.reports.build import build_report, parse_quarter
from crm.standards.models import Standard, StandardStatus

Q2 = Quarter(2026, 2)
Q3 = Quarter(2026, 3)  # July–September 2026


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def dataset(db, make_org, make_contact, make_user):
    """Two pledges through Q2 and Q3 2026, one champion, one event."""
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    principles = standard.principles
    brand = make_org("Brand A", kind="brand", country="DE")
    supplier = make_org("Supplier B", kind="supplier", country="BD")

    def pledge(org, signed, history, activated):
        p = Pledge(organization_id=org.id, standard_id=standard.id, status=history[-1][1],
                   signed_on=date.fromisoformat(signed), activated_on=activated, listed=True)  # fmt: skip
        db.session.add(p)
        db.session.flush()
        old = None
        for day, status in history:
            db.session.add(
                PledgeChange(pledge_id=p.id, from_status=old, to_status=status, at=at(day))
            )
            old = status
        return p

    # Brand A: signed and active in Q2, reports Q2 and Q3, verified on every principle in Q3.
    a = pledge(brand, "2026-04-10", [("2026-04-10", "signed"), ("2026-04-20", "active"),
                                     ("2026-09-20", "adopted")], date(2026, 4, 20))  # fmt: skip
    # Supplier B: signed in Q3, active in Q3, no report yet (Q3 report due 30 October).
    pledge(supplier, "2026-08-01", [("2026-08-01", "signed"), ("2026-08-05", "active")],
           date(2026, 8, 5))  # fmt: skip

    def report(p, year, quarter, submitted, levels):
        r = ProgressReport(pledge_id=p.id, standard_id=standard.id, year=year, quarter=quarter,
                           status="accepted", submitted_at=at(submitted))  # fmt: skip
        for principle, level in zip(principles, levels, strict=True):
            r.answers.append(Assessment(principle_id=principle.id, position=principle.position,
                                        level=level))  # fmt: skip
        db.session.add(r)

    report(a, 2026, 2, "2026-07-15", ["planning"] * 4 + ["implemented"] * 4)
    report(a, 2026, 3, "2026-09-15", ["verified"] * 8)

    contact = make_contact()
    champion = Champion(contact_id=contact.id, stage=Stage.ACTIVE, stage_since=at("2026-07-02"))
    db.session.add(champion)
    db.session.flush()
    db.session.add_all([
        StageChange(champion_id=champion.id, from_stage=None, to_stage="identified", at=at("2026-07-01")),
        StageChange(champion_id=champion.id, from_stage="identified", to_stage="active",
                    at=at("2026-07-02")),
        Endorsement(champion_id=champion.id, kind="talk", made_on=date(2026, 8, 1), title="Talk",
                    audience_reach=300, status=Verification.VERIFIED),
        Endorsement(champion_id=champion.id, kind="post", made_on=date(2026, 8, 2), title="Post",
                    audience_reach=999, status=Verification.PENDING),
    ])  # fmt: skip
    event = Event(name="Roundtable", kind="roundtable", hosting="hosted",
                  starts_at=at("2026-09-10T09:00"), ends_at=at("2026-09-10T12:00"))  # fmt: skip
    db.session.add(event)
    db.session.flush()
    for status in ["attended", "attended", "no_show", "cancelled"]:
        db.session.add(Participation(event_id=event.id, contact_id=make_contact().id,
                                     role="attendee", status=status))  # fmt: skip
    db.session.commit()


def rows(frame, key_column):
    return frame.set_index(key_column)


def test_parse_quarter():
    assert parse_quarter("2026Q3") == Q3 == parse_quarter("2026-q3") == parse_quarter("Q3 2026")
    with pytest.raises(ValueError, match="write it like 2026Q3"):
        parse_quarter("summer")


def test_pledge_figures_as_of_the_quarter_end(ctx, dataset):
    report = build_report(Q3)
    pledges = rows(report.sections["Pledges"], "Pledges")
    assert pledges.loc["New (signed in the quarter)"].tolist() == [1, 1, 0]  # Q3: B; Q2: A
    assert pledges.loc["Active"].tolist() == [1, 1, 0]  # B now; A before
    assert pledges.loc["Adopted"].tolist() == [1, 0, 1]
    assert pledges.loc["Non-reporting"].tolist() == [0, 0, 0]
    assert report.figures["Adopted"] == (1, 0)


def test_maturity_by_principle_and_its_change(ctx, dataset):
    report = build_report(Q3)
    maturity = rows(report.sections["Maturity by principle"], "Principle")
    # Q3: A's Q3 report, all verified (4). Before (end of Q2): A's Q2 report was filed on
    # 15 July, after the quarter ended, so nothing was known at the end of Q2.
    assert maturity.loc["P1", "Verified"] == 1 and maturity.loc["P1", "Average (0–4)"] == 4.0
    assert maturity.loc["P1", "Previous average"] is None or str(
        maturity.loc["P1", "Previous average"]
    ) in ("None", "nan")
    kinds = rows(report.sections["By organization kind"], "Organization kind")
    assert kinds.loc["Brand / retailer", "Adopted"] == 1
    assert kinds.loc["Supplier", "Live pledges"] == 1
    countries = rows(report.sections["By country"], "Country")
    assert set(countries.index) == {"Germany", "Bangladesh"}
    regions = rows(report.sections["By region"], "Region")
    assert set(regions.index) == {"Europe", "South Asia"}


def test_champions_events_and_highlights(ctx, dataset):
    report = build_report(Q3)
    champions = rows(report.sections["Champions"], "Champions")
    assert champions.loc["New champions", "This quarter"] == 1
    assert champions.loc["Active champions", "This quarter"] == 1
    assert champions.loc["Verified endorsements", "This quarter"] == 1  # the pending one not
    assert champions.loc["Endorsement reach", "This quarter"] == 300
    events = rows(report.sections["Events"], "Events")
    assert events.loc["Events held", "This quarter"] == 1
    assert events.loc["Registrations", "This quarter"] == 3  # the cancellation not
    assert events.loc["Attended", "This quarter"] == 2
    assert events.loc["Attendance rate", "This quarter"] == pytest.approx(0.667, abs=0.001)
    text = " ".join(report.highlights)
    assert "1 organization pledged" in text and "1 pledge reached full adoption" in text
    assert "Reached “verified” this quarter: P1 by 1 organization" in text


def test_an_empty_quarter(ctx, dataset):
    report = build_report(Quarter(2020, 1))
    assert report.sections["Pledges"]["This quarter"].sum() == 0
    assert report.highlights == ["A quiet quarter: no pledges, endorsements or events recorded."]


def test_the_report_page_and_downloads(client, as_role, dataset):
    as_role("viewer")
    page = client.get("/reports/?quarter=2026Q3").get_data(as_text=True)
    assert "Adoption report, Q3 2026" in page and "Maturity by principle" in page
    response = client.get("/reports/2026Q3.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:3] == ["Highlights", "Pledges", "Maturity by principle"]
    csv = client.get("/reports/2026Q3/events.csv").data.decode("utf-8-sig")
    assert "Attended,2,0,2" in csv
    pdf = client.get("/reports/2026Q3.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/reports/2026Q3/nothing.csv").status_code == 404
    assert client.get("/reports/summer.xlsx").status_code == 404
    response = client.get("/reports/?quarter=summer", follow_redirects=True)
    assert "write it like 2026Q3" in response.get_data(as_text=True)


def test_report_command(runner, dataset, tmp_path):
    result = runner.invoke(
        args=[
            "crm",
            "report",
            "--quarter",
            "2026Q3",
            "--format",
            "xlsx",
            "-o",
            str(tmp_path / "r.xlsx"),
        ]
    )
    assert result.exit_code == 0 and (tmp_path / "r.xlsx").stat().st_size > 0
    result = runner.invoke(
        args=[
            "crm",
            "report",
            "--quarter",
            "2026Q3",
            "--format",
            "csv",
            "-o",
            str(tmp_path / "csv"),
        ]
    )
    assert (tmp_path / "csv" / "pledges.csv").is_file()
    result = runner.invoke(
        args=[
            "crm",
            "report",
            "--quarter",
            "2026Q3",
            "--format",
            "html",
            "-o",
            str(tmp_path / "r.html"),
        ]
    )
    assert result.exit_code == 0 and "adoption report" in (tmp_path / "r.html").read_text()
    bad = runner.invoke(args=["crm", "report", "--quarter", "later", "-o", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "write it like 2026Q3" in bad.output


def test_the_library_section_counts_new_case_studies(ctx, dataset, db):
    from crm.library.models import CaseStudy
    from crm.standards.models import Principle

    p5 = db.session.scalar(sa.select(Principle).where(Principle.code == "P5"))
    for outcome, status in (
        ("worked", "published"),
        ("failed", "published"),
        ("worked", "submitted"),
    ):
        published = at("2026-08-15") if status == "published" else None
        case = CaseStudy(title="Case", technology="app", outcome=outcome, what_happened="x",
                         lessons="y", status=status, created_at=at("2026-08-15"),
                         first_published_at=published)  # fmt: skip
        case.principles = [p5]
        db.session.add(case)
    db.session.commit()
    report = build_report(Q3)
    library = report.sections["Learning library"].set_index("Principle")
    assert library.loc["P5", "Worked"] == 1 and library.loc["P5", "Did not work"] == 1
    assert "2 case studies added to the learning library." in report.highlights


def test_a_case_study_counts_in_the_quarter_it_was_first_published_for_good(
    ctx, dataset, db, make_user
):
    """Submitted in Q2, published in Q3: it is Q3's. Sent back to review after a contributor's
    edit in Q4, it stays in Q3's report."""
    from crm.library import operations as library
    from crm.library.models import CaseStudy
    from crm.standards.models import Principle

    lead = make_user("lead")
    p5 = db.session.scalar(sa.select(Principle).where(Principle.code == "P5"))
    case = CaseStudy(title="Helpline", technology="helpline", outcome="worked",
                     what_happened="x", lessons="y", status="submitted",
                     created_at=at("2026-06-20"))  # fmt: skip
    case.principles = [p5]
    db.session.add(case)
    db.session.commit()
    assert build_report(Q2).sections["Learning library"].empty
    library.publish(lead, case)
    case.first_published_at = at("2026-08-01")  # as if the lead published it then
    db.session.commit()
    case.status = "submitted"  # a contributor's later edit sends it back to review
    db.session.commit()
    q2 = build_report(Q2).sections["Learning library"]
    q3 = build_report(Q3).sections["Learning library"].set_index("Principle")
    assert q2.empty
    assert q3.loc["P5", "Worked"] == 1 and q3.loc["All case studies", "This quarter"] == 1
    # Published once: publishing again after the review keeps the first date.
    library.publish(lead, case)
    assert case.first_published_at == at("2026-08-01")


def test_the_library_table_names_every_case_study_and_compares_quarters(ctx, dataset, db):
    from crm.library.models import CaseStudy
    from crm.standards.models import Principle

    p2, p5 = (
        db.session.scalar(sa.select(Principle).where(Principle.code == code))
        for code in ("P2", "P5")
    )

    def case(outcome, principles, when):
        item = CaseStudy(title="Case", technology="app", outcome=outcome, what_happened="x",
                         lessons="y", status="published", first_published_at=at(when))  # fmt: skip
        item.principles = principles
        db.session.add(item)

    case("worked", [p5], "2026-05-10")  # the quarter before
    case("worked", [p5], "2026-05-11")
    case("mixed", [p2, p5], "2026-08-01")
    case("failed", [], "2026-08-02")  # no principle named
    db.session.commit()
    library = build_report(Q3).sections["Learning library"]
    assert list(library["Principle"]) == ["P2", "P5", "No principle named", "All case studies"]
    rows = library.set_index("Principle")
    assert rows.loc["P5", "This quarter"] == 1 and rows.loc["P5", "Previous quarter"] == 2
    assert rows.loc["P5", "Change"] == -1
    assert rows.loc["No principle named", "Did not work"] == 1
    totals = rows.loc["All case studies"]
    assert (totals["Mixed"], totals["Did not work"], totals["This quarter"]) == (1, 1, 2)
    assert totals["Previous quarter"] == 2


def test_an_organization_without_a_country_counts_as_unknown(
    client, as_role, dataset, db, make_org
):
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    somewhere = make_org("Nowhere Co", kind="ngo")  # no country recorded
    pledge = Pledge(organization_id=somewhere.id, standard_id=standard.id, status="active",
                    signed_on=date(2026, 8, 1), activated_on=date(2026, 8, 2), listed=False)  # fmt: skip
    db.session.add(pledge)
    db.session.flush()
    db.session.add(
        PledgeChange(pledge_id=pledge.id, from_status=None, to_status="active", at=at("2026-08-02"))
    )
    db.session.commit()
    as_role("viewer")
    assert client.get("/reports/?quarter=2026Q3").status_code == 200
    for section in ("by-country", "by-region"):
        csv = client.get(f"/reports/2026Q3/{section}.csv").data.decode("utf-8-sig")
        assert "Unknown,1,0," in csv  # live, not adopted, no report yet


# --- how the figures read (rates as percentages, averages to two decimals, signed changes) ----


@pytest.fixture
def campaign_q3(db, dataset):
    """One campaign finished in Q3: 10 sent, 9 delivered, 3 opened, 1 clicked. None in Q2."""
    from crm.campaigns.models import Campaign, DeliveryEvent, OutboxMessage

    campaign = Campaign(name="News", purpose="newsletter", sender_name="WEST",
                        sender_email="team@example.org", subject="News", body="Hello",
                        status="sent", finished_at=at("2026-09-01T10:00"))  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    for i in range(10):
        message = OutboxMessage(campaign_id=campaign.id, email=f"r{i}@example.org",
                                message_key=f"q3-{i:028d}", status="sent",
                                sent_at=at("2026-09-01T09:00"))  # fmt: skip
        db.session.add(message)
        db.session.flush()
        kinds = ["delivered"] * (i < 9) + ["open"] * (i < 3) + ["click"] * (i < 1)
        for kind in kinds:
            db.session.add(DeliveryEvent(sg_event_id=f"q3-{i}-{kind}", message_id=message.id,
                                         campaign_id=campaign.id, email=message.email,
                                         kind=kind, at=at("2026-09-01T09:30")))  # fmt: skip
    db.session.commit()


def section_rows(page: str, section: str) -> dict[str, list[str]]:
    """A section's table on the page: each row's cells after the first, by the first."""
    html = page.split(f'id="section-{section}"', 1)[1].split("</table>", 1)[0]
    body = html.split("<tbody>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        first, *cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[first] = cells
    return rows


def pdf_strings(data: bytes) -> list[str]:
    """The text the PDF draws, string by string (fpdf2 writes `(text) Tj` in deflated
    streams)."""
    found = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        found += [s.decode("latin-1") for s in re.findall(rb"\((.*?)\) Tj", content)]
    return found


def test_the_page_shows_rates_as_percentages_and_averages_to_two_decimals(
    client, as_role, campaign_q3
):
    as_role("viewer")
    page = client.get("/reports/?quarter=2026Q3").get_data(as_text=True)
    campaigns = section_rows(page, "campaigns")
    # This quarter, the quarter before (nothing sent: no rate), the change.
    assert campaigns["Delivery rate"] == ["90%", "—", "—"]
    assert campaigns["Open rate"] == ["33%", "—", "—"]
    assert campaigns["Click rate"] == ["11%", "—", "—"]
    assert campaigns["Messages sent"] == ["10", "0", "+10"]
    assert section_rows(page, "events")["Attendance rate"] == ["67%", "—", "—"]
    maturity = section_rows(page, "maturity-by-principle")
    # All verified: an average of 4, shown as 4.00 like every other average; none before.
    assert maturity["P1"][-3:] == ["4.00", "—", "—"]
    assert section_rows(page, "by-organization-kind")["Brand / retailer"] == ["1", "1", "4.00"]
    pledges = section_rows(page, "pledges")
    assert pledges["Adopted"] == ["1", "0", "+1"]
    assert pledges["Active"] == ["1", "1", "0"]
    # The key figures: a signed change, and "same" rather than "0".
    figures = page.split('id="report-figures"', 1)[1].split('id="highlights"', 1)[0]
    assert "+1 on last quarter" in figures and "Same as last quarter" in figures
    assert ">None<" not in page and ">nan<" not in page


def test_rate_changes_are_in_percentage_points(client, as_role, campaign_q3, db):
    from crm.campaigns.models import Campaign, DeliveryEvent, OutboxMessage

    # Q4: 4 sent, all delivered, 1 opened: 100% and 25% against Q3's 90% and 33%.
    campaign = Campaign(name="More news", purpose="newsletter", sender_name="WEST",
                        sender_email="team@example.org", subject="News", body="Hello",
                        status="sent", finished_at=at("2026-11-02T10:00"))  # fmt: skip
    db.session.add(campaign)
    db.session.flush()
    for i in range(4):
        message = OutboxMessage(campaign_id=campaign.id, email=f"s{i}@example.org",
                                message_key=f"q4-{i:028d}", status="sent")  # fmt: skip
        db.session.add(message)
        db.session.flush()
        for kind in ["delivered"] + ["open"] * (i < 1):
            db.session.add(DeliveryEvent(sg_event_id=f"q4-{i}-{kind}", message_id=message.id,
                                         campaign_id=campaign.id, email=message.email,
                                         kind=kind, at=at("2026-11-02T09:30")))  # fmt: skip
    db.session.commit()
    as_role("viewer")
    page = client.get("/reports/?quarter=2026Q4").get_data(as_text=True)
    campaigns = section_rows(page, "campaigns")
    assert campaigns["Delivery rate"] == ["100%", "90%", "+10 pts"]
    assert campaigns["Open rate"] == ["25%", "33%", "\u22128 pts"]
    assert campaigns["Click rate"] == ["0%", "11%", "\u221211 pts"]
    assert campaigns["Campaigns sent"] == ["1", "1", "0"]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/2026Q4.xlsx").data))
    opened = next(r for r in book["Campaigns"].iter_rows() if r[0].value == "Open rate")
    assert opened[1].value == pytest.approx(0.25) and opened[1].number_format == "0%"
    # The change is held in percentage points and says so.
    assert opened[3].value == pytest.approx(-8.3) and "pts" in opened[3].number_format


def test_the_xlsx_keeps_numbers_with_number_formats(client, as_role, campaign_q3):
    as_role("viewer")
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/2026Q3.xlsx").data))
    campaigns = {row[0].value: row[1:] for row in book["Campaigns"].iter_rows(min_row=2)}
    opened = campaigns["Open rate"]
    assert opened[0].value == pytest.approx(0.333) and opened[0].number_format == "0%"
    assert opened[1].value is None and opened[2].value is None  # nothing sent in Q2
    assert campaigns["Delivery rate"][0].number_format == "0%"
    assert campaigns["Messages sent"][0].value == 10
    assert campaigns["Messages sent"][0].number_format == "#,##0"
    assert campaigns["Messages sent"][2].number_format.startswith("+")  # a signed change
    events = {row[0].value: row[1:] for row in book["Events"].iter_rows(min_row=2)}
    assert events["Attendance rate"][0].number_format == "0%"
    maturity = {row[0].value: row[1:] for row in book["Maturity by principle"].iter_rows(min_row=2)}
    average = maturity["P1"][5]  # Average (0–4)
    assert average.value == 4 and average.number_format == "0.00"
    kinds = {row[0].value: row[1:] for row in book["By organization kind"].iter_rows(min_row=2)}
    assert kinds["Brand / retailer"][2].number_format == "0.00"


def test_the_csv_gives_rates_in_percent_and_says_so(client, as_role, campaign_q3):
    as_role("viewer")
    campaigns = client.get("/reports/2026Q3/campaigns.csv").data.decode("utf-8-sig")
    lines = campaigns.splitlines()
    assert "Delivery rate (%),90.0,," in lines
    assert "Open rate (%),33.3,," in lines
    assert "Click rate (%),11.1,," in lines
    assert "Messages sent,10,0,10" in lines  # counts stay whole numbers
    events = client.get("/reports/2026Q3/events.csv").data.decode("utf-8-sig")
    assert "Attendance rate (%),66.7,," in events.splitlines()


def test_the_pdf_reads_like_the_page(client, as_role, campaign_q3):
    as_role("viewer")
    strings = pdf_strings(client.get("/reports/2026Q3.pdf").data)
    assert "33%" in strings and "90%" in strings and "67%" in strings
    assert "0.33" not in strings and "0.333" not in strings
    # P1's row: the pledges per level, then its average always to two decimals, none before.
    p1 = strings.index("P1")
    assert strings[p1 + 1 : p1 + 9] == ["0", "0", "0", "0", "1", "4.00", "-", "-"]
    adopted = strings.index("Adopted")
    assert strings[adopted + 1 : adopted + 4] == ["1", "0", "+1"]  # changes signed


def test_an_empty_quarter_has_no_made_up_rates_and_no_empty_chart(client, as_role, dataset):
    as_role("viewer")
    page = client.get("/reports/?quarter=2020Q1").get_data(as_text=True)
    assert section_rows(page, "campaigns")["Open rate"] == ["—", "—", "—"]
    assert section_rows(page, "events")["Attendance rate"] == ["—", "—", "—"]
    assert "maturity-chart-data" not in page  # no chart of nothing
    # The quarter asked for is the one the menu shows, even when older than the list.
    assert re.search(r'<option value="2020Q1"\s+selected', page)


def test_highlights_count_in_the_singular_and_plural(ctx, dataset):
    lines = build_report(Q3).highlights
    # One verified endorsement (the pending one does not count), one event, two attendees.
    assert "Champions made 1 verified endorsement reaching 300 people." in lines
    assert "1 event with 2 attendees." in lines


def test_the_dashboard_figures_carry_their_sign(client, as_role, db, make_contact):
    """The home page's key figures against last quarter: "(−2)", "(+1)", "(no change)"."""
    from datetime import timedelta

    this = Quarter.of(date.today())
    last = this.previous()

    def event(day: date, attended: int) -> None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        e = Event(name=f"Event {day}", kind="workshop", hosting="hosted", starts_at=start,
                  ends_at=start + timedelta(hours=2))  # fmt: skip
        db.session.add(e)
        db.session.flush()
        for _ in range(attended):
            db.session.add(Participation(event_id=e.id, contact_id=make_contact().id,
                                         role="attendee", status="attended"))  # fmt: skip

    event(last.first_day + timedelta(days=2), attended=3)
    event(this.first_day, attended=1)
    db.session.commit()
    as_role("lead")
    page = client.get("/").get_data(as_text=True)
    card = page.split('id="dashboard-quarter"', 1)[1].split('<div class="row', 1)[0]
    changes = dict(
        re.findall(r"<div class=\"small text-muted\">([^<]*?) <span[^>]*>\(([^)]*)\)", card)
    )
    assert changes["Attended"] == "\u22122"
    assert changes["Active pledges"] == "no change"


def test_a_quarter_not_yet_begun_is_refused_and_the_current_one_says_it_is_under_way(
    client, as_role
):
    as_role("viewer")
    current = Quarter.of(date.today())
    ahead = current.next().next()
    code = f"{ahead.year}Q{ahead.number}"
    response = client.get(f"/reports/?quarter={code}", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"{ahead.label} has not begun" in page
    assert f"Adoption report, {current.label}" in page
    assert "is still under way" in page and "as they stood at the quarter's end" not in page
    assert client.get(f"/reports/{code}.xlsx").status_code == 404
    assert client.get(f"/reports/{code}/pledges.csv").status_code == 404
    finished = current.previous()
    page = client.get(f"/reports/?quarter={finished.year}Q{finished.number}").get_data(as_text=True)
    assert "as they stood at the quarter's end" in page and "still under way" not in page


def test_a_stored_report_reads_as_the_one_built_in_the_request(
    app, client, as_role, campaign_q3, db, monkeypatch
):
    """The job's stored report: the page shows the same text (rates as percentages, signed
    changes) from its pre-shaped page, without rebuilding frames; the downloads keep each
    figure's number format."""
    from crm.reports import stored

    as_role("viewer")
    built = client.get("/reports/?quarter=2026Q3").get_data(as_text=True)
    with app.test_request_context():
        stored.rebuild(Quarter(2026, 3))
        db.session.commit()

    def no_frames(value):
        raise AssertionError("the page rebuilt the report's frames")

    with monkeypatch.context() as patched:
        patched.setattr(stored, "decode", no_frames)
        page = client.get("/reports/?quarter=2026Q3").get_data(as_text=True)
    assert 'id="report-built-at"' in page  # the stored one
    for section in ("campaigns", "events", "maturity-by-principle", "pledges"):
        assert section_rows(page, section) == section_rows(built, section)
    assert section_rows(page, "campaigns")["Open rate"] == ["33%", "—", "—"]
    figures = page.split('id="report-figures"', 1)[1].split('id="highlights"', 1)[0]
    assert "+1 on last quarter" in figures and "Same as last quarter" in figures
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/2026Q3.xlsx").data))
    opened = next(r for r in book["Campaigns"].iter_rows() if r[0].value == "Open rate")
    assert opened[1].value == pytest.approx(0.333) and opened[1].number_format == "0%"
    csv = client.get("/reports/2026Q3/campaigns.csv").data.decode("utf-8-sig")
    assert "Open rate (%)" in csv
