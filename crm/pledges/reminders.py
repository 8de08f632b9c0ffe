"""Progress-report reminders: one before each due date, one when a report becomes overdue.

The worker's daily `pledges.remind` job (crm/pledges/jobs.py) runs `queue_reminders`, and
`flask crm pledges remind` does the same by hand. Each reminder is a row with a unique key
(pledge, quarter, kind) and its email a `mail.send` job, written in the same transaction: a
second run, or two at once, cannot queue the same reminder twice, and once recorded the email is
the mail job's to send (retried by the worker if the provider fails, shown on the Jobs page if
it gives up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from crm.auth.models import User
from crm.core.access import Role
from crm.core.http import external_url
from crm.core.mail import MailMessage, queue_mail
from crm.extensions import db
from crm.pledges.models import Pledge, PledgeReminder, PledgeStatus, ReminderKind
from crm.pledges.queries import schedules
from crm.pledges.schedule import Schedule


@dataclass
class Due:
    pledge: Pledge
    schedule: Schedule
    kind: ReminderKind


def recipients(pledge: Pledge) -> list[str]:
    """The organization's active representatives; else the signatory."""
    reps = db.session.scalars(
        sa.select(User.email).where(
            User.organization_id == pledge.organization_id,
            User.role == Role.ORG_REP,
            User.active,
        )
    ).all()
    if reps:
        return sorted(reps)
    if pledge.signatory is not None and pledge.signatory.email:
        return [pledge.signatory.email]
    return []


def _has_representative(pledge: Pledge) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(User)
            .where(
                User.organization_id == pledge.organization_id,
                User.role == Role.ORG_REP,
                User.active,
            )
        )
    )


def due_reminders(today: date) -> list[Due]:
    """Reminders that should have gone out by `today` and have not."""
    pledges = list(
        db.session.scalars(sa.select(Pledge).where(Pledge.status == PledgeStatus.ACTIVE))
    )
    standing = schedules(pledges, today)
    sent = {
        (r.pledge_id, r.year, r.quarter, r.kind)
        for r in db.session.scalars(
            sa.select(PledgeReminder).where(PledgeReminder.pledge_id.in_([p.id for p in pledges]))
        )
    }
    before = current_app.config["PLEDGE_REMIND_DAYS_BEFORE"]
    due = []
    for pledge in pledges:
        s = standing[pledge.id]
        if s.next_quarter is None or s.next_due is None:
            continue
        if s.overdue_since is not None:
            kind = ReminderKind.OVERDUE
        elif (s.next_due - today).days <= before:
            kind = ReminderKind.UPCOMING
        else:
            continue
        key = (pledge.id, s.next_quarter.year, s.next_quarter.number, kind)
        if key not in sent:
            due.append(Due(pledge, s, kind))
    return due


def _message(item: Due, to: list[str]) -> MailMessage:
    pledge, s = item.pledge, item.schedule
    quarter = s.next_quarter
    assert quarter is not None  # due_reminders keeps the pledges that owe a report
    link = external_url("my_pledge.home")
    if item.kind is ReminderKind.OVERDUE:
        subject = f"Overdue: your {quarter.label} progress report on the WEST Principles"
        opening = (
            f"The progress report of {pledge.organization.name} for {quarter.label} was "
            f"due on {s.next_due:%d %B %Y}. Please file it as soon as you can; until then the "
            "pledge shows as non-reporting."
        )
    else:
        subject = f"Due {s.next_due:%d %B}: your {quarter.label} progress report"
        opening = (
            f"The progress report of {pledge.organization.name} for {quarter.label} is due "
            f"on {s.next_due:%d %B %Y}."
        )
    no_account = not _has_representative(pledge)
    access = (
        "\n\nNo one at your organization has an account for reporting yet: reply to this email "
        "and the WEST team will send you an invitation."
        if no_account
        else ""
    )
    text = (
        f"Hello,\n\n{opening}\n\nFile it here (a draft can be saved and finished later):\n"
        f"{link}{access}\n\nThank you for reporting on the WEST Principles "
        f"(version {pledge.standard.version}).\n\n— WEST Principles community\n"
    )
    return MailMessage(to=", ".join(to), subject=subject, text=text)


def queue_reminders(today: date | None = None) -> tuple[int, list[str]]:
    """Record each reminder due by `today` and queue its email, in the caller's transaction
    (which commits them together). Returns (queued, problems)."""
    today = today or date.today()
    queued, problems = 0, []
    for item in due_reminders(today):
        to = recipients(item.pledge)
        name = item.pledge.organization.name
        if not to:
            problems.append(f"{name}: no representative or signatory email to remind")
            continue
        quarter = item.schedule.next_quarter
        assert quarter is not None  # due_reminders keeps the pledges that owe a report
        try:
            with db.session.begin_nested():  # the unique key: another run got here first
                db.session.add(
                    PledgeReminder(
                        pledge_id=item.pledge.id,
                        year=quarter.year,
                        quarter=quarter.number,
                        kind=item.kind,
                        sent_to=", ".join(to)[:500],
                    )
                )
        except IntegrityError:
            continue
        queue_mail(_message(item, to))
        queued += 1
    return queued, problems
