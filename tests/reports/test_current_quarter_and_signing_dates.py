"""The report: the current quarter counts only what has happened,
back-dated pledges count from their signing date, highlights count what they say."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from crm.events.models import Event, Participation
from crm.pledges.models import Assessment, Pledge, PledgeChange, ProgressReport
from crm.pledges.schedule import Quarter
from crm.reports.build import _end, _start, build_report
from crm.standards.models import Standard, StandardStatus


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def current_standard(db) -> Standard:
    return db.session.scalar(sa.select(Standard).where(Standard.status == StandardStatus.CURRENT))


def event_with(db, make_contact, starts_at: datetime, statuses: list[str]) -> Event:
    event = Event(name=f"Event {starts_at:%d %b}", kind="webinar", hosting="hosted",
                  starts_at=starts_at, ends_at=starts_at + timedelta(hours=1))  # fmt: skip
    db.session.add(event)
    db.session.flush()
    for status in statuses:
        db.session.add(Participation(event_id=event.id, contact_id=make_contact().id,
                                     role="attendee", status=status))  # fmt: skip
    db.session.commit()
    return event


def test_events_later_in_the_current_quarter_are_not_counted_as_held(ctx, db, make_contact):
    quarter = Quarter.of(date.today())
    now = datetime.now(UTC)
    start, end = _start(quarter), _end(quarter)
    event_with(db, make_contact, start + (now - start) / 2, ["attended"] * 3 + ["no_show"])
    # Still to come this quarter: its registrations are not no-shows.
    event_with(db, make_contact, now + (end - now) / 2, ["registered"] * 5 + ["waitlisted"])

    report = build_report(quarter)
    events = report.sections["Events"].set_index("Events")["This quarter"]
    assert events["Events held"] == 1
    assert events["Registrations"] == 4
    assert events["Attended"] == 3
    assert events["Attendance rate"] == 0.75
    assert events["Still to come this quarter"] == 1
    assert events["Registered for them"] == 5
    previous = report.sections["Events"].set_index("Events")["Previous quarter"]
    assert previous["Still to come this quarter"] is None  # nothing to compare with
    assert "1 event with 3 attendees." in report.highlights
    assert "1 more event to come this quarter, 5 people registered so far." in report.highlights
    assert report.figures["Attended"][0] == 3


def test_a_closed_quarter_has_no_events_still_to_come(ctx, db, make_contact):
    event_with(db, make_contact, at("2026-08-10T10:00"), ["attended", "registered"])
    report = build_report(Quarter(2026, 3))
    events = report.sections["Events"].set_index("Events")
    assert "Still to come this quarter" not in events.index
    assert events.loc["Events held", "This quarter"] == 1
    assert not any("to come" in line for line in report.highlights)


def test_verified_highlight_counts_organizations_not_pledges(ctx, db, make_org):
    """An organization that withdrew and pledged again has two pledges; verified on P1 in
    both reports, it is one organization."""
    standard = current_standard(db)
    principles = standard.principles
    org = make_org("Twice Pledged Ltd")
    other = make_org("Once Pledged Ltd")
    pledges = []
    for organization, status in ((org, "withdrawn"), (org, "active"), (other, "active")):
        pledge = Pledge(organization_id=organization.id, standard_id=standard.id, status=status,
                        signed_on=date(2026, 4, 1), activated_on=date(2026, 4, 2))  # fmt: skip
        db.session.add(pledge)
        db.session.flush()
        db.session.add(PledgeChange(pledge_id=pledge.id, to_status="active", at=at("2026-04-02")))
        report = ProgressReport(pledge_id=pledge.id, standard_id=standard.id, year=2026,
                                quarter=3, status="accepted", submitted_at=at("2026-09-01"))  # fmt: skip
        for principle in principles:
            level = "verified" if principle.code in ("P1", "P2") else "planning"
            report.answers.append(Assessment(principle_id=principle.id,
                                             position=principle.position, level=level))  # fmt: skip
        db.session.add(report)
        pledges.append(pledge)
    db.session.commit()

    text = " ".join(build_report(Quarter(2026, 3)).highlights)
    assert "P1 by 2 organizations" in text and "P2 by 2 organizations" in text


def test_lapsing_champions_in_the_current_quarter_are_counted_as_of_today(
    ctx, app, db, make_contact
):
    from crm.champions.models import Champion, Endorsement, Stage, StageChange, Verification
    from crm.champions.queries import months_ago

    quarter = Quarter.of(date.today())
    months = app.config["CHAMPION_LAPSING_MONTHS"]
    made_on = months_ago(date.today(), months)  # not lapsing today; lapsing by the quarter's end
    if made_on >= months_ago(quarter.last_day, months):
        import pytest

        pytest.skip("today's cutoff and the quarter end's are the same day")
    champion = Champion(contact_id=make_contact().id, stage=Stage.ACTIVE,
                        stage_since=at("2020-01-01"))  # fmt: skip
    db.session.add(champion)
    db.session.flush()
    db.session.add_all([
        StageChange(champion_id=champion.id, to_stage="active", at=at("2020-01-01")),
        Endorsement(champion_id=champion.id, kind="talk", made_on=made_on, title="Talk",
                    status=Verification.VERIFIED),
    ])  # fmt: skip
    db.session.commit()
    champions = build_report(quarter).sections["Champions"].set_index("Champions")
    assert champions.loc["Lapsing champions", "This quarter"] == 0


def standings(report, quarter_column="This quarter"):
    pledges = report.sections["Pledges"].set_index("Pledges")[quarter_column]
    live = report.sections["By organization kind"]["Live pledges"].sum()
    return int(pledges["New (signed in the quarter)"]), int(live)


def test_a_pledge_recorded_after_its_signing_date_counts_from_that_date(
    ctx, db, make_org, make_contact, make_user
):
    """Signed on the last day of last quarter, recorded today: new last quarter (not never),
    and live in this quarter's and last quarter's counts."""
    from crm.pledges.operations import lifecycle as pledge_ops

    current = Quarter.of(date.today())
    last = current.previous()
    org = make_org("Late Recorded Ltd")
    pledge = pledge_ops.create_pledge(make_user("lead"), org, current_standard(db),
                                      signatory_id=make_contact().id, signed_on=last.last_day)  # fmt: skip
    db.session.commit()
    # The pledge's history keeps when it was recorded.
    assert pledge.history[0].at.date() == datetime.now(UTC).date()

    assert standings(build_report(last)) == (1, 1)
    now, live = standings(build_report(current))
    assert (now, live) == (0, 1)
    assert standings(build_report(current), "Previous quarter")[0] == 1
    assert standings(build_report(last.previous())) == (0, 0)  # not yet signed then


def test_a_draft_signed_later_with_an_earlier_signing_date_counts_from_that_date(
    ctx, db, make_org, make_contact, make_user
):
    from crm.pledges.operations import lifecycle as pledge_ops

    current = Quarter.of(date.today())
    last = current.previous()
    lead = make_user("lead")
    org = make_org("Draft First Ltd")
    pledge = pledge_ops.create_pledge(lead, org, current_standard(db))
    db.session.commit()
    assert standings(build_report(last)) == (0, 0)  # a draft, not signed
    pledge_ops.update_details(lead, pledge, signatory_id=make_contact().id,
                              signed_on=last.first_day, listed=False)  # fmt: skip
    db.session.commit()
    assert standings(build_report(last)) == (0, 0)  # still a draft: not signed yet
    pledge_ops.transition(lead, pledge, "signed")
    db.session.commit()
    assert standings(build_report(last)) == (1, 1)


def test_imported_pledges_count_from_their_signing_date(ctx, app, db, make_org, make_user):
    from crm.contacts.models import Contact
    from crm.imports import operations

    last = Quarter.of(date.today()).previous()
    make_org("Imported Pledger Ltd")
    contact = Contact(first_name="Ina", last_name="Porter", email="ina@pledger.example")
    contact.set_search_fields()
    db.session.add(contact)
    db.session.commit()
    data = f"organization,signatory,signed_on\nImported Pledger Ltd,ina@pledger.example,{last.last_day}\n"
    actor = make_user("lead")
    with app.test_request_context():
        run = operations.start_run(actor, "pledges", "pledges.csv", data.encode())
        operations.set_mapping(run, run.mapping, "skip")
        operations.perform(actor, run)
        db.session.commit()
    assert standings(build_report(last)) == (1, 1)


def test_downloads_of_the_current_quarter_say_the_figures_are_partial(client, as_role):
    import io

    import openpyxl

    from tests.reports.test_report import pdf_strings

    as_role("viewer")
    quarter = Quarter.of(date.today())
    code = f"{quarter.year}Q{quarter.number}"
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/reports/{code}.xlsx").data))
    first = book["Highlights"]["A2"].value
    assert first.startswith("Figures so far:") and "still under way" in first
    pdf = " ".join(pdf_strings(client.get(f"/reports/{code}.pdf").data))
    assert f"{quarter.label} is still under way" in pdf
    page = client.get(f"/reports/?quarter={code}").get_data(as_text=True)
    assert "still under way" in page and "they will change" in page

    last = quarter.previous()
    code = f"{last.year}Q{last.number}"
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/reports/{code}.xlsx").data))
    assert not str(book["Highlights"]["A2"].value).startswith("Figures so far")
    assert "still under way" not in " ".join(pdf_strings(client.get(f"/reports/{code}.pdf").data))


def test_the_command_refuses_a_quarter_that_has_not_begun(runner, tmp_path):
    later = Quarter.of(date.today()).next()
    output = tmp_path / "r.pdf"
    result = runner.invoke(args=["crm", "report", "--quarter", f"{later.year}Q{later.number}",
                                 "--format", "pdf", "-o", str(output)])  # fmt: skip
    assert result.exit_code != 0 and f"{later.label} has not begun" in result.output
    assert not output.exists()


def test_the_command_writes_csv_as_a_file_a_zip_or_a_folder(runner, tmp_path):
    import zipfile

    quarter = Quarter.of(date.today())
    code = f"{quarter.year}Q{quarter.number}"
    base = ["crm", "report", "--quarter", code, "--format", "csv", "-o"]

    refused = runner.invoke(args=[*base, str(tmp_path / "x.csv")])
    assert refused.exit_code != 0 and "--section" in refused.output
    assert not (tmp_path / "x.csv").exists()  # no folder named x.csv
    one = runner.invoke(args=[*base, str(tmp_path / "x.csv"), "--section", "events"])
    assert one.exit_code == 0, one.output
    assert (tmp_path / "x.csv").is_file()
    assert "Events held" in (tmp_path / "x.csv").read_text(encoding="utf-8-sig")
    unknown = runner.invoke(args=[*base, str(tmp_path / "y.csv"), "--section", "nothing"])
    assert unknown.exit_code != 0 and "no section" in unknown.output

    archive = runner.invoke(args=[*base, str(tmp_path / "all.zip")])
    assert archive.exit_code == 0, archive.output
    names = zipfile.ZipFile(tmp_path / "all.zip").namelist()
    assert "pledges.csv" in names and "events.csv" in names
    assert "README.txt" in names  # the current quarter: figures so far
    note = zipfile.ZipFile(tmp_path / "all.zip").read("README.txt").decode()
    assert "still under way" in note

    folder = runner.invoke(args=[*base, str(tmp_path / "sections")])
    assert folder.exit_code == 0 and (tmp_path / "sections" / "pledges.csv").is_file()
    last = quarter.previous()
    closed = runner.invoke(args=["crm", "report", "--quarter", f"{last.year}Q{last.number}",
                                 "--format", "csv", "-o", str(tmp_path / "closed")])  # fmt: skip
    assert closed.exit_code == 0 and not (tmp_path / "closed" / "README.txt").exists()
    help_text = runner.invoke(args=["crm", "report", "--help"]).output
    assert ".zip" in help_text and "--section" in help_text
