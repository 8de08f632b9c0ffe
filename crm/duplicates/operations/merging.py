"""What merging two contacts and merging two organizations share: the fields a lead picks
from, every linked table a merge moves, the count of what moved, repointing and unioning link
rows, the lead's choice per field, and the merge's record and audit trail (MergeTrail).

A merge keeps one record (the survivor), takes field by field what the lead chose from the
other, moves every record linked to the other onto the survivor, deletes the other and writes
the audit trail on both. Every table with a foreign key to contact or organization is handled
in `contact_merge` and `organization_merge` (tests/duplicates/test_linked_records.py fails when
a new one appears that is not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction, AuditEntry
from crm.audit.operations import own_entries
from crm.contacts.models import Contact
from crm.core.db import rows_touched
from crm.core.errors import OperationError, check_version
from crm.duplicates import store
from crm.duplicates.models import DuplicateDismissal, DuplicateKind, DuplicateMerge
from crm.events.models import Participation
from crm.extensions import db
from crm.organizations.models import Organization
from crm.workgroups.models import Task

Choice = Literal["survivor", "other", "both"]


# Fields a lead picks from one record or the other. Notes can also keep both.
CONTACT_FIELDS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "title": "Job title",
    "organization_id": "Organization",
    "country": "Country",
    "languages": "Languages",
    "owner_id": "Owner",
    "notes": "Notes",
}


ORGANIZATION_FIELDS: dict[str, str] = {
    "name": "Name",
    "kind": "Kind",
    "sector": "Sector",
    "country": "Country",
    "website": "Website",
    "notes": "Notes",
}


JOINABLE = {"notes"}


# Every (table, column) referring to contact.id / organization.id that a merge moves. The test
# compares these with the metadata, so a new foreign key cannot be forgotten.
CONTACT_LINKS = {
    ("engagement_contact", "contact_id"),
    ("contact_tag", "contact_id"),
    ("participation", "contact_id"),
    ("champion", "contact_id"),
    ("response", "contact_id"),
    ("pledge", "signatory_id"),
    ("outbox_message", "contact_id"),
    ("topic_opt_out", "contact_id"),
    ("user", "contact_id"),
}


ORGANIZATION_LINKS = {
    ("contact", "organization_id"),
    ("engagement", "organization_id"),
    ("endorsement", "referred_organization_id"),
    ("pledge", "organization_id"),
    ("case_study_organization", "organization_id"),
    ("organization_tag", "organization_id"),
    ("user", "organization_id"),
}


@dataclass
class Moved:
    """What a merge moved, for the audit trail and the message after it."""

    counts: dict[str, int]
    notes: list[str]
    # People given a place freed by the merge (both records had one in the same event), to be
    # told by the caller once the merge is committed.
    promoted: list[Participation] = field(default_factory=list)

    def summary(self) -> str:
        parts = [counted(n, label) for label, n in self.counts.items() if n]
        return ", ".join(parts) or "no linked records"


_SINGULAR = {
    "engagements": "engagement", "event participations": "event participation",
    "endorsements": "endorsement", "consultation responses": "consultation response",
    "pledges signed": "pledge signed", "campaign emails": "campaign email",
    "email topic opt-outs": "email topic opt-out", "user accounts": "user account",
    "tasks": "task", "contacts": "contact", "pledges": "pledge", "referrals": "referral",
    "case studies": "case study", "representative accounts": "representative account",
}  # fmt: skip


def counted(n: int, plural: str) -> str:
    """'1 engagement', '3 engagements'."""
    return f"{n} {_SINGULAR.get(plural, plural) if n == 1 else plural}"


def _table(name: str) -> sa.Table:
    return db.metadata.tables[name]


def repoint(table: str, column: str, old: int, new: int) -> int:
    t = _table(table)
    result = db.session.execute(sa.update(t).where(t.c[column] == old).values({column: new}))
    return rows_touched(result)


def union(table: str, column: str, other_key: str, old: int, new: int) -> int:
    """Move link rows of `old` to `new`, dropping those `new` already has (same other key)."""
    drop_shared(table, column, other_key, old, new)
    return repoint(table, column, old, new)


def drop_shared(table: str, column: str, other_key: str, old: int, new: int) -> int:
    """Delete `old`'s link rows that `new` has too (kept once); how many there were."""
    t = _table(table)
    already = sa.select(t.c[other_key]).where(t.c[column] == new).scalar_subquery()
    result = db.session.execute(sa.delete(t).where(t.c[column] == old, t.c[other_key].in_(already)))
    return rows_touched(result)


def retarget_tasks(record_type: str, old: int, new: int) -> int:
    result = db.session.execute(
        sa.update(Task)
        .where(Task.record_type == record_type, Task.record_id == old)
        .values(record_id=new)
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


def _forget_dismissals(kind: DuplicateKind, record_id: int) -> None:
    db.session.execute(
        sa.delete(DuplicateDismissal).where(
            DuplicateDismissal.kind == kind,
            sa.or_(DuplicateDismissal.low_id == record_id, DuplicateDismissal.high_id == record_id),
        )
    )


def chosen(choices: dict[str, Choice], name: str, survivor_value: Any, other_value: Any) -> Any:
    """The value the lead picked; without a choice the survivor's, or the other's if blank."""
    choice = choices.get(name)
    if choice not in (None, "survivor", "other", "both"):
        raise OperationError(f"“{choice}” is not a choice for {name}.", field=name)
    if choice == "both" and name in JOINABLE:
        texts = [t for t in (survivor_value, other_value) if t and t.strip()]
        if len(texts) == 2 and texts[0].strip() == texts[1].strip():
            texts = texts[:1]
        return "\n\n".join(texts) or None
    if choice == "both":
        raise OperationError(f"Only notes can keep both values, not {name}.", field=name)
    if choice == "other":
        return other_value
    if choice is None and survivor_value in (None, "") and other_value not in (None, ""):
        return other_value
    return survivor_value


def values_after_merge(
    survivor: Any,
    other: Any,
    fields: Iterable[str],
    choices: dict[str, Choice] | None,
    refusals: list[str],
) -> dict[str, Any]:
    """The survivor's values after the merge, field by field as the lead chose (`chosen`);
    first refused, with nothing merged, when the pair's conflicts refuse it or a choice names a
    field that cannot be merged."""
    if refusals:
        raise OperationError(" ".join(refusals) + " Nothing was merged.")
    fields = tuple(fields)
    choices = choices or {}
    for name in choices:
        if name not in fields:
            raise OperationError(f"“{name}” is not a field that can be merged.")
    return {
        name: chosen(choices, name, getattr(survivor, name), getattr(other, name))
        for name in fields
    }


def check_pair(
    survivor: Any,
    other: Any,
    what: str,
    expected_versions: tuple[int | None, int | None] = (None, None),
) -> None:
    """Refuse a pair that is not two existing records, or one edited since the merge page was
    loaded; then hold both rows until the commit (on PostgreSQL: a second merge of either
    waits, then finds what this one did)."""
    gone = f"One of the two {what}s no longer exists (merged or deleted); nothing was merged."
    if survivor is None or other is None:
        raise OperationError(gone)
    if survivor.id == other.id:
        raise OperationError(f"A {what} cannot be merged into itself; nothing was merged.")
    model = type(survivor)
    locked = db.session.scalars(
        sa.select(model.id).where(model.id.in_([survivor.id, other.id])).with_for_update()
    ).all()
    if len(locked) != 2:
        raise OperationError(gone)
    check_version(survivor, expected_versions[0])
    check_version(other, expected_versions[1])


_NOT_WORTH_KEEPING = {"id", "sort_name", "search_text", "name_key", "created_by_id", "created_at"}


def merged_values(other_id: int, snapshot: dict[str, Any]) -> dict[str, list]:
    """The merged record's values as they were, on the survivor's trail: what was not picked
    is still on record there (and goes with it if the person's data is erased)."""
    return {
        f"#{other_id} {key}": [value, None]
        for key, value in snapshot.items()
        if value not in (None, "") and key not in _NOT_WORTH_KEEPING
    }


def move_trail(object_type: str, old: int, new: int) -> None:
    """The merged record's history joins the survivor's: one person, one trail (and an
    erasure of the survivor clears all of it)."""
    # Only the merged record's own entries: not those of an earlier record that had its id.
    own = sa.select(AuditEntry.id).where(own_entries(object_type, old)).scalar_subquery()
    db.session.execute(
        sa.update(AuditEntry)
        .where(AuditEntry.id.in_(own))
        .values(object_id=new)
        .execution_options(synchronize_session=False)
    )


def record_merge(actor: Any, kind: DuplicateKind, survivor_id: int, other_id: int, label: str):
    db.session.add(
        DuplicateMerge(
            kind=kind,
            survivor_id=survivor_id,
            merged_id=other_id,
            merged_label=label[:300],
            merged_by_id=getattr(actor, "id", None),
        )
    )
    # The other is gone: pairs dismissed with it mean nothing now. Pairs dismissed with the
    # survivor stay dismissed.
    _forget_dismissals(kind, other_id)
    # Its stored pairs go now, in this transaction: the page never offers a merged pair. The
    # survivor's own pairs are compared again once it is saved (crm.duplicates.compare).
    store.forget(kind, [other_id])


@dataclass
class MergeTrail:
    """What the trail of a merge needs from before it: the records' links move underneath the
    ORM, which then reads both again, and the merged one is gone."""

    kind: DuplicateKind
    survivor_id: int
    other_id: int
    other_label: str
    before: dict[str, Any]  # the survivor's columns (audit.snapshot)
    old_tags: str  # the survivor's tag names
    other_values: dict[str, Any]  # the merged record's columns, as the trail keeps them

    @classmethod
    def start(
        cls,
        kind: DuplicateKind,
        survivor: Contact | Organization,
        other: Contact | Organization,
        other_label: str,
    ) -> MergeTrail:
        return cls(
            kind=kind,
            survivor_id=survivor.id,
            other_id=other.id,
            other_label=other_label,
            before=audit.snapshot(survivor),
            old_tags=survivor.tag_names,
            other_values={k: audit.display_value(v) for k, v in audit.snapshot(other).items()},
        )

    def delete_other(
        self, actor: Any, model: type[Contact] | type[Organization], summary: str
    ) -> None:
        """Delete the merged record once its links point at the survivor; its trail joins
        the survivor's."""
        # What the ORM holds about links changed underneath it: read them again.
        db.session.flush()
        db.session.expire_all()
        other = db.session.get(model, self.other_id)
        move_trail(self.kind.value, self.other_id, self.survivor_id)
        audit.record(actor, AuditAction.DELETE, self.kind.value, self.other_id, summary=summary)
        db.session.delete(other)
        db.session.flush()

    def record_survivor(
        self,
        actor: Any,
        survivor: Contact | Organization,
        moved: Moved,
        *,
        derived: tuple[str, ...],
    ) -> None:
        """The survivor's entry: its changed fields (not those `derived` from others), the
        merged record's values and what moved; and the merge itself."""
        survivor.touch(actor)
        changes = audit.changes_since(survivor, self.before)
        for key in derived:  # (updated_at is never in a snapshot)
            changes.pop(key, None)
        if survivor.tag_names != self.old_tags:
            changes["tags"] = [self.old_tags, survivor.tag_names]
        merged = f"{self.other_label} (#{self.other_id})"
        changes["merged"] = [None, merged]
        changes.update(merged_values(self.other_id, self.other_values))
        changes["linked records moved"] = [None, moved.summary()]
        if moved.notes:
            changes["resolved"] = [None, "; ".join(moved.notes)]
        audit.record(
            actor,
            AuditAction.UPDATE,
            self.kind.value,
            self.survivor_id,
            summary=f"Merged {merged} into this {self.kind.value}: {moved.summary()}",
            changes=changes,
        )
        record_merge(actor, self.kind, self.survivor_id, self.other_id, self.other_label)
        db.session.flush()


@dataclass
class Conflicts:
    refusals: list[str]  # the merge cannot go ahead while these stand
    resolutions: list[str]  # what the merge will decide, shown before it is confirmed
