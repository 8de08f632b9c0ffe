"""The group board page (a column per
status, overdue marked, moving a card), a task about an event, a contact or a champion listed on
that record's page, an engagement follow-up done from "My tasks", and another person's tasks
kept off mine; a task about a record that is deleted keeps working, without the link."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.workgroups import operations, queries
from crm.workgroups.models import Task, TaskStatus

TODAY = date.today()


def board_column(page: str, label: str) -> str:
    match = re.search(
        rf'<section class="pipeline-column[^"]*" aria-label="{label}">(.*?)</section>', page, re.S
    )
    assert match, f"no column {label}"
    return match.group(1)


def test_the_group_board_shows_each_task_in_its_column_and_moves_it(client, as_role, db):
    lead = as_role("lead")
    group = operations.create_group(None, "Advocacy")
    operations.add_member(None, group, lead.id, "coordinator")
    late = operations.create_task(
        None, operations.TaskFields(title="Late brief", owner_id=lead.id, group_id=group.id,
                                    due_on=TODAY - timedelta(days=2)),
    )  # fmt: skip
    operations.create_task(None, operations.TaskFields(title="Unowned idea", group_id=group.id))
    finished = operations.create_task(
        None, operations.TaskFields(title="Old deck", owner_id=lead.id, group_id=group.id,
                                    due_on=TODAY - timedelta(days=30)),
    )  # fmt: skip
    operations.set_status(None, finished, "done")
    db.session.commit()
    page = client.get(f"/work/groups/{group.id}").get_data(as_text=True)
    todo, done = board_column(page, "To do"), board_column(page, "Done")
    assert "Late brief" in todo and "Unowned idea" in todo and "No owner" in todo
    assert "Old deck" in done and "Late brief" not in done
    assert "text-danger" in todo.split("Late brief", 1)[1].split("pipeline-card", 1)[0]
    assert "text-danger" not in done  # a done task is not overdue
    response = client.post(
        f"/work/tasks/{late.id}/status",
        data={"status": "blocked", "next": f"/work/groups/{group.id}"},
    )
    assert response.headers["Location"].endswith(f"/work/groups/{group.id}")
    page = client.get(f"/work/groups/{group.id}").get_data(as_text=True)
    assert "Late brief" in board_column(page, "Blocked")
    assert "Late brief" not in board_column(page, "To do")


def test_tasks_about_an_event_a_contact_or_a_champion_show_on_its_page(
    client, as_role, db, make_contact
):
    from crm.champions.operations import pipeline as champion_ops
    from crm.events.operations import events as event_ops

    lead = as_role("lead")
    start = datetime.now().replace(microsecond=0) + timedelta(days=5)
    event = event_ops.create_event(
        None,
        event_ops.EventFields(name="Dhaka roundtable", kind="roundtable", hosting="hosted",
                              starts_local=start, ends_local=start + timedelta(hours=2),
                              timezone="Asia/Dhaka"),
    )  # fmt: skip
    person = make_contact("Nasrin", "Akter")
    champion = champion_ops.enter_pipeline(
        None, make_contact("Kofi", "Mensah"), champion_ops.ChampionFields()
    )
    db.session.commit()
    cases = [
        ("event", event.id, f"/events/{event.id}", "Book the room"),
        ("contact", person.id, f"/contacts/{person.id}", "Send Nasrin the draft"),
        ("champion", champion.id, f"/champions/{champion.id}", "Ask Kofi for a talk"),
    ]
    for record_type, record_id, url, title in cases:
        response = client.post(
            "/work/tasks/new",
            data={"title": title, "owner_id": lead.id, "record_type": record_type,
                  "record_id": record_id},
        )  # fmt: skip
        assert response.status_code == 302, record_type
        page = client.get(url).get_data(as_text=True)
        assert title in page, record_type
        assert f"record_type={record_type}&amp;record_id={record_id}" in page, record_type
    tasks = db.session.scalars(sa.select(Task).order_by(Task.id)).all()
    assert [(t.record_type, t.record_id) for t in tasks] == [(c[0], c[1]) for c in cases]


def test_a_follow_up_done_from_my_tasks_leaves_the_list(client, as_role, db, make_contact):
    from crm.engagements.operations import EngagementFields, log_engagement

    me = as_role("volunteer")
    engagement = log_engagement(
        me,
        EngagementFields(kind="meeting", occurred_on=TODAY - timedelta(days=5),
                         summary="Met the brand", contact_ids=[make_contact().id],
                         follow_up_on=TODAY + timedelta(days=1), follow_up_owner_id=me.id,
                         follow_up_note="Send the pledge form"),
    )  # fmt: skip
    db.session.commit()
    page = client.get("/work/").get_data(as_text=True)
    assert "Send the pledge form" in page and 'id="todo-due-this-week"' in page
    response = client.post(f"/engagements/{engagement.id}/follow-up-done", data={"next": "/work/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/work/")
    db.session.refresh(engagement)
    assert engagement.follow_up_done_at is not None
    page = client.get("/work/").get_data(as_text=True)
    assert "Send the pledge form" not in page and "Nothing to do" in page


def test_my_tasks_hold_only_my_open_tasks_and_follow_ups(client, as_role, make_user, db,
                                                          make_contact):  # fmt: skip
    from crm.engagements.operations import EngagementFields, log_engagement

    me = as_role("volunteer")
    someone = make_user("volunteer")
    operations.create_task(None, operations.TaskFields(title="Theirs", owner_id=someone.id,
                                                       due_on=TODAY))  # fmt: skip
    log_engagement(
        someone,
        EngagementFields(kind="call", occurred_on=TODAY, summary="Their call",
                         contact_ids=[make_contact().id], follow_up_on=TODAY,
                         follow_up_owner_id=someone.id, follow_up_note="Their follow-up"),
    )  # fmt: skip
    mine = operations.create_task(None, operations.TaskFields(title="Mine", owner_id=me.id,
                                                              due_on=TODAY))  # fmt: skip
    db.session.commit()
    with client.application.test_request_context():
        todo = queries.my_list(me.id, TODAY)
    assert [i.title for i in todo.this_week] == ["Mine"] and todo.count == 1
    operations.set_status(None, mine, TaskStatus.BLOCKED)  # blocked is still open
    db.session.commit()
    with client.application.test_request_context():
        assert [i.title for i in queries.my_list(me.id, TODAY).this_week] == ["Mine"]
    page = client.get("/work/").get_data(as_text=True)
    assert "Theirs" not in page and "Their follow-up" not in page


def _deletable(kind, db, make_org, make_contact):
    from crm.champions.operations import pipeline as champion_ops
    from crm.events.operations import events as event_ops

    if kind == "organization":
        org = make_org("Made by mistake")
        return org.id, f"/organizations/{org.id}/delete"
    if kind == "contact":
        person = make_contact("Mis", "Take")
        return person.id, f"/contacts/{person.id}/delete"
    if kind == "event":
        start = datetime.now().replace(microsecond=0) + timedelta(days=5)
        event = event_ops.create_event(
            None,
            event_ops.EventFields(name="Mistake", kind="webinar", hosting="hosted",
                                  starts_local=start, ends_local=start + timedelta(hours=1),
                                  timezone="UTC"),
        )  # fmt: skip
        db.session.commit()
        return event.id, f"/events/{event.id}/delete"
    champion = champion_ops.enter_pipeline(None, make_contact(), champion_ops.ChampionFields())
    db.session.commit()
    return champion.id, f"/champions/{champion.id}/remove"


@pytest.mark.parametrize("kind", ["organization", "contact", "event", "champion"])
def test_deleting_a_record_keeps_its_tasks_without_the_link(
    client, as_role, db, make_org, make_contact, kind
):
    """The task stays (someone has work to do), editable, and no longer points at an id that a
    new record could be given."""
    from crm.audit.models import AuditEntry

    lead = as_role("lead")
    record_id, delete_url = _deletable(kind, db, make_org, make_contact)
    task = operations.create_task(
        None, operations.TaskFields(title="Follow this up", owner_id=lead.id, record_type=kind,
                                    record_id=record_id),
    )  # fmt: skip
    db.session.commit()
    assert client.post(delete_url).status_code == 302
    db.session.refresh(task)
    assert (task.record_type, task.record_id) == (None, None), kind
    trail = db.session.scalars(
        sa.select(AuditEntry.summary).where(AuditEntry.object_type == "task",
                                            AuditEntry.object_id == task.id)
    ).all()  # fmt: skip
    assert any("was deleted" in (s or "") for s in trail), trail
    response = client.post(
        f"/work/tasks/{task.id}",
        data={"title": "Follow this up, renamed", "owner_id": lead.id, "version": task.version},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.refresh(task)
    assert task.title == "Follow this up, renamed"


def test_a_task_whose_record_vanished_another_way_can_still_be_saved(client, as_role, db, make_org):
    """A record removed without the delete operation (an import undone, a database fix): the
    task's page still saves, dropping the link; a new link to a missing record is refused."""
    from crm.core.errors import OperationError
    from crm.organizations.models import Organization

    lead = as_role("lead")
    org = make_org("Imported by mistake")
    task = operations.create_task(
        None, operations.TaskFields(title="Call them", owner_id=lead.id,
                                    record_type="organization", record_id=org.id),
    )  # fmt: skip
    db.session.commit()
    db.session.execute(sa.delete(Organization).where(Organization.id == org.id))
    db.session.commit()
    page = client.get(f"/work/tasks/{task.id}")
    assert page.status_code == 200
    response = client.post(
        f"/work/tasks/{task.id}",
        data={"title": "Call them", "owner_id": lead.id, "due_on": TODAY.isoformat(),
              "record_type": "organization", "record_id": org.id, "version": task.version},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.refresh(task)
    assert (task.due_on, task.record_type, task.record_id) == (TODAY, None, None)
    with pytest.raises(OperationError, match="no longer exists"):
        operations.update_task(
            None, task,
            operations.TaskFields(title="Call them", record_type="organization", record_id=org.id),
        )  # fmt: skip
