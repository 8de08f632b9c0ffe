"""Pledges: the one adoption transition, moves between versions, reports filed, corrected
and refused, deletion, what a lead sees before confirming, the figures, the directory filter
and reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.pledges import queries
from crm.pledges.models import Maturity, Pledge, PledgeStatus, Standing
from crm.pledges.operations import lifecycle as pledge_ops
from crm.pledges.operations import progress_reports as report_ops
from crm.pledges.operations import signatories as signatory_ops
from crm.pledges.schedule import Quarter


def file_report(pledge, level="implementing", quarter=None, *, accept_by=None):
    report = report_ops.start_report(None, pledge, quarter or Quarter.of(pledge.activated_on))
    answers = {a.principle_id: report_ops.Answer(level=level) for a in report.answers}
    report_ops.submit_report(None, report, answers)
    if accept_by is not None:
        report_ops.accept_report(accept_by, report)
    return report


def second_version(db, standard):
    from crm.standards.models import Principle, Standard, StandardStatus

    standard.status = StandardStatus.RETIRED
    v2 = Standard(version="2.0", title="WEST Principles", status=StandardStatus.CURRENT)
    db.session.add(v2)
    db.session.flush()
    for n, principle in enumerate(standard.principles, start=1):
        db.session.add(
            Principle(standard_id=v2.id, code=principle.code, title=principle.title, position=n)
        )
    db.session.flush()
    db.session.refresh(v2)
    return v2


def test_active_to_adopted_through_the_one_transition(make_pledge, make_user, db):
    lead = make_user("lead")
    pledge = make_pledge("active")
    report = file_report(pledge, "verified")
    report.status = report.status.ACCEPTED  # accepted without the automatic adoption
    db.session.flush()
    pledge_ops.transition(lead, pledge, "adopted")
    assert pledge.status is PledgeStatus.ADOPTED


def test_a_live_pledge_to_any_version_counts(client, make_pledge, make_org, standard, db):
    org = make_org("Atlas Apparel")
    make_pledge("active", org=org)
    v2 = second_version(db, standard)
    with pytest.raises(OperationError, match="move it to version 2.0 instead"):
        pledge_ops.create_pledge(None, org, v2)
    db.session.commit()
    client.post(
        "/pledge/",
        data={
            "organization": "Atlas Apparel",
            "kind": "brand",
            "first_name": "A",
            "last_name": "B",
            "email": "a@atlas.example",
            "confirm": "y",
        },  # fmt: skip
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 1


def test_a_moved_adopted_pledge_reports_afresh_not_lapsed(
    ctx, make_pledge, make_user, standard, db
):
    lead = make_user("lead")
    pledge = make_pledge("active", activated_on=date.today() - timedelta(days=500))
    file_report(pledge, "verified", accept_by=lead)
    assert pledge.status is PledgeStatus.ADOPTED
    v2 = second_version(db, standard)
    pledge_ops.move_to_version(lead, pledge, v2)
    db.session.commit()
    assert pledge.activated_on == date.today()
    assert queries.schedule_of(pledge).standing is Standing.ACTIVE


def test_a_draft_blocks_a_move(make_pledge, standard, db):
    pledge = make_pledge("active")
    report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    v2 = second_version(db, standard)
    with pytest.raises(OperationError, match="submitted or deleted before the pledge moves"):
        pledge_ops.move_to_version(None, pledge, v2)


def test_a_corrected_report_cannot_be_accepted_or_adopt(make_pledge, make_user, db):
    lead = make_user("lead")
    pledge = make_pledge("active")
    original = file_report(pledge, "verified")
    correction = report_ops.correct_report(None, original)
    answers = {a.principle_id: report_ops.Answer("planning") for a in correction.answers}
    report_ops.submit_report(None, correction, answers)
    with pytest.raises(OperationError, match="accept the correction instead"):
        report_ops.accept_report(lead, original)
    assert report_ops.accept_report(lead, correction) is False
    assert pledge.status is PledgeStatus.ACTIVE


def test_a_withdrawn_pledge_takes_no_more_reports(make_pledge, db):
    pledge = make_pledge("active")
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    pledge_ops.transition(None, pledge, "withdrawn", reason="Closed down")
    with pytest.raises(OperationError, match="withdrawn: its reports can no longer change"):
        report_ops.submit_report(None, report, {})


def test_a_quarter_already_reported_is_corrected_not_filed_again(make_pledge, db):
    pledge = make_pledge("active")
    report = file_report(pledge)
    quarter = Quarter(report.year, report.quarter)
    with pytest.raises(OperationError, match="is already reported"):
        report_ops.start_report(None, pledge, quarter)


def test_an_organization_with_a_pledge_cannot_be_deleted(client, as_role, make_pledge, db):
    as_role("lead")
    pledge = make_pledge("draft")
    from crm.contacts.models import Contact

    db.session.execute(sa.delete(Contact).where(Contact.organization_id == pledge.organization_id))
    db.session.commit()
    response = client.post(f"/organizations/{pledge.organization_id}/delete")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "has made a pledge" in page
    assert db.session.get(Pledge, pledge.id) is not None


def test_the_lead_sees_what_confirming_would_do(client, as_role, make_org, db):
    client.post(
        "/pledge/",
        data={
            "organization": "Atlas Apparel",
            "kind": "brand",
            "website": "atlas.example",
            "first_name": "Eve",
            "last_name": "Stranger",
            "email": "eve@evil.example",
            "confirm": "y",
        },  # fmt: skip
    )
    pledge = db.session.scalar(sa.select(Pledge))
    as_role("lead")
    page = client.get(f"/pledges/{pledge.id}").get_data(as_text=True)
    assert "confirming invites <strong>eve@evil.example</strong>" in page
    assert "is not at the organization&#39;s website domain (atlas.example)" in page
    assert "came in through the public form" in page


def test_funnel_and_progress_figures(ctx, make_pledge, make_user, standard, db):
    lead = make_user("lead")
    a = make_pledge("active")
    b = make_pledge("active")
    make_pledge("signed")
    make_pledge("draft")
    file_report(a, "verified", accept_by=lead)  # adopted
    report = report_ops.start_report(None, b, Quarter.of(b.activated_on))
    answers = {a_.principle_id: report_ops.Answer("planning") for a_ in report.answers}
    answers[report.answers[0].principle_id] = report_ops.Answer("implemented")
    report_ops.submit_report(None, report, answers)
    db.session.commit()
    pledges = queries.all_pledges()
    funnel = dict(queries.funnel(pledges, queries.schedules(pledges)))
    assert (funnel[Standing.ADOPTED], funnel[Standing.ACTIVE], funnel[Standing.SIGNED],
            funnel[Standing.DRAFT]) == (1, 1, 1, 1)  # fmt: skip
    rows = {row.principle.code: row.counts for row in queries.progress_by_principle(standard)}
    assert rows["P1"][Maturity.VERIFIED] == 1 and rows["P1"][Maturity.IMPLEMENTED] == 1
    assert rows["P2"][Maturity.VERIFIED] == 1 and rows["P2"][Maturity.PLANNING] == 1
    points = queries.progress_over_quarters([b.id])
    assert len(points) == 1 and points[0].levels["P1"] is Maturity.IMPLEMENTED
    assert points[0].average == round((3 + 1 * 7) / 8, 2)


def test_last_reported_counts_filed_reports_not_drafts(make_pledge, db):
    pledge = make_pledge("active", activated_on=date(2026, 1, 15))
    report = report_ops.start_report(None, pledge, Quarter(2026, 1))
    assert queries.last_reported([pledge.id]) == {}
    report_ops.submit_report(None, report, {})
    assert queries.last_reported([pledge.id]) == {pledge.id: Quarter(2026, 1)}


def test_directory_filter_takes_a_country_name(client, make_pledge, make_org, db):
    make_pledge("active", org=make_org("Listed Co", country="DE"), listed=True)
    assert [e["organization"] for e in client.get(
        "/pledge/directory.json?country=Germany").json["signatories"]] == ["Listed Co"]  # fmt: skip
    assert client.get("/pledge/directory.json?country=Georgia").json["signatories"] == []


def test_a_post_missing_fields_keeps_what_was_saved(client, login, rep_for, make_pledge, db):
    pledge = make_pledge("active")
    login(rep_for(pledge))
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    first = report.answers[0]
    report_ops.save_report(
        None, report, {first.principle_id: report_ops.Answer("planning", None, "Kept")}
    )
    db.session.commit()
    client.post(
        f"/me/pledge/reports/{report.id}",
        data={
            "action": "save",
            f"level_{first.principle_id}": "implementing",
            "version": report.version,
        },  # fmt: skip
    )
    db.session.refresh(first)
    assert first.level is Maturity.IMPLEMENTING and first.comment == "Kept"


def test_a_signatory_with_another_account_is_not_shown_as_representative(
    client, as_role, make_pledge, make_user, db
):
    pledge = make_pledge("signed")
    make_user("org_rep", email=pledge.signatory.email, organization_id=None)
    as_role("lead")
    page = client.get(f"/pledges/{pledge.id}").get_data(as_text=True)
    assert "already has an account (organization representative)" in page
    assert signatory_ops.representative_for(pledge) is None


def test_a_reminder_without_any_account_says_how_to_get_one(app, make_pledge, db, outbox):
    from crm.pledges.reminders import queue_reminders

    make_pledge("active", activated_on=date(2026, 11, 20))  # no representative account
    with app.test_request_context():
        assert queue_reminders(date(2027, 1, 20)) == (1, [])
        db.session.commit()
    assert "reply to this email" in outbox()[0].get_content()
