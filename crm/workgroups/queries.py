"""Reading tasks: one person's list (with their engagement follow-ups), a group's board."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import url_for
from sqlalchemy.orm import selectinload

from crm.engagements.models import Engagement
from crm.extensions import db
from crm.workgroups.links import describe
from crm.workgroups.models import OPEN_STATUSES, Task, TaskStatus, WorkingGroup


def long_date(day: date) -> str:
    """As the app writes a date in a sentence: 3 December 2026."""
    return f"{day:%-d %B %Y}"


@dataclass
class ToDo:
    """A task, or an engagement follow-up shown as one."""

    title: str
    url: str
    due_on: date | None
    context: str  # the group, or the engagement it follows up
    status_label: str
    task: Task | None = None
    engagement: Engagement | None = None

    @property
    def is_follow_up(self) -> bool:
        return self.engagement is not None


@dataclass
class MyList:
    overdue: list[ToDo] = field(default_factory=list)
    this_week: list[ToDo] = field(default_factory=list)
    later: list[ToDo] = field(default_factory=list)
    undated: list[ToDo] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.this_week) + len(self.later) + len(self.undated)


def my_list(user_id: int, today: date, horizon_days: int = 7) -> MyList:
    """All a person has to do: their open tasks and their open engagement follow-ups."""
    items: list[ToDo] = []
    tasks = db.session.scalars(
        sa.select(Task)
        .where(Task.owner_id == user_id, Task.status.in_(OPEN_STATUSES))
        .options(selectinload(Task.group))
    )
    for task in tasks:
        items.append(
            ToDo(
                title=task.title,
                url=url_for("workgroups.edit_task", task_id=task.id),
                due_on=task.due_on,
                context=task.group.name if task.group else "",
                status_label=task.status.label,
                task=task,
            )
        )
    follow_ups = db.session.scalars(
        sa.select(Engagement).where(
            Engagement.follow_up_owner_id == user_id,
            Engagement.follow_up_on.is_not(None),
            Engagement.follow_up_done_at.is_(None),
        )
    )
    for engagement in follow_ups:
        items.append(
            ToDo(
                title=engagement.follow_up_note or engagement.summary,
                url=url_for("engagements.detail", engagement_id=engagement.id),
                due_on=engagement.follow_up_on,
                # The title already says what to follow up: name the engagement by its kind
                # and date, not by its summary again.
                context=f"{engagement.kind.label} of {long_date(engagement.occurred_on)}"
                + (f": {engagement.summary}" if engagement.follow_up_note else ""),
                status_label="Follow-up",
                engagement=engagement,
            )
        )
    items.sort(key=lambda i: (i.due_on is None, i.due_on or date.max, i.title))
    horizon = today + timedelta(days=horizon_days)
    result = MyList()
    for item in items:
        if item.due_on is None:
            result.undated.append(item)
        elif item.due_on < today:
            result.overdue.append(item)
        elif item.due_on <= horizon:
            result.this_week.append(item)
        else:
            result.later.append(item)
    return result


def unassigned() -> list[Task]:
    """Open tasks with neither an owner nor a group (saved so, or left when their owner's
    account or their group went): on no one's list and no board, so the tasks page lists
    them for anyone to take."""
    return list(
        db.session.scalars(
            sa.select(Task)
            .where(Task.owner_id.is_(None), Task.group_id.is_(None), Task.status.in_(OPEN_STATUSES))
            .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
        )
    )


def board(group: WorkingGroup) -> dict[TaskStatus, list[Task]]:
    tasks = db.session.scalars(
        sa.select(Task)
        .where(Task.group_id == group.id)
        .options(selectinload(Task.owner))
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
    )
    columns: dict[TaskStatus, list[Task]] = {status: [] for status in TaskStatus}
    for task in tasks:
        columns[task.status].append(task)
    return columns


def tasks_about(record_type: str, record_id: int) -> list[Task]:
    return list(
        db.session.scalars(
            sa.select(Task)
            .where(Task.record_type == record_type, Task.record_id == record_id)
            .order_by(Task.status, Task.due_on)
        )
    )


def link_of(task: Task):
    return describe(task.record_type, task.record_id)
