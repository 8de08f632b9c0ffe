"""Working groups with their members, and tasks that may point at any record."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import TrackedMixin, enum_type
from crm.extensions import Model


class MemberRole(StrEnum):
    CHAIR = "chair"
    COORDINATOR = "coordinator"
    MEMBER = "member"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class WorkingGroup(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    purpose: Mapped[str | None] = mapped_column(sa.Text)
    archived: Mapped[bool] = mapped_column(default=False)

    members: Mapped[list[Membership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="Membership.id"
    )

    def __repr__(self) -> str:
        return f"<WorkingGroup {self.name}>"


class Membership(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("working_group.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    role: Mapped[MemberRole] = mapped_column(enum_type(MemberRole, 20))

    group: Mapped[WorkingGroup] = relationship(back_populates="members")
    user: Mapped[User] = relationship()

    __table_args__ = (sa.UniqueConstraint("group_id", "user_id", name="uq_membership_user"),)


class TaskStatus(StrEnum):
    TODO = "todo"
    DOING = "doing"
    BLOCKED = "blocked"
    DONE = "done"

    @property
    def label(self) -> str:
        return {"todo": "To do", "doing": "In progress"}.get(self.value, self.value.capitalize())


OPEN_STATUSES = (TaskStatus.TODO, TaskStatus.DOING, TaskStatus.BLOCKED)


class Task(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("working_group.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    due_on: Mapped[date | None]
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus, 20), default=TaskStatus.TODO)
    done_at: Mapped[datetime | None]
    # Any record the task is about: ("event", 12), ("organization", 7), ...
    record_type: Mapped[str | None] = mapped_column(sa.String(30))
    record_id: Mapped[int | None]

    group: Mapped[WorkingGroup | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])

    __table_args__ = (
        sa.Index("ix_task_owner", "owner_id", "status", "due_on"),
        sa.Index("ix_task_group", "group_id", "status"),
        sa.Index("ix_task_record", "record_type", "record_id"),
    )
