from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.core.errors import OperationError
from crm.workgroups import operations, queries
from crm.workgroups.models import Task, TaskStatus, WorkingGroup

TODAY = date.today()


@pytest.fixture
def group(db, make_user):
    g = operations.create_group(None, "Standards 2.0", "Drafting the 2.0 recommendations")
    db.session.commit()
    return g


def test_a_lead_creates_a_group_and_adds_members(client, as_role, make_user, db):
    as_role("lead")
    volunteer = make_user("volunteer", name="Victor Santos")
    response = client.post("/work/groups/new", data={"name": "Research", "purpose": "Lessons"})
    assert response.status_code == 302
    group = db.session.scalar(sa.select(WorkingGroup))
    client.post(f"/work/groups/{group.id}/members", data={"user_id": volunteer.id, "role": "chair"})
    db.session.refresh(group)
    assert [(m.user.name, m.role.value) for m in group.members] == [("Victor Santos", "chair")]
    page = client.get(f"/work/groups/{group.id}").get_data(as_text=True)
    assert "Victor Santos" in page and "Chair" in page


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "This field is required."), ("standards 2.0", "There is already a working group")],
)
def test_bad_group_names_are_refused(client, as_role, group, db, name, message):
    as_role("lead")
    response = client.post("/work/groups/new", data={"name": name})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkingGroup)) == 1


def test_members_are_active_staff_once_each(group, make_user, db):
    volunteer = make_user("volunteer")
    operations.add_member(None, group, volunteer.id, "member")
    with pytest.raises(OperationError, match="already in Standards 2.0"):
        operations.add_member(None, group, volunteer.id, "chair")
    champion = make_user("champion", name="Cam Champion")
    with pytest.raises(
        OperationError,
        match="Cam Champion is a champion: the member must be an "
        "active member of staff .* ask an administrator to give the account a "
        "staff role",
    ):
        operations.add_member(None, group, champion.id, "member")
    with pytest.raises(
        OperationError,
        match="deactivated: the member must be an active member "
        "of staff. Choose someone else, or ask an administrator to reactivate it",
    ):
        operations.add_member(None, group, make_user("volunteer", active=False).id, "member")


def test_task_owner_in_a_group_must_be_a_member(group, make_user, db):
    outsider = make_user("volunteer", name="Out Sider")
    with pytest.raises(OperationError, match="Out Sider is not in Standards 2.0"):
        operations.create_task(
            None, operations.TaskFields(title="Draft P3", owner_id=outsider.id, group_id=group.id)
        )
    operations.add_member(None, group, outsider.id, "member")
    task = operations.create_task(
        None, operations.TaskFields(title="Draft P3", owner_id=outsider.id, group_id=group.id)
    )
    assert task.status is TaskStatus.TODO


def test_a_task_links_to_any_record_and_shows_it(client, as_role, make_org, db):
    lead = as_role("lead")
    org = make_org("Atlas Apparel")
    response = client.post(
        "/work/tasks/new",
        data={
            "title": "Call about the pledge",
            "owner_id": lead.id,
            "record_type": "organization",
            "record_id": org.id,
            "due_on": TODAY.isoformat(),
        },  # fmt: skip
    )
    assert response.status_code == 302
    task = db.session.scalar(sa.select(Task))
    page = client.get(f"/work/tasks/{task.id}").get_data(as_text=True)
    assert "Organization: Atlas Apparel" in page and f"/organizations/{org.id}" in page
    with pytest.raises(OperationError, match="no longer exists"):
        operations.create_task(
            None, operations.TaskFields(title="X", record_type="event", record_id=987654)
        )


def test_my_tasks_show_tasks_and_follow_ups_by_due_date(client, as_role, make_contact, db):
    from crm.engagements.operations import EngagementFields, log_engagement

    me = as_role("volunteer")
    operations.create_task(
        None, operations.TaskFields(title="Late task", owner_id=me.id, due_on=TODAY - timedelta(1))
    )
    operations.create_task(
        None, operations.TaskFields(title="Soon task", owner_id=me.id, due_on=TODAY + timedelta(2))
    )
    operations.create_task(None, operations.TaskFields(title="Someday task", owner_id=me.id))
    log_engagement(
        me,
        EngagementFields(
            kind="call",
            occurred_on=TODAY - timedelta(days=3),
            summary="Call with the union",
            contact_ids=[make_contact().id],
            follow_up_on=TODAY - timedelta(days=1),
            follow_up_owner_id=me.id,
            follow_up_note="Send the minutes",
        ),
    )
    db.session.commit()
    with client.application.test_request_context():
        todo = queries.my_list(me.id, TODAY)
    assert sorted(i.title for i in todo.overdue) == ["Late task", "Send the minutes"]
    assert [i.title for i in todo.this_week] == ["Soon task"]
    assert [i.title for i in todo.undated] == ["Someday task"]
    page = client.get("/work/").get_data(as_text=True)
    assert "Send the minutes" in page and "Late task" in page


def test_done_tasks_leave_the_list_and_the_board_moves(client, as_role, group, db):
    me = as_role("volunteer")
    operations.add_member(None, group, me.id, "member")
    task = operations.create_task(
        None, operations.TaskFields(title="Draft P3", owner_id=me.id, group_id=group.id)
    )
    db.session.commit()
    client.post(f"/work/tasks/{task.id}/status", data={"status": "doing"})
    db.session.refresh(task)
    assert task.status is TaskStatus.DOING
    assert [t.id for t in queries.board(group)[TaskStatus.DOING]] == [task.id]
    client.post(f"/work/tasks/{task.id}/status", data={"status": "done"})
    db.session.refresh(task)
    assert task.status is TaskStatus.DONE and task.done_at is not None
    with client.application.test_request_context():
        assert queries.my_list(me.id, TODAY).count == 0
    response = client.post(f"/work/tasks/{task.id}/status", data={"status": "finished"})
    assert "is not a task status" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_member_who_leaves_leaves_their_open_tasks_on_the_board(
    client, as_role, group, make_user, db
):
    member = make_user("volunteer", name="Mia Member")
    membership = operations.add_member(None, group, member.id, "member")
    open_task = operations.create_task(
        None, operations.TaskFields(title="Open", owner_id=member.id, group_id=group.id)
    )
    done = operations.create_task(
        None, operations.TaskFields(title="Done", owner_id=member.id, group_id=group.id)
    )
    operations.set_status(None, done, "done")
    db.session.commit()
    lead = as_role("lead")
    response = client.post(f"/work/members/{membership.id}/remove", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Mia Member left the group. Their 1 open task is on the board without an owner" in page
    db.session.expire_all()
    assert db.session.get(Task, open_task.id).owner_id is None
    assert db.session.get(Task, done.id).owner_id == member.id  # the record of who did it
    assert [m.user_id for m in db.session.get(WorkingGroup, group.id).members] == []
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.object_type == "task",
                                    AuditEntry.object_id == open_task.id)
        .order_by(AuditEntry.id.desc()).limit(1)
    )  # fmt: skip
    assert entry.actor_id == lead.id and entry.changes == {"owner_id": [member.id, None]}
    assert entry.summary == "No owner: Mia Member left Standards 2.0"


def test_a_lead_changes_a_members_role(client, as_role, group, make_user, db):
    member = make_user("volunteer", name="Mia Member")
    membership = operations.add_member(None, group, member.id, "member")
    db.session.commit()
    lead = as_role("lead")
    page = client.get(f"/work/groups/{group.id}").get_data(as_text=True)
    assert (
        f"/work/members/{membership.id}/role" in page and 'aria-label="Role of Mia Member"' in page
    )
    response = client.post(
        f"/work/members/{membership.id}/role", data={"role": "coordinator"}, follow_redirects=True
    )
    assert "Mia Member is now coordinator." in response.get_data(as_text=True)
    db.session.refresh(membership)
    assert membership.role.value == "coordinator"
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.object_type == "working_group")
        .order_by(AuditEntry.id.desc()).limit(1)
    )  # fmt: skip
    assert entry.actor_id == lead.id
    assert entry.summary == "Mia Member is now coordinator (was member)"
    assert entry.changes == {"role of Mia Member": ["member", "coordinator"]}
    for role, message in (("coordinator", "already coordinator"), ("boss", "is not a role")):
        response = client.post(
            f"/work/members/{membership.id}/role", data={"role": role}, follow_redirects=True
        )
        assert message in response.get_data(as_text=True)
    as_role("volunteer")
    assert (
        client.post(f"/work/members/{membership.id}/role", data={"role": "chair"}).status_code
        == 403
    )
    db.session.refresh(membership)
    assert membership.role.value == "coordinator"


def test_volunteers_do_tasks_but_do_not_manage_groups(client, as_role, group):
    as_role("volunteer")
    assert client.get("/work/").status_code == 200
    assert client.get(f"/work/groups/{group.id}").status_code == 200
    assert client.get("/work/groups/new").status_code == 403
    assert client.post(f"/work/groups/{group.id}/members", data={}).status_code == 403
    as_role("viewer")
    assert client.get("/work/").status_code == 403


def test_record_pages_list_their_tasks(client, as_role, make_org, db):
    lead = as_role("lead")
    org = make_org("Atlas Apparel")
    operations.create_task(
        None,
        operations.TaskFields(
            title="Call Atlas about the pledge",
            owner_id=lead.id,
            record_type="organization",
            record_id=org.id,
        ),  # fmt: skip
    )
    db.session.commit()
    page = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert "Call Atlas about the pledge" in page
    assert f"/work/tasks/new?record_type=organization&amp;record_id={org.id}" in page


def test_a_task_can_be_about_a_consultation(ctx, db, make_user):
    from crm.consultations.models import Consultation
    from crm.standards.models import Standard
    from crm.workgroups.links import describe

    standard = db.session.scalar(sa.select(Standard).limit(1))
    consultation = Consultation(
        standard_id=standard.id, title="1.0 review", opens_on=TODAY, closes_on=TODAY,
        access="public",
    )  # fmt: skip
    db.session.add(consultation)
    db.session.flush()
    task = operations.create_task(
        None,
        operations.TaskFields(
            title="Summarize P3 comments", record_type="consultation", record_id=consultation.id
        ),
    )
    link = describe(task.record_type, task.record_id)
    assert link.label == "Consultation: 1.0 review" and link.url.endswith(f"/{consultation.id}")


def test_a_task_with_no_owner_and_no_group_is_listed_as_unassigned(client, as_role, make_user, db):
    me = as_role("volunteer")
    response = client.post("/work/tasks/new", data={"title": "Translate the FAQ", "owner_id": ""})
    assert response.headers["Location"].endswith("/work/#unassigned")
    task = db.session.scalar(sa.select(Task).where(Task.title == "Translate the FAQ"))
    assert (task.owner_id, task.group_id) == (None, None)
    # Everyone with tasks sees it, on the tasks page, until someone takes it.
    as_role("lead")
    page = client.get("/work/").get_data(as_text=True)
    assert 'id="unassigned"' in page and "Translate the FAQ" in page
    client.post(f"/work/tasks/{task.id}/take")
    db.session.refresh(task)
    assert task.owner_id != me.id and task.owner.role.value == "lead"
    page = client.get("/work/").get_data(as_text=True)
    assert 'id="unassigned"' not in page and "Translate the FAQ" in page  # now on my list
    as_role("volunteer")
    response = client.post(f"/work/tasks/{task.id}/take", follow_redirects=True)
    assert "already owns this task" in response.get_data(as_text=True)


def test_my_tasks_name_a_follow_up_once_and_write_dates_in_full(client, as_role, make_contact, db):
    from crm.engagements.operations import EngagementFields, log_engagement

    me = as_role("volunteer")
    due = date(2026, 12, 3)
    operations.create_task(None, operations.TaskFields(title="Send the deck", owner_id=me.id,
                                                       due_on=due))  # fmt: skip
    log_engagement(
        me,
        EngagementFields(
            kind="meeting", occurred_on=date(2026, 11, 2), summary="Follow-up on adoption pledge",
            contact_ids=[make_contact().id], follow_up_on=due, follow_up_owner_id=me.id,
        ),
    )  # fmt: skip
    db.session.commit()
    page = client.get("/work/").get_data(as_text=True)
    assert "Follow-up of" not in page and "Follow up: " not in page
    assert page.count(">Follow-up on adoption pledge<") == 1  # the title, once (and an aria-label)
    assert "3 December 2026</span> · Follow-up · Meeting of 2 November 2026" in page
    assert "3 December 2026</span> · To do" in page and "03 Dec" not in page


def test_contributors_have_a_link_to_the_shared_case_studies(client, as_role):
    for role in ("champion", "org_rep"):
        as_role(role)
        page = client.get("/library/mine").get_data(as_text=True)
        assert 'href="/learn/"' in page and "Lessons</a>" in page
