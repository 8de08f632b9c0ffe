"""Due dates and standings across quarter and year boundaries, from the dates alone."""

from __future__ import annotations

from datetime import date

import pytest

from crm.pledges.models import PledgeStatus, Standing
from crm.pledges.schedule import Quarter, reportable_quarters, schedule

DUE, GRACE = 30, 90


def standing_on(today, activated, reported=None, status=PledgeStatus.ACTIVE):
    return schedule(status, activated, reported, today, due_days=DUE, grace_days=GRACE)


@pytest.mark.parametrize(
    ("day", "quarter", "first", "last"),
    [
        (date(2026, 1, 1), Quarter(2026, 1), date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 3, 31), Quarter(2026, 1), date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), Quarter(2026, 2), date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 9, 30), Quarter(2026, 3), date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 12, 31), Quarter(2026, 4), date(2026, 10, 1), date(2026, 12, 31)),
        (date(2028, 2, 29), Quarter(2028, 1), date(2028, 1, 1), date(2028, 3, 31)),
    ],
)
def test_quarters(day, quarter, first, last):
    assert Quarter.of(day) == quarter
    assert (quarter.first_day, quarter.last_day) == (first, last)


def test_quarters_roll_over_the_year():
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2027, 1).previous() == Quarter(2026, 4)
    assert Quarter(2026, 4).due(DUE) == date(2027, 1, 30)  # the Q4 report is due in January
    assert Quarter(2026, 1).due(DUE) == date(2026, 4, 30)
    assert Quarter(2026, 4) < Quarter(2027, 1)


def test_reporting_starts_in_the_quarter_of_confirmation():
    activated = date(2026, 11, 20)
    s = standing_on(date(2026, 11, 25), activated)
    assert s.standing is Standing.ACTIVE
    assert s.next_quarter == Quarter(2026, 4) and s.next_due == date(2027, 1, 30)


def test_due_day_itself_is_not_yet_overdue():
    s = standing_on(date(2027, 1, 30), date(2026, 11, 20))
    assert s.standing is Standing.ACTIVE and s.overdue_since is None


def test_the_day_after_the_due_date_is_non_reporting():
    s = standing_on(date(2027, 1, 31), date(2026, 11, 20))
    assert s.standing is Standing.NON_REPORTING
    assert s.overdue_since == date(2027, 1, 30) and s.days_overdue == 1


def test_past_the_grace_period_is_lapsed():
    assert standing_on(date(2027, 4, 30), date(2026, 11, 20)).standing is Standing.NON_REPORTING
    lapsed = standing_on(date(2027, 5, 1), date(2026, 11, 20))  # 91 days after 30 January
    assert lapsed.standing is Standing.LAPSED and lapsed.days_overdue == 91


def test_a_report_moves_the_next_due_date_on():
    s = standing_on(date(2027, 1, 31), date(2026, 11, 20), reported=Quarter(2026, 4))
    assert s.standing is Standing.ACTIVE
    assert s.next_quarter == Quarter(2027, 1) and s.next_due == date(2027, 4, 30)


def test_a_later_report_catches_up_missed_quarters():
    late = standing_on(date(2027, 6, 15), date(2026, 11, 20), reported=Quarter(2026, 4))
    assert late.standing is Standing.NON_REPORTING  # Q1 2027 was due 30 April
    caught_up = standing_on(date(2027, 6, 15), date(2026, 11, 20), reported=Quarter(2027, 2))
    assert caught_up.standing is Standing.ACTIVE and caught_up.next_quarter == Quarter(2027, 3)


def test_other_statuses_are_what_is_stored():
    for status in (PledgeStatus.DRAFT, PledgeStatus.SIGNED, PledgeStatus.ADOPTED,
                   PledgeStatus.WITHDRAWN):  # fmt: skip
        s = standing_on(date(2030, 1, 1), date(2026, 1, 1), status=status)
        assert s.standing.value == status.value and s.next_due is None


def test_reportable_quarters_span_the_year_end():
    quarters = reportable_quarters(date(2026, 11, 20), date(2027, 2, 1))
    assert quarters == [Quarter(2026, 4), Quarter(2027, 1)]
