"""The pledge pages: public form, confirmation and invitation, representatives' reports and
what they may see, the lead's views, the public directory, and reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.auth.models import Role, User
from crm.contacts.models import Contact
from crm.organizations.models import Organization
from crm.pledges.models import (
    Pledge,
    PledgeReminder,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
)
from crm.pledges.operations import progress_reports as report_ops
from crm.pledges.schedule import Quarter


def count(db, model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def pledge_form(**overrides):
    data = {
        "organization": "Harbour Textiles",
        "kind": "supplier",
        "country": "BD",
        "website": "harbour.example.org",
        "first_name": "Rashida",
        "last_name": "Begum",
        "title": "Head of Compliance",
        "email": "rashida@harbour.example.org",
        "listed": "y",
        "confirm": "y",
        "website_url": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_a_public_pledge_arrives_signed_awaiting_confirmation(client, db):
    page = client.get("/pledge/")
    assert page.status_code == 200 and "P8" in page.get_data(as_text=True)
    response = client.post("/pledge/", data=pledge_form())
    assert response.status_code == 302
    assert "your pledge is received" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    pledge = db.session.scalar(sa.select(Pledge))
    assert pledge.status is PledgeStatus.SIGNED and pledge.source == "public form"
    assert pledge.signed_on == date.today() and pledge.listed
    assert pledge.organization.name == "Harbour Textiles"
    assert pledge.organization.kind.value == "supplier"
    assert pledge.signatory.email == "rashida@harbour.example.org"
    assert pledge.signatory.organization_id == pledge.organization_id
    assert count(db, User) == 0  # no account before a lead confirms


def test_a_duplicate_public_pledge_changes_nothing_and_says_so(client, db):
    client.post("/pledge/", data=pledge_form())
    response = client.post(
        "/pledge/", data=pledge_form(organization="harbour  TEXTILES", email="other@example.org")
    )
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "already pledged" in text and "nothing was changed" in text
    assert count(db, Pledge) == 1 and count(db, Contact) == 1 and count(db, Organization) == 1


def test_a_public_pledge_never_overwrites_what_the_team_recorded(
    client, make_org, make_contact, db
):
    org = make_org("Harbour Textiles", kind="brand", country="GB", website="https://a.example")
    contact = make_contact(
        "Rashida", "Ahmed", email="rashida@harbour.example.org", title="CEO", organization_id=None
    )
    client.post("/pledge/", data=pledge_form(first_name="R", last_name="B", title="Intern"))
    db.session.refresh(org)
    db.session.refresh(contact)
    assert (org.kind.value, org.country, org.website) == ("brand", "GB", "https://a.example")
    assert (contact.first_name, contact.last_name, contact.title) == ("Rashida", "Ahmed", "CEO")
    pledge = db.session.scalar(sa.select(Pledge))
    assert pledge.organization_id == org.id and pledge.signatory_id == contact.id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"email": "nope"}, "That is not an email address."),
        ({"organization": ""}, "This field is required."),
        ({"confirm": ""}, "Please confirm you can sign for the organization."),
        ({"country": "Atlantis"}, "is not a country we know"),
        ({"website": "not a site"}, "is not a website address"),
        ({"kind": "cartel"}, "Not a valid choice."),
    ],
)
def test_bad_public_pledges_are_refused(client, db, overrides, message):
    response = client.post("/pledge/", data=pledge_form(**overrides))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert message in text and "Nothing was sent yet" in text
    assert count(db, Pledge) == 0 and count(db, Organization) == 0 and count(db, Contact) == 0


def test_forged_bots_and_floods_on_the_pledge_form(app, client, db):
    response = client.post("/pledge/", data=pledge_form(website_url="http://spam.example"))
    assert response.status_code == 302 and count(db, Pledge) == 0
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/pledge/", data=pledge_form()).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert count(db, Pledge) == 0
    app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 2
    try:
        for n in range(2):
            response = client.post(
                "/pledge/", data=pledge_form(organization=f"Org {n}", email=f"p{n}@example.org")
            )
            assert response.status_code == 302
        response = client.post("/pledge/", data=pledge_form(organization="Org 9"))
        assert response.status_code == 422
        assert "Too many submissions" in response.get_data(as_text=True)
    finally:
        app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 20
    assert count(db, Pledge) == 2


def test_a_lead_confirms_and_the_representative_is_invited(client, as_role, db, outbox):
    client.post("/pledge/", data=pledge_form())
    pledge = db.session.scalar(sa.select(Pledge))
    as_role("lead")
    response = client.post(
        f"/pledges/{pledge.id}/status", data={"to": "active", "version": pledge.version}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is invited to file progress reports" in page
    db.session.refresh(pledge)
    assert pledge.status is PledgeStatus.ACTIVE and pledge.activated_on == date.today()
    rep = db.session.scalar(sa.select(User).where(User.email == "rashida@harbour.example.org"))
    assert rep.role is Role.ORG_REP and rep.organization_id == pledge.organization_id
    (mail,) = outbox()
    assert mail["To"] == "rashida@harbour.example.org" and "/invitation/" in mail.get_content()


def test_confirming_leaves_an_existing_account_as_it_is(client, as_role, make_user, db, outbox):
    client.post("/pledge/", data=pledge_form())
    existing = make_user("volunteer", email="rashida@harbour.example.org")
    pledge = db.session.scalar(sa.select(Pledge))
    as_role("lead")
    client.post(f"/pledges/{pledge.id}/status", data={"to": "active"})
    db.session.refresh(existing)
    assert existing.role is Role.VOLUNTEER and existing.organization_id is None
    assert outbox() == []


def test_withdrawing_needs_a_reason_on_the_page(client, as_role, make_pledge, db):
    as_role("lead")
    pledge = make_pledge("active")
    response = client.post(f"/pledges/{pledge.id}/status", data={"to": "withdrawn", "reason": ""})
    assert "The reason is required." in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    db.session.refresh(pledge)
    assert pledge.status is PledgeStatus.ACTIVE


def test_a_representative_files_a_report_draft_then_submits(
    client, login, rep_for, make_pledge, db
):
    pledge = make_pledge("active")
    login(rep_for(pledge))
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Start a progress report" in home
    quarter = Quarter.of(pledge.activated_on)
    response = client.post(
        f"/me/pledge/{pledge.id}/reports", data={"quarter": f"{quarter.year}-{quarter.number}"}
    )
    report = db.session.scalar(sa.select(ProgressReport))
    assert response.headers["Location"].endswith(f"/me/pledge/reports/{report.id}")
    p1 = report.answers[0].principle_id
    # A bad link: refused, what was typed is kept, nothing saved.
    response = client.post(
        f"/me/pledge/reports/{report.id}",
        data={
            "action": "save",
            f"level_{p1}": "planning",
            f"evidence_{p1}": "our intranet",
            f"comment_{p1}": "Kept as typed",
            "version": report.version,
        },  # fmt: skip
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "is not a web address" in text and "Kept as typed" in text
    db.session.refresh(report)
    assert report.answers[0].comment is None
    # Saved as a draft, finished later.
    client.post(
        f"/me/pledge/reports/{report.id}",
        data={
            "action": "save",
            f"level_{p1}": "planning",
            f"comment_{p1}": "Started",
            "version": report.version,
        },  # fmt: skip
    )
    db.session.refresh(report)
    assert report.status is ReportStatus.DRAFT and report.answers[0].comment == "Started"
    client.post(
        f"/me/pledge/reports/{report.id}",
        data={"action": "submit", f"level_{p1}": "implementing", "version": report.version},
    )
    db.session.refresh(report)
    assert report.status is ReportStatus.SUBMITTED
    # Read-only now.
    response = client.post(
        f"/me/pledge/reports/{report.id}",
        data={"action": "save", f"level_{p1}": "verified", "version": report.version},
    )
    assert response.status_code == 422
    db.session.refresh(report)
    assert report.answers[0].level.value == "implementing"


def test_a_representative_sees_only_their_own_organization(client, login, rep_for, make_pledge, db):
    mine = make_pledge("active")
    theirs = make_pledge("active")
    report = report_ops.start_report(None, theirs, Quarter.of(theirs.activated_on))
    db.session.commit()
    login(rep_for(mine))
    page = client.get("/me/pledge/").get_data(as_text=True)
    assert mine.organization.name in page and theirs.organization.name not in page
    quarter = Quarter.of(theirs.activated_on)
    for method, url, data in [
        ("get", f"/me/pledge/reports/{report.id}", None),
        ("post", f"/me/pledge/reports/{report.id}", {"action": "submit"}),
        ("post", f"/me/pledge/reports/{report.id}/delete", None),
        ("post", f"/me/pledge/reports/{report.id}/correct", None),
        (
            "post",
            f"/me/pledge/{theirs.id}/reports",
            {"quarter": f"{quarter.year}-{quarter.number}"},
        ),
    ]:
        response = getattr(client, method)(url, data=data) if data else getattr(client, method)(url)
        assert response.status_code == 404, url
    db.session.refresh(report)
    assert report.status is ReportStatus.DRAFT
    for url in (f"/pledges/{theirs.id}", f"/pledges/{mine.id}", "/pledges/", "/contacts/",
                f"/pledges/reports/{report.id}", "/organizations/"):  # fmt: skip
        assert client.get(url).status_code == 403, url


def test_lead_views_funnel_overdue_and_progress(client, as_role, make_pledge, make_user, db):
    lead = as_role("lead")
    late = make_pledge("active", activated_on=date.today() - timedelta(days=200))
    on_time = make_pledge("active")
    make_pledge("signed")
    report = report_ops.start_report(None, on_time, Quarter.of(on_time.activated_on))
    report_ops.submit_report(
        None, report, {report.answers[0].principle_id: report_ops.Answer("verified")}
    )
    report_ops.accept_report(lead, report)
    db.session.commit()
    page = client.get("/pledges/").get_data(as_text=True)
    assert "Reports overdue (1)" in page and late.organization.name in page
    assert client.get("/pledges/?standing=signed").status_code == 200
    progress = client.get("/pledges/progress").get_data(as_text=True)
    assert "P1" in progress and "principle-chart-data" in progress
    detail = client.get(f"/pledges/{on_time.id}").get_data(as_text=True)
    assert "progress-chart-data" in detail
    org_page = client.get(f"/organizations/{late.organization_id}").get_data(as_text=True)
    assert "Confirmed by the team" in org_page  # the pledge on the organization's timeline


def test_the_public_directory_lists_consenting_signatories(client, make_pledge, make_org, db):
    listed = make_pledge("active", org=make_org("Listed Co", country="BD", kind="supplier"),
                         listed=True)  # fmt: skip
    make_pledge("active", org=make_org("Private Co", country="BD"), listed=False)
    make_pledge("signed", org=make_org("Unconfirmed Co"), listed=True)
    make_pledge("active", org=make_org("Quiet Co"), listed=True,
                activated_on=date.today() - timedelta(days=400))  # lapsed  # fmt: skip
    page = client.get("/pledge/directory").get_data(as_text=True)
    assert "Listed Co" in page
    for hidden in ("Private Co", "Unconfirmed Co", "Quiet Co"):
        assert hidden not in page
    data = client.get("/pledge/directory.json?country=bd&kind=supplier").json
    assert data == {
        "signatories": [
            {
                "organization": "Listed Co",
                "kind": "supplier",
                "country": "BD",
                "standard_version": "1.0",
                "status": "active",
                "signed_on": listed.signed_on.isoformat(),
            }
        ]
    }
    assert client.get("/pledge/directory.json?kind=ngo").json == {"signatories": []}


def test_reminders_go_once_before_the_due_date_and_once_when_overdue(
    app, make_pledge, rep_for, db, outbox
):
    from crm.pledges.reminders import queue_reminders

    pledge = make_pledge("active", activated_on=date(2026, 11, 20))
    rep = rep_for(pledge, email="rep@harbour.example.org")
    due = date(2027, 1, 30)  # the Q4 2026 report
    before = app.config["PLEDGE_REMIND_DAYS_BEFORE"]

    def run(today: date) -> tuple[int, list[str]]:
        with app.test_request_context():
            result = queue_reminders(today)
            db.session.commit()
        return result

    assert run(due - timedelta(days=before + 1)) == (0, [])
    assert run(due - timedelta(days=before)) == (1, [])
    assert run(due - timedelta(days=2)) == (0, [])  # once only
    assert run(due + timedelta(days=1)) == (1, [])  # now overdue
    assert run(due + timedelta(days=20)) == (0, [])  # once only
    mails = outbox()
    assert [m["To"] for m in mails] == [rep.email, rep.email]
    assert "Due 30 January" in mails[0]["Subject"] and "Q4 2026" in mails[0]["Subject"]
    assert mails[1]["Subject"].startswith("Overdue")
    assert count(db, PledgeReminder) == 2


def test_a_reminder_and_its_email_are_kept_or_dropped_together(
    app, make_pledge, rep_for, db, outbox
):
    """A run that does not commit records nothing and queues nothing, so the next one sends
    the reminder; one that commits has recorded it and queued its email, once."""
    from crm.core.jobs import Job
    from crm.pledges.reminders import queue_reminders

    pledge = make_pledge("active", activated_on=date(2026, 11, 20))
    rep_for(pledge)
    with app.test_request_context():
        assert queue_reminders(date(2027, 2, 1)) == (1, [])
        db.session.rollback()  # the run failed before its commit
    assert count(db, PledgeReminder) == 0 and count(db, Job, Job.kind == "mail.send") == 0
    with app.test_request_context():
        assert queue_reminders(date(2027, 2, 1)) == (1, [])
        db.session.commit()
    assert count(db, PledgeReminder) == 1 and count(db, Job, Job.kind == "mail.send") == 1
    assert [m["Subject"][:7] for m in outbox()] == ["Overdue"]


def test_remind_command(app, runner, make_pledge, rep_for, db, outbox):
    pledge = make_pledge("active", activated_on=date(2026, 11, 20))
    rep = rep_for(pledge)
    result = runner.invoke(args=["crm", "pledges", "remind", "--today", "2027-02-01"])
    assert result.exit_code == 0, result.output
    assert "1 reminder queued; a worker sends it." in result.output
    result = runner.invoke(args=["crm", "pledges", "remind", "--today", "2027-02-02"])
    assert "0 reminders queued." in result.output
    assert [m["To"] for m in outbox()] == [rep.email]


def test_the_organization_page_shows_its_pledge(client, as_role, make_pledge, make_org, db):
    as_role("lead")
    pledge = make_pledge("signed")
    page = client.get(f"/organizations/{pledge.organization_id}").get_data(as_text=True)
    assert f"/pledges/{pledge.id}" in page and "Signed, awaiting confirmation" in page
    other = make_org("No Pledge Yet")
    page = client.get(f"/organizations/{other.id}").get_data(as_text=True)
    assert f"/pledges/new?organization={other.id}" in page
