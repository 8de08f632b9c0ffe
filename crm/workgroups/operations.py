"""Working groups, their members and tasks: every change, with the rules that refuse nonsense."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.auth.operations import STAFF_ROLES
from crm.core import deletion
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.validation import clean_choice, clean_text
from crm.extensions import db
from crm.workgroups.links import LINKABLE
from crm.workgroups.models import (
    OPEN_STATUSES,
    MemberRole,
    Membership,
    Task,
    TaskStatus,
    WorkingGroup,
)

EARLIEST = date(1990, 1, 1)


def _clean_name(name: str | None, group: WorkingGroup | None = None) -> str:
    name = clean_text(name, "name", "Name", 120, required=True)
    taken = db.session.scalar(
        sa.select(WorkingGroup.id).where(
            sa.func.lower(WorkingGroup.name) == name.lower(),
            WorkingGroup.id != (group.id if group else 0),
        )
    )
    if taken:
        raise OperationError(f"There is already a working group called “{name}”.", field="name")
    return name


def create_group(actor: User | None, name: str, purpose: str | None = None) -> WorkingGroup:
    group = WorkingGroup(
        name=_clean_name(name), purpose=clean_text(purpose, "purpose", "Purpose", 5_000)
    )
    audit.add_recorded(actor, group, "working_group", summary=f"Created {name}")
    return group


def update_group(
    actor: User | None,
    group: WorkingGroup,
    *,
    name: str,
    purpose: str | None,
    archived: bool = False,
    expected_version: int | None = None,
) -> WorkingGroup:
    with audit.updating(actor, group, "working_group", expected_version=expected_version):
        group.name = _clean_name(name, group)
        group.purpose = clean_text(purpose, "purpose", "Purpose", 5_000)
        group.archived = archived
    return group


def _staff(user_id: int | None, field: str, what: str) -> User | None:
    """The user as a group member or task owner: working groups are the staff's (admins,
    leads, volunteers). The message says what to do about anyone else."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        raise OperationError(f"That account no longer exists; choose another {what}.", field=field)
    if not user.active:
        raise OperationError(
            f"{user.name}'s account is deactivated: the {what} must be an active member of "
            "staff. Choose someone else, or ask an administrator to reactivate it "
            "(Admin › Users and invitations).",
            field=field,
        )
    if user.role not in STAFF_ROLES:
        raise OperationError(
            f"{user.name} is a {user.role.label.lower()}: the {what} must be an active member of "
            "staff (an administrator, advocacy lead or working-group volunteer). Choose someone "
            "else, or ask an administrator to give the account a staff role "
            "(Admin › Users and invitations).",
            field=field,
        )
    return user


def add_member(
    actor: User | None, group: WorkingGroup, user_id: int | None, role: MemberRole | str
) -> Membership:
    user = _staff(user_id, "user_id", "member")
    if user is None:
        raise OperationError("Choose who joins the group.", field="user_id")
    role = clean_choice(MemberRole, role, "a role in a group", field="role")
    if any(m.user_id == user.id for m in group.members):
        raise OperationError(f"{user.name} is already in {group.name}.", field="user_id")
    membership = Membership(user_id=user.id, role=role)
    group.members.append(membership)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "working_group",
        group.id,
        summary=f"{user.name} joined as {role.label.lower()}",
    )
    db.session.flush()
    return membership


def change_role(actor: User | None, membership: Membership, role: MemberRole | str) -> Membership:
    group, user = membership.group, membership.user
    role = clean_choice(MemberRole, role, "a role in a group", field="role")
    if role is membership.role:
        raise OperationError(f"{user.name} is already {role.label.lower()}.", field="role")
    old = membership.role
    membership.role = role
    audit.record(
        actor,
        AuditAction.UPDATE,
        "working_group",
        group.id,
        summary=f"{user.name} is now {role.label.lower()} (was {old.label.lower()})",
        changes={f"role of {user.name}": [old.value, role.value]},
    )
    db.session.flush()
    return membership


def remove_member(actor: User | None, membership: Membership) -> list[Task]:
    """`membership`'s person leaves the group. Their open tasks in it stay on its board,
    without an owner, for another member to take (each change audited). Returns those tasks."""
    group, user = membership.group, membership.user
    released = list(
        db.session.scalars(
            sa.select(Task).where(
                Task.group_id == group.id,
                Task.owner_id == user.id,
                Task.status.in_(OPEN_STATUSES),
            )
        )
    )
    for task in released:
        task.owner_id = None
        task.touch(actor)
        audit.record(
            actor,
            AuditAction.UPDATE,
            "task",
            task.id,
            summary=f"No owner: {user.name} left {group.name}",
            changes={"owner_id": [user.id, None]},
        )
    audit.record(actor, AuditAction.UPDATE, "working_group", group.id, summary=f"{user.name} left")
    group.members.remove(membership)
    db.session.flush()
    return released


@dataclass
class TaskFields:
    title: str
    description: str | None = None
    owner_id: int | None = None
    due_on: date | None = None
    group_id: int | None = None
    record_type: str | None = None
    record_id: int | None = None


def _apply(task: Task, fields: TaskFields) -> None:
    task.title = clean_text(fields.title, "title", "Title", 200, required=True)
    task.description = clean_text(fields.description, "description", "Description", 10_000)
    owner = _staff(fields.owner_id, "owner_id", "owner")
    group = None
    if fields.group_id is not None:
        group = db.session.get(WorkingGroup, fields.group_id)
        if group is None:
            raise OperationError("That working group does not exist.", field="group_id")
        if group.archived and task.group_id != group.id:
            raise OperationError(f"{group.name} is archived.", field="group_id")
        if owner is not None and all(m.user_id != owner.id for m in group.members):
            raise OperationError(
                f"{owner.name} is not in {group.name}; add them to the group first, or choose "
                "a member.",
                field="owner_id",
            )
    task.group_id = group.id if group else None
    task.owner_id = owner.id if owner else None
    if fields.due_on is not None and fields.due_on < EARLIEST:
        raise OperationError("That due date looks mistyped.", field="due_on")
    task.due_on = fields.due_on
    record_type = fields.record_type or None
    record_id = fields.record_id if record_type else None
    if fields.record_type or fields.record_id:
        kind = LINKABLE.get(fields.record_type or "")
        if kind is None or fields.record_id is None or kind.load(fields.record_id) is None:
            if task.id is None or (record_type, record_id) != (task.record_type, task.record_id):
                raise OperationError(
                    "The record this task is about no longer exists.", field="title"
                )
            # The task already pointed at it and it went since (removed by an import's undo,
            # say): the task stays editable, without the dead link.
            record_type = record_id = None
    task.record_type, task.record_id = record_type, record_id


def create_task(actor: User | None, fields: TaskFields) -> Task:
    task = Task(status=TaskStatus.TODO)
    _apply(task, fields)
    audit.add_recorded(actor, task, "task", summary=task.title)
    return task


def update_task(
    actor: User | None, task: Task, fields: TaskFields, *, expected_version: int | None = None
) -> Task:
    with audit.updating(actor, task, "task", expected_version=expected_version):
        _apply(task, fields)
    return task


def take_task(actor: User, task: Task, *, expected_version: int | None = None) -> Task:
    """`actor` becomes the owner of a task no one owns."""
    if task.owner_id is not None:
        owner = task.owner.name if task.owner else "someone"
        raise OperationError(f"{owner} already owns this task.", field="owner_id")
    return update_task(
        actor,
        task,
        TaskFields(
            title=task.title, description=task.description, owner_id=actor.id,
            due_on=task.due_on, group_id=task.group_id, record_type=task.record_type,
            record_id=task.record_id,
        ),
        expected_version=expected_version,
    )  # fmt: skip


def set_status(actor: User | None, task: Task, status: TaskStatus | str) -> Task:
    status = clean_choice(TaskStatus, status, "a task status", field="status")
    if status is task.status:
        raise OperationError(f"The task is already {status.label.lower()}.", field="status")
    old = task.status
    task.status = status
    task.done_at = utcnow() if status is TaskStatus.DONE else None
    task.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "task",
        task.id,
        changes={"status": [old.value, status.value]},
    )
    db.session.flush()
    return task


@deletion.detacher
def detach_tasks(actor: User | None, record_type: str, record_id: int) -> int:
    """The record `record_type` #`record_id` is being deleted: the tasks about it stay (the
    work is still someone's), without the link, which a new record could otherwise inherit
    with the id. Each is audited. Returns how many there were."""
    tasks = db.session.scalars(
        sa.select(Task).where(Task.record_type == record_type, Task.record_id == record_id)
    ).all()
    kind = LINKABLE.get(record_type)
    label = kind.label.lower() if kind else record_type
    for task in tasks:
        task.record_type = task.record_id = None
        task.touch(actor)
        audit.record(
            actor,
            AuditAction.UPDATE,
            "task",
            task.id,
            summary=f"The {label} it was about (#{record_id}) was deleted",
            changes={"record": [f"{record_type} {record_id}", None]},
        )
    db.session.flush()
    return len(tasks)
