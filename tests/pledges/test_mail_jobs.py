"""Pledge emails as jobs: the invitation a confirmation sends is queued with it (a refused
confirmation queues nothing), and the daily reminders run from the worker's schedule, once a
day however many workers schedule them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.core.jobs import Job, JobStatus
from crm.core.jobs.worker import Worker
from crm.pledges.models import PledgeReminder, PledgeStatus


def _confirm(client, pledge, version=None):
    return client.post(
        f"/pledges/{pledge.id}/status",
        data={"to": "active", "version": version if version is not None else pledge.version},
        follow_redirects=True,
    )


def test_a_confirmation_queues_the_invitation_with_the_account(
    client, as_role, make_pledge, db, queued_mail, outbox
):
    pledge = make_pledge("signed")
    as_role("lead")
    page = _confirm(client, pledge).get_data(as_text=True)
    email = pledge.signatory.email
    assert f"{email} is invited to file progress reports: the invitation is on its way." in page
    assert queued_mail() == [(email, "Your WEST Advocacy CRM account")]
    assert [m["To"] for m in outbox()] == [email]


def test_a_refused_confirmation_invites_nobody(
    client, as_role, make_pledge, db, queued_mail, outbox
):
    pledge = make_pledge("signed")
    as_role("lead")
    stale = _confirm(client, pledge, version=pledge.version + 1)  # not the version saved
    assert "Not changed:" in stale.get_data(as_text=True)
    db.session.refresh(pledge)
    assert pledge.status is PledgeStatus.SIGNED
    assert db.session.scalar(sa.select(User).where(User.email == pledge.signatory.email)) is None
    assert queued_mail() == [] and outbox() == []


def _remind_jobs(db) -> list[Job]:
    db.session.expire_all()
    return db.session.scalars(sa.select(Job).where(Job.kind == "pledges.remind")).all()


def test_the_daily_reminder_job_runs_once_a_day_however_many_workers_schedule_it(
    app, make_pledge, rep_for, db, queued_mail, outbox
):
    """Three workers look at the schedule through the day: one job that day, and its
    reminder's email goes once; the next day's job finds nothing more to send."""
    pledge = make_pledge("active", activated_on=date.today() - timedelta(days=200))
    rep = rep_for(pledge)
    today = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    with app.app_context():
        for hours in (0, 5, 22):
            for name in ("a:1", "b:2", "c:3"):
                Worker(app, name=name).schedule_periodic(today + timedelta(hours=hours))
    [job] = _remind_jobs(db)
    assert job.unique_key == f"pledges.remind@{today:%Y-%m-%d}T00:00"

    mails = outbox()  # the worker runs the reminder job, then the email it queued
    assert [m["To"] for m in mails] == [rep.email] and mails[0]["Subject"].startswith("Overdue")
    db.session.refresh(job)
    assert job.status is JobStatus.DONE and job.result == {"queued": 1, "problems": []}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PledgeReminder)) == 1

    with app.app_context():
        Worker(app, name="a:1").schedule_periodic(today + timedelta(days=1))
    assert len(_remind_jobs(db)) == 2
    assert len(outbox()) == 1  # the next day's run: each reminder goes once
    assert len(queued_mail()) == 1


def test_the_reminder_command_and_the_job_share_one_record(
    app, runner, make_pledge, rep_for, db, queued_mail, run_jobs
):
    """Run by hand, then by the schedule the same day: the reminder is queued once."""
    pledge = make_pledge("active", activated_on=date.today() - timedelta(days=200))
    rep_for(pledge)
    result = runner.invoke(args=["crm", "pledges", "remind"])
    assert "1 reminder queued" in result.output
    with app.app_context():
        Worker(app, name="a:1").schedule_periodic()
    run_jobs()
    [job] = _remind_jobs(db)
    assert job.result == {"queued": 0, "problems": []}
    assert len(queued_mail()) == 1
