"""Demo working groups with members and tasks, some linked to events and pledges."""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.events.models import Event
from crm.extensions import db
from crm.pledges.models import Pledge
from crm.workgroups.models import MemberRole, Membership, Task, TaskStatus, WorkingGroup

GROUPS = {
    "Standards 2.0": (
        "Consult on 1.0, draft the 2.0 recommendations and run the public consultation.",
        ["Summarize 1.0 review comments on P3", "Draft the P5 security recommendation",
         "Invite unions to the 2.0 consultation", "Compare 2.0 draft with ILO guidance"],
    ),
    "Advocacy": (
        "Champions, events and pledge drives.",
        ["Brief speakers for the Dhaka roundtable", "Follow up lapsing champions",
         "Pledge drive with the footwear brands", "Thank webinar attendees"],
    ),
    "Research": (
        "When worker-engagement technology works, and when it fails.",
        ["Case study: SMS survey in Bangladesh", "Interview helpline operators",
         "Collect outcomes of digital wage pilots"],
    ),
}  # fmt: skip


def load(rng: random.Random, staff: list[User]) -> int:
    today = date.today()
    events = db.session.scalars(sa.select(Event.id)).all()
    pledges = db.session.scalars(sa.select(Pledge.id)).all()
    count = 0
    for name, (purpose, titles) in GROUPS.items():
        group = WorkingGroup(name=name, purpose=purpose, created_by_id=staff[0].id)
        db.session.add(group)
        db.session.flush()
        members = rng.sample(staff, min(len(staff), 3))
        for n, user in enumerate(members):
            role = MemberRole.CHAIR if n == 0 else MemberRole.MEMBER
            db.session.add(Membership(group_id=group.id, user_id=user.id, role=role))
        for title in titles:
            task = Task(
                group_id=group.id,
                title=title,
                owner_id=rng.choice(members).id,
                due_on=today + timedelta(days=rng.randint(-10, 30)),
                status=rng.choice(
                    [TaskStatus.TODO, TaskStatus.TODO, TaskStatus.DOING, TaskStatus.DONE]
                ),  # fmt: skip
                created_by_id=staff[0].id,
            )
            if "roundtable" in title and events:
                task.record_type, task.record_id = "event", events[0]
            elif "Pledge" in title and pledges:
                task.record_type, task.record_id = "pledge", pledges[0]
            db.session.add(task)
            count += 1
    db.session.flush()
    return count
