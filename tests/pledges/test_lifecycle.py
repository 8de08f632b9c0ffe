"""Every legal and illegal move of a pledge, one live pledge per version, version moves."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.core.errors import OperationError
from crm.pledges.models import Maturity, Pledge, PledgeChange, PledgeStatus, ReportStatus
from crm.pledges.operations import lifecycle as pledge_ops
from crm.pledges.operations import progress_reports as report_ops
from crm.pledges.operations import report_state
from crm.pledges.schedule import Quarter

STORED = [s.value for s in PledgeStatus]
LEGAL = {(a.value, b.value) for a, targets in pledge_ops.TRANSITIONS.items() for b in targets}


def verify_everything(db, pledge, lead):
    """File and accept a report with every principle verified."""
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    answers = {a.principle_id: report_ops.Answer(level="verified") for a in report.answers}
    report_ops.submit_report(None, report, answers)
    return report_ops.accept_report(lead, report)


@pytest.mark.parametrize("start", ["draft", "signed", "active", "adopted", "withdrawn"])
@pytest.mark.parametrize("target", STORED)
def test_every_move_from_a_stored_status(make_pledge, make_user, make_contact, db, start, target):
    lead = make_user("lead")
    pledge = make_pledge("active" if start == "adopted" else start)
    if start == "adopted":
        assert verify_everything(db, pledge, lead)
        db.session.commit()
    if start == "draft" and target == "signed":  # what signing needs
        pledge.signatory_id = make_contact().id
        pledge.signed_on = date.today()
    moves_before = len(pledge.history)
    if (start, target) in LEGAL and target != "adopted":
        pledge_ops.transition(lead, pledge, target, reason="Because")
        assert pledge.status.value == target
        assert len(pledge.history) == moves_before + 1
    else:
        with pytest.raises(OperationError):
            pledge_ops.transition(None, pledge, target, reason="Because")
        db.session.rollback()
        db.session.refresh(pledge)
        assert pledge.status.value == start
        assert len(pledge.history) == moves_before


def test_the_legal_table_is_what_the_lifecycle_says():
    assert {
        ("draft", "signed"),
        ("draft", "withdrawn"),
        ("signed", "active"),
        ("signed", "withdrawn"),
        ("active", "adopted"),
        ("active", "withdrawn"),
        ("adopted", "withdrawn"),
    } == LEGAL


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        ("draft", "active", "A draft must be signed before the team confirms it."),
        ("active", "signed", "cannot go from active to signed"),
        ("active", "draft", "cannot go back to draft"),
        ("withdrawn", "active", "stays withdrawn; the organization can make a new pledge"),
        ("active", "active", "already active"),
        ("active", "non_reporting", "follow from the report dates"),
        ("active", "lapsed", "follow from the report dates"),
        ("active", "finished", "is not a pledge status"),
        ("active", "adopted", "every principle has reached “verified”"),
        ("active", "withdrawn", "The reason is required."),
    ],
)
def test_illegal_moves_say_why(make_pledge, db, start, target, message):
    pledge = make_pledge(start)
    with pytest.raises(OperationError, match=message):
        pledge_ops.transition(None, pledge, target)


def test_signing_needs_a_signatory_and_date(make_pledge, db):
    draft = make_pledge("draft")
    with pytest.raises(OperationError, match="Name the signatory"):
        pledge_ops.transition(None, draft, "signed")


def test_changes_are_recorded_with_who_and_when(make_pledge, make_user, db):
    lead = make_user("lead")
    pledge = make_pledge("signed")
    pledge_ops.transition(lead, pledge, "active")
    change = db.session.scalar(
        sa.select(PledgeChange)
        .where(PledgeChange.pledge_id == pledge.id)
        .order_by(PledgeChange.id.desc())
    )
    assert (change.from_status, change.to_status, change.by_id) == (
        PledgeStatus.SIGNED,
        PledgeStatus.ACTIVE,
        lead.id,
    )
    assert change.at is not None and pledge.activated_on == date.today()


def test_adopted_when_every_principle_is_verified_in_an_accepted_report(make_pledge, make_user, db):
    lead = make_user("lead")
    pledge = make_pledge("active")
    # Submitted but not accepted: not yet.
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    answers = {a.principle_id: report_ops.Answer(level="verified") for a in report.answers}
    report_ops.submit_report(None, report, answers)
    assert not report_state.fully_verified(pledge)
    assert report_ops.accept_report(lead, report) is True
    assert pledge.status is PledgeStatus.ADOPTED and pledge.adopted_on == date.today()


def test_one_short_of_verified_is_not_adopted(make_pledge, make_user, db):
    lead = make_user("lead")
    pledge = make_pledge("active")
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    answers = {a.principle_id: report_ops.Answer(level="verified") for a in report.answers}
    answers[report.answers[-1].principle_id] = report_ops.Answer(level="implemented")
    report_ops.submit_report(None, report, answers)
    assert report_ops.accept_report(lead, report) is False
    assert pledge.status is PledgeStatus.ACTIVE


def test_one_live_pledge_per_organization_and_version(make_pledge, make_org, standard, db):
    org = make_org("Atlas Apparel")
    make_pledge("active", org=org)
    with pytest.raises(OperationError, match="already has a pledge to version 1.0"):
        pledge_ops.create_pledge(None, org, standard)
    # The database refuses it too, whatever the code path.
    db.session.add(Pledge(organization_id=org.id, standard_id=standard.id, status="draft"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_pledging_again_after_withdrawal_keeps_the_old_history(make_pledge, make_org, standard, db):
    org = make_org("Atlas Apparel")
    old = make_pledge("withdrawn", org=org)
    new = pledge_ops.create_pledge(None, org, standard)
    assert new.id != old.id and new.previous_id == old.id
    assert new.status is PledgeStatus.DRAFT
    db.session.refresh(old)
    assert old.status is PledgeStatus.WITHDRAWN and old.withdrawal_reason == "Changed plans"
    assert "(again)" in new.history[-1].note


def _second_version(db, standard):
    from crm.standards.models import Principle, Standard, StandardStatus

    standard.status = StandardStatus.RETIRED
    v2 = Standard(version="2.0", title="WEST Principles", status=StandardStatus.CURRENT)
    db.session.add(v2)
    db.session.flush()
    for n, principle in enumerate(standard.principles, start=1):
        db.session.add(Principle(standard_id=v2.id, code=principle.code, title=principle.title,
                                 position=n))  # fmt: skip
    db.session.add(Principle(standard_id=v2.id, code="P9", title="Share data back", position=9))
    db.session.flush()
    db.session.refresh(v2)
    return v2


def test_moving_to_the_next_version_keeps_earlier_reports_readable(
    make_pledge, make_user, standard, db
):
    lead = make_user("lead")
    pledge = make_pledge("active")
    assert verify_everything(db, pledge, lead) is True  # adopted on 1.0
    old_report = pledge.reports[0]
    v2 = _second_version(db, standard)
    pledge_ops.move_to_version(lead, pledge, v2)
    assert pledge.standard_id == v2.id and pledge.first_standard_id == standard.id
    assert pledge.status is PledgeStatus.ACTIVE  # 2.0's principles start afresh
    assert "Moved from version 1.0 to 2.0" in pledge.history[-1].note
    # The old report still reads against 1.0's eight principles.
    assert old_report.standard_id == standard.id
    assert [a.principle.code for a in old_report.answers] == [f"P{n}" for n in range(1, 9)]
    assert all(a.level is Maturity.VERIFIED for a in old_report.answers)
    # A new report covers 2.0's nine.
    report = report_ops.start_report(None, pledge, Quarter.of(date.today()))
    assert len(report.answers) == 9 and report.standard_id == v2.id
    report_ops.delete_draft(None, report)
    # Correcting the old report is refused: it answered another version.
    with pytest.raises(OperationError, match="earlier version"):
        report_ops.correct_report(None, old_report)


def test_moves_to_a_version_not_in_force_are_refused(make_pledge, standard, db):
    from crm.standards.models import Standard, StandardStatus

    pledge = make_pledge("active")
    draft = Standard(version="2.0", title="Draft", status=StandardStatus.CONSULTATION)
    db.session.add(draft)
    db.session.flush()
    with pytest.raises(OperationError, match="consultation"):
        pledge_ops.move_to_version(None, pledge, draft)
    with pytest.raises(OperationError, match="already to version 1.0"):
        pledge_ops.move_to_version(None, pledge, standard)
    withdrawn = make_pledge("withdrawn")
    with pytest.raises(OperationError, match="not a withdrawn one"):
        pledge_ops.move_to_version(None, withdrawn, draft)


def test_pledges_are_made_to_the_version_in_force(make_org, db):
    from crm.standards.models import Standard, StandardStatus

    draft = Standard(version="3.0", title="Draft", status=StandardStatus.DRAFT)
    db.session.add(draft)
    db.session.flush()
    with pytest.raises(OperationError, match="version in force"):
        pledge_ops.create_pledge(None, make_org(), draft)


def test_reports_draft_then_submitted_is_read_only_and_corrected_by_a_new_one(make_pledge, db):
    pledge = make_pledge("active")
    quarter = Quarter.of(pledge.activated_on)
    report = report_ops.start_report(None, pledge, quarter)
    first = report.answers[0]
    report_ops.save_report(
        None,
        report,
        {first.principle_id: report_ops.Answer("planning", "https://a.example.org/x", "Soon")},
    )
    assert report.status is ReportStatus.DRAFT and first.level is Maturity.PLANNING
    with pytest.raises(OperationError, match="already a draft"):
        report_ops.start_report(None, pledge, quarter)
    report_ops.submit_report(None, report, {})
    assert report.status is ReportStatus.SUBMITTED and report.submitted_at is not None
    with pytest.raises(OperationError, match="cannot be changed; start a correction"):
        report_ops.save_report(None, report, {first.principle_id: report_ops.Answer("verified")})
    with pytest.raises(OperationError, match="Only a draft can be deleted"):
        report_ops.delete_draft(None, report)
    correction = report_ops.correct_report(None, report)
    assert correction.id != report.id and correction.corrects_id == report.id
    assert correction.answers[0].level is Maturity.PLANNING  # starts from the report
    assert correction.answers[0].evidence == "https://a.example.org/x"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (report_ops.Answer("excellent"), "is not a maturity level"),
        (report_ops.Answer("planning", "see our intranet"), "is not a web address"),
        (report_ops.Answer("planning", None, "x" * 5001), "too long"),
    ],
)
def test_bad_answers_are_refused(make_pledge, db, answer, message):
    pledge = make_pledge("active")
    report = report_ops.start_report(None, pledge, Quarter.of(pledge.activated_on))
    with pytest.raises(OperationError, match=message):
        report_ops.save_report(None, report, {report.answers[0].principle_id: answer})


def test_reports_only_for_quarters_the_pledge_covers(make_pledge, db):
    pledge = make_pledge("active", activated_on=date(2026, 5, 10))
    with pytest.raises(OperationError, match="not a quarter this pledge reports on"):
        report_ops.start_report(None, pledge, Quarter(2026, 1))  # before confirmation
    with pytest.raises(OperationError, match="not a quarter this pledge reports on"):
        report_ops.start_report(None, pledge, Quarter.of(date.today()).next())  # the future
    signed = make_pledge("signed")
    with pytest.raises(OperationError, match="once the team has confirmed"):
        report_ops.start_report(None, signed, Quarter.of(date.today()))


def test_a_pledge_behind_with_its_reports_does_not_move_to_a_new_version(
    make_pledge, make_user, standard, db
):
    """Moving restarts reporting this quarter; a lapsed pledge would shed its standing and the
    reports it owes. It is refused, and once the reports are in the move goes through."""
    from crm.pledges.models import Standing
    from crm.pledges.queries import schedule_of

    lead = make_user("lead")
    year_ago = date.today() - timedelta(days=400)
    pledge = make_pledge("active", activated_on=year_ago)
    assert schedule_of(pledge).standing is Standing.LAPSED
    fresh = make_pledge("active")  # confirmed this quarter: nothing owed yet
    v2 = _second_version(db, standard)
    with pytest.raises(OperationError, match="lapsed: its Q. 20.. report was due on") as refused:
        pledge_ops.move_to_version(lead, pledge, v2)
    assert "once the reports it owes on version 1.0 are in" in refused.value.message
    db.session.refresh(pledge)  # refused before anything changed
    assert pledge.standard_id == standard.id and pledge.activated_on == year_ago
    assert schedule_of(pledge).standing is Standing.LAPSED

    pledge_ops.move_to_version(lead, fresh, v2)
    assert fresh.standard.version == "2.0"
