"""Working groups and tasks: my tasks (with follow-ups), groups, their boards and members."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.auth.operations import staff_choices
from crm.core.access import Permission, requires
from crm.core.form_pages import submit_form
from crm.core.forms import show_operation_error
from crm.core.http import safe_next
from crm.core.unit_of_work import attempt
from crm.extensions import db
from crm.workgroups import operations, queries
from crm.workgroups.forms import GroupForm, MemberForm, TaskForm
from crm.workgroups.links import describe
from crm.workgroups.models import MemberRole, Membership, Task, TaskStatus, WorkingGroup

bp = Blueprint("workgroups", __name__, url_prefix="/work")
# Record pages (events, organizations, pledges, ...) list the tasks about them.
bp.add_app_template_global(queries.tasks_about, "tasks_about")


def _group(group_id: int) -> WorkingGroup:
    return db.session.get(WorkingGroup, group_id) or abort(404)


def _task(task_id: int) -> Task:
    return db.session.get(Task, task_id) or abort(404)


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _groups(include_archived: bool = False) -> list[WorkingGroup]:
    stmt = sa.select(WorkingGroup).order_by(WorkingGroup.name)
    if not include_archived:
        stmt = stmt.where(WorkingGroup.archived.is_(False))
    return list(db.session.scalars(stmt))


@bp.route("/")
@requires(Permission.TASKS)
def my_tasks():
    today = date.today()
    return render_template(
        "workgroups/my_tasks.html",
        todo=queries.my_list(current_user.id, today),
        unassigned=queries.unassigned(),
        today=today,
    )


@bp.route("/groups")
@requires(Permission.TASKS)
def groups():
    return render_template("workgroups/groups.html", groups=_groups(include_archived=True))


@bp.route("/groups/new", methods=["GET", "POST"])
@requires(Permission.WORKING_GROUPS_MANAGE)
def new_group():
    form = GroupForm()
    saved = submit_form(
        form, lambda: operations.create_group(current_user, form.name.data, form.purpose.data)
    )
    if saved.ok:
        group = saved.value
        flash(f"{group.name} is created.", "success")
        return redirect(url_for("workgroups.group", group_id=group.id))
    return render_template("workgroups/group_form.html", form=form, group=None), saved.status


@bp.route("/groups/<int:group_id>")
@requires(Permission.TASKS)
def group(group_id: int):
    group = _group(group_id)
    member_form = MemberForm()
    member_form.user_id.choices = staff_choices()
    return render_template(
        "workgroups/group.html",
        group=group,
        columns=queries.board(group),
        member_form=member_form,
        roles=list(MemberRole),
        today=date.today(),
    )


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
@requires(Permission.WORKING_GROUPS_MANAGE)
def edit_group(group_id: int):
    group = _group(group_id)
    form = GroupForm(obj=group)
    if request.method == "GET":
        form.version.data = str(group.version)
    saved = submit_form(
        form,
        lambda: operations.update_group(
            current_user,
            group,
            name=form.name.data,
            purpose=form.purpose.data,
            archived=form.archived.data,
            expected_version=form.loaded_version(),
        ),
    )
    if saved.ok:
        flash("The group is saved.", "success")
        return redirect(url_for("workgroups.group", group_id=group.id))
    if saved.conflict:
        show_operation_error(form, saved.error)  # flashed above the form (no conflict view here)
    return render_template(
        "workgroups/group_form.html", form=form, group=group
    ), 422 if form.errors else 200


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@requires(Permission.WORKING_GROUPS_MANAGE)
def add_member(group_id: int):
    group = _group(group_id)
    form = MemberForm()
    done = attempt(
        lambda: operations.add_member(
            current_user, group, _int(form.user_id.data), form.role.data or ""
        )
    )
    if done.ok:
        flash(f"{done.value.user.name} joined {group.name}.", "success")
    return redirect(url_for("workgroups.group", group_id=group.id))


@bp.route("/members/<int:membership_id>/remove", methods=["POST"])
@requires(Permission.WORKING_GROUPS_MANAGE)
def remove_member(membership_id: int):
    membership = db.session.get(Membership, membership_id) or abort(404)
    group_id = membership.group_id
    name = membership.user.name
    done = attempt(lambda: operations.remove_member(current_user, membership))
    if done.ok:
        n = len(done.value)
        flash(
            f"{name} left the group."
            + (
                f" Their {n} open task{'s are' if n != 1 else ' is'} on the board without an "
                "owner, for another member to take."
                if n
                else ""
            ),
            "success",
        )
    return redirect(url_for("workgroups.group", group_id=group_id))


@bp.route("/members/<int:membership_id>/role", methods=["POST"])
@requires(Permission.WORKING_GROUPS_MANAGE)
def change_role(membership_id: int):
    membership = db.session.get(Membership, membership_id) or abort(404)
    if attempt(
        lambda: operations.change_role(current_user, membership, request.form.get("role", ""))
    ).ok:
        flash(f"{membership.user.name} is now {membership.role.label.lower()}.", "success")
    return redirect(url_for("workgroups.group", group_id=membership.group_id))


def _task_fields(form: TaskForm) -> operations.TaskFields:
    return operations.TaskFields(
        title=form.title.data,
        description=form.description.data,
        owner_id=_int(form.owner_id.data),
        due_on=form.due_on.data,
        group_id=_int(form.group_id.data),
        record_type=form.record_type.data or None,
        record_id=_int(form.record_id.data),
    )


def _task_form(task: Task | None) -> TaskForm:
    form = TaskForm(obj=task)
    form.group_id.choices = [("", "—")] + [(str(g.id), g.name) for g in _groups()]
    form.owner_id.choices = [("", "—"), *staff_choices()]
    return form


def _render_task(form: TaskForm, task: Task | None, status: int, conflict: bool = False):
    link = describe(form.record_type.data or None, _int(form.record_id.data))
    return render_template(
        "workgroups/task_form.html",
        form=form,
        task=task,
        link=link,
        statuses=list(TaskStatus),
        conflict=conflict,
    ), status


@bp.route("/tasks/new", methods=["GET", "POST"])
@requires(Permission.TASKS)
def new_task():
    form = _task_form(None)
    if request.method == "GET":
        form.owner_id.data = str(current_user.id)
        form.group_id.data = request.args.get("group", "")
        form.record_type.data = request.args.get("record_type", "")
        form.record_id.data = request.args.get("record_id", "")
    saved = submit_form(form, lambda: operations.create_task(current_user, _task_fields(form)))
    if saved.ok:
        task = saved.value
        if task.group_id:
            flash("The task is saved.", "success")
            return redirect(url_for("workgroups.group", group_id=task.group_id))
        if task.owner_id is None:
            flash("The task is saved under Unassigned, for anyone to take.", "success")
            return redirect(url_for("workgroups.my_tasks", _anchor="unassigned"))
        flash("The task is saved.", "success")
        return redirect(url_for("workgroups.my_tasks"))
    return _render_task(form, None, saved.status)


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
@requires(Permission.TASKS)
def edit_task(task_id: int):
    task = _task(task_id)
    form = _task_form(task)
    if request.method == "GET":
        form.owner_id.data = str(task.owner_id or "")
        form.group_id.data = str(task.group_id or "")
        form.record_id.data = str(task.record_id or "")
        form.version.data = str(task.version)
    saved = submit_form(
        form,
        lambda: operations.update_task(
            current_user, task, _task_fields(form), expected_version=form.loaded_version()
        ),
        record=task,
    )
    if saved.ok:
        flash("The task is saved.", "success")
        return redirect(url_for("workgroups.edit_task", task_id=task.id))
    return _render_task(form, task, saved.status, conflict=saved.conflict)


@bp.route("/tasks/<int:task_id>/take", methods=["POST"])
@requires(Permission.TASKS)
def take_task(task_id: int):
    task = _task(task_id)
    if attempt(lambda: operations.take_task(current_user, task)).ok:
        flash(f"“{task.title}” is yours now.", "success")
    return redirect(url_for("workgroups.my_tasks"))


@bp.route("/tasks/<int:task_id>/status", methods=["POST"])
@requires(Permission.TASKS)
def task_status(task_id: int):
    task = _task(task_id)
    if attempt(
        lambda: operations.set_status(current_user, task, request.form.get("status", ""))
    ).ok:
        flash(f"“{task.title}”: {task.status.label.lower()}.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("workgroups.my_tasks"))
