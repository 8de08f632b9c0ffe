"""When progress reports are due, computed from dates every time, so a pledge's standing is
always right without a nightly job.

A report covers a calendar quarter and is due a set number of days after the quarter ends
(`PLEDGE_REPORT_DUE_DAYS`, default 30: the Q4 report is due on 30 January). Reporting starts with
the quarter in which a lead confirmed the pledge. A pledge is non-reporting once the due date of
a quarter it has not yet reported on has passed, and lapsed once that has lasted longer than the
grace period (`PLEDGE_LAPSE_GRACE_DAYS`, default 90). A report on a later quarter catches up
the earlier ones: progress is cumulative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from crm.pledges.models import PledgeStatus, Standing


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1–4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def due(self, due_days: int) -> date:
        return self.last_day + timedelta(days=due_days)

    @property
    def label(self) -> str:
        return f"Q{self.number} {self.year}"


@dataclass(frozen=True)
class Schedule:
    standing: Standing
    next_quarter: Quarter | None  # the quarter the next report should cover
    next_due: date | None
    overdue_since: date | None  # the due date that was missed, when non-reporting or lapsed
    days_overdue: int


def schedule(
    status: PledgeStatus,
    activated_on: date | None,
    last_reported: Quarter | None,
    today: date,
    *,
    due_days: int,
    grace_days: int,
) -> Schedule:
    """The standing of a pledge and its next report, from its dates alone."""
    if status is not PledgeStatus.ACTIVE or activated_on is None:
        return Schedule(Standing(status.value), None, None, None, 0)
    first = Quarter.of(activated_on)
    owed = first if last_reported is None or last_reported < first else last_reported.next()
    due = owed.due(due_days)
    if today <= due:
        return Schedule(Standing.ACTIVE, owed, due, None, 0)
    late = (today - due).days
    standing = Standing.LAPSED if late > grace_days else Standing.NON_REPORTING
    return Schedule(standing, owed, due, due, late)


def reportable_quarters(activated_on: date, today: date) -> list[Quarter]:
    """Quarters a report may cover: from the first reporting quarter to the current one."""
    quarters = []
    quarter = Quarter.of(activated_on)
    current = Quarter.of(today)
    while quarter <= current:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters
