"""Merging two contacts or two organizations, and dismissing a pair as "not duplicates".

A merge keeps one record (the survivor), takes field by field what the lead chose from the
other, moves every record linked to the other onto the survivor, deletes the other and writes
the audit trail on both. Every table with a foreign key to contact or organization is handled
below (tests/duplicates/test_linked_records.py fails when a new one appears that is not).

Where two linked rows would clash on a uniqueness rule:
  * the same tag, engagement, case study or email topic opt-out on both: kept once;
  * both registered for the same event: the more advanced participation is kept (attended,
    then registered, waitlisted, invited, no-show, cancelled), the other deleted, and a place
    it held goes to the first on the waitlist;
  * both champions: the further-along champion profile is kept, it gets the other's
    endorsements and stage history, and its blank profile fields are filled from the other;
  * both answered the same consultation, or both organizations have a live pledge for the
    same standard version: the merge is refused (each holds answers or commitments someone
    made; a lead decides which goes), and the message says which.

Operations flush but never commit; the caller commits once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction, AuditEntry
from crm.audit.operations import own_entries
from crm.champions.models import Champion, Endorsement, Stage, StageChange
from crm.consultations.models import Consultation, Response
from crm.contacts.models import ConsentStatus, Contact
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice
from crm.duplicates.models import DuplicateDismissal, DuplicateKind, DuplicateMerge
from crm.events import operations as event_ops
from crm.events.models import SEATED, Participation, ParticipationStatus
from crm.extensions import db
from crm.organizations.models import Organization, OrganizationKind
from crm.organizations.operations import name_key
from crm.pledges.models import Pledge, PledgeStatus
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

# Better first: which of two participations in one event is kept.
PARTICIPATION_RANK = [
    ParticipationStatus.ATTENDED,
    ParticipationStatus.REGISTERED,
    ParticipationStatus.WAITLISTED,
    ParticipationStatus.INVITED,
    ParticipationStatus.NO_SHOW,
    ParticipationStatus.CANCELLED,
]
# Further along first; lapsed champions stopped, so they come last.
CHAMPION_RANK = [
    Stage.ACTIVE,
    Stage.COMMITTED,
    Stage.ENGAGED,
    Stage.APPROACHED,
    Stage.IDENTIFIED,
    Stage.LAPSED,
]
CHAMPION_PROFILE_FIELDS = (
    "owner_id", "region", "audience_reach", "channels", "bio", "next_step", "next_step_due",
)  # fmt: skip

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


def _repoint(table: str, column: str, old: int, new: int) -> int:
    t = _table(table)
    result = db.session.execute(sa.update(t).where(t.c[column] == old).values({column: new}))
    return result.rowcount or 0


def _union(table: str, column: str, other_key: str, old: int, new: int) -> int:
    """Move link rows of `old` to `new`, dropping those `new` already has (same other key)."""
    _drop_shared(table, column, other_key, old, new)
    return _repoint(table, column, old, new)


def _drop_shared(table: str, column: str, other_key: str, old: int, new: int) -> int:
    """Delete `old`'s link rows that `new` has too (kept once); how many there were."""
    t = _table(table)
    already = sa.select(t.c[other_key]).where(t.c[column] == new).scalar_subquery()
    result = db.session.execute(sa.delete(t).where(t.c[column] == old, t.c[other_key].in_(already)))
    return result.rowcount or 0


def _retarget_tasks(record_type: str, old: int, new: int) -> int:
    result = db.session.execute(
        sa.update(Task)
        .where(Task.record_type == record_type, Task.record_id == old)
        .values(record_id=new)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _forget_dismissals(kind: DuplicateKind, record_id: int) -> None:
    db.session.execute(
        sa.delete(DuplicateDismissal).where(
            DuplicateDismissal.kind == kind,
            sa.or_(DuplicateDismissal.low_id == record_id, DuplicateDismissal.high_id == record_id),
        )
    )


def _chosen(choices: dict[str, Choice], name: str, survivor_value: Any, other_value: Any) -> Any:
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


def _check_pair(survivor: Any, other: Any, what: str) -> None:
    """Refuse a pair that is not two existing records; then hold both rows until the commit
    (on PostgreSQL: a second merge of either waits, then finds what this one did)."""
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


_NOT_WORTH_KEEPING = {"id", "sort_name", "search_text", "name_key", "created_by_id", "created_at"}


def _merged_values(other_id: int, snapshot: dict[str, Any]) -> dict[str, list]:
    """The merged record's values as they were, on the survivor's trail: what was not picked
    is still on record there (and goes with it if the person's data is erased)."""
    return {
        f"#{other_id} {key}": [value, None]
        for key, value in snapshot.items()
        if value not in (None, "") and key not in _NOT_WORTH_KEEPING
    }


def _move_trail(object_type: str, old: int, new: int) -> None:
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


def _record_merge(actor: Any, kind: DuplicateKind, survivor_id: int, other_id: int, label: str):
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


@dataclass
class _MergeTrail:
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
    ) -> _MergeTrail:
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
        _move_trail(self.kind.value, self.other_id, self.survivor_id)
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
        for key in (*derived, "updated_at"):
            changes.pop(key, None)
        if survivor.tag_names != self.old_tags:
            changes["tags"] = [self.old_tags, survivor.tag_names]
        merged = f"{self.other_label} (#{self.other_id})"
        changes["merged"] = [None, merged]
        changes.update(_merged_values(self.other_id, self.other_values))
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
        _record_merge(actor, self.kind, self.survivor_id, self.other_id, self.other_label)
        db.session.flush()


# --- contacts -----------------------------------------------------------------------------------


def merged_consent(survivor: Contact, other: Contact) -> tuple[ConsentStatus, str | None, Any]:
    """(status, source, at) for the merged person.

    Withdrawn beats agreed, whatever the dates: if the two records are one person, that person
    told us to stop at least once, and mailing them again on the strength of the other record
    would ignore it (and if they are two people merged by mistake, not mailing is the safe
    error). Agreed beats "not asked": the person did agree, on the other record, and its source
    and date come with it, so the consent stays traceable. Nothing else can produce "agreed":
    a consent the person never gave is never created. Between two of the same status the more
    recent record of it is kept.
    """
    order = [ConsentStatus.WITHDRAWN, ConsentStatus.GRANTED, ConsentStatus.UNKNOWN]
    records = sorted(
        (survivor, other),
        key=lambda c: (
            order.index(ConsentStatus(c.consent_status)),
            -(c.consent_at.timestamp() if c.consent_at else 0),
        ),
    )
    winner = records[0]
    return ConsentStatus(winner.consent_status), winner.consent_source, winner.consent_at


@dataclass
class ContactConflicts:
    refusals: list[str]  # the merge cannot go ahead while these stand
    resolutions: list[str]  # what the merge will decide, shown before it is confirmed


def contact_conflicts(survivor: Contact, other: Contact) -> ContactConflicts:
    """Rows of the two contacts that cannot both exist after a merge, and what happens to them."""
    refusals: list[str] = []
    resolutions: list[str] = []
    both_answered = db.session.execute(
        sa.select(Response.consultation_id, Response.id).where(
            Response.contact_id == other.id,
            Response.consultation_id.in_(
                sa.select(Response.consultation_id).where(Response.contact_id == survivor.id)
            ),
        )
    ).all()
    if both_answered:
        titles = db.session.scalars(
            sa.select(Consultation.title).where(
                Consultation.id.in_([row.consultation_id for row in both_answered])
            )
        ).all()
        refusals.append(
            "Both answered the consultation "
            + ", ".join(f"“{t}”" for t in titles)
            + ": a person holds one response per consultation, and each holds answers someone "
            "gave. Remove one of the responses first."
        )
    for mine, theirs in _participation_clashes(survivor.id, other.id):
        keep = _better_participation(mine, theirs)
        resolutions.append(
            f"Both are in the event “{mine.event.name}” ({mine.status.label} and "
            f"{theirs.status.label}): the {keep.status.label.lower()} one is kept."
        )
    champions = _champions(survivor.id, other.id)
    if len(champions) == 2:
        keep, drop = _champion_keeper(*champions)
        resolutions.append(
            f"Both are champions ({champions[0].stage.label} and {champions[1].stage.label}): "
            f"the {keep.stage.label.lower()} profile is kept and gets the other's "
            f"{len(drop.endorsements)} endorsement(s) and stage history."
        )
    return ContactConflicts(refusals, resolutions)


def _participation_clashes(
    survivor_id: int, other_id: int
) -> list[tuple[Participation, Participation]]:
    mine = {
        p.event_id: p
        for p in db.session.scalars(
            sa.select(Participation).where(Participation.contact_id == survivor_id)
        )
    }
    return [
        (mine[p.event_id], p)
        for p in db.session.scalars(
            sa.select(Participation).where(Participation.contact_id == other_id)
        )
        if p.event_id in mine
    ]


def _better_participation(mine: Participation, theirs: Participation) -> Participation:
    rank = PARTICIPATION_RANK.index
    return theirs if rank(theirs.status) < rank(mine.status) else mine


def _champions(survivor_id: int, other_id: int) -> list[Champion]:
    found = {
        c.contact_id: c
        for c in db.session.scalars(
            sa.select(Champion).where(Champion.contact_id.in_([survivor_id, other_id]))
        )
    }
    return [found[i] for i in (survivor_id, other_id) if i in found]


def _champion_keeper(mine: Champion, theirs: Champion) -> tuple[Champion, Champion]:
    rank = CHAMPION_RANK.index
    if rank(theirs.stage) < rank(mine.stage):
        return theirs, mine
    return mine, theirs


def _merge_champions(survivor_id: int, other_id: int, moved: Moved) -> None:
    champions = _champions(survivor_id, other_id)
    if not champions:
        return
    if len(champions) == 1:
        if champions[0].contact_id == other_id:
            champions[0].contact_id = survivor_id
            moved.counts["champion profile"] = 1
        return
    keep, drop = _champion_keeper(*champions)
    for name in CHAMPION_PROFILE_FIELDS:
        if getattr(keep, name) in (None, "") and getattr(drop, name) not in (None, ""):
            setattr(keep, name, getattr(drop, name))
    endorsements = db.session.execute(
        sa.update(Endorsement)
        .where(Endorsement.champion_id == drop.id)
        .values(champion_id=keep.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        sa.update(StageChange)
        .where(StageChange.champion_id == drop.id)
        .values(champion_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    _retarget_tasks("champion", drop.id, keep.id)
    moved.counts["endorsements"] = endorsements or 0
    moved.notes.append(
        f"both were champions: kept the {keep.stage.label.lower()} profile, the "
        f"{drop.stage.label.lower()} one was folded into it"
    )
    # Deleted in SQL: the ORM's cascade would take the endorsements it still lists under it.
    db.session.execute(sa.delete(Champion).where(Champion.id == drop.id))
    db.session.expunge(drop)
    if keep.contact_id != survivor_id:
        keep.contact_id = survivor_id
    db.session.flush()


def _merge_participations(actor: Any, survivor_id: int, other_id: int, moved: Moved) -> None:
    freed = []  # events where one person held two places: one is free now
    for mine, theirs in _participation_clashes(survivor_id, other_id):
        keep = _better_participation(mine, theirs)
        drop = theirs if keep is mine else mine
        moved.notes.append(
            f"both were in “{mine.event.name}”: kept the {keep.status.label.lower()} "
            f"participation, dropped the {drop.status.label.lower()} one"
        )
        if drop.status in SEATED:
            freed.append(drop.event)
        db.session.delete(drop)
        db.session.flush()
        if keep.contact_id != survivor_id:
            keep.contact_id = survivor_id
    db.session.flush()
    moved.counts["event participations"] = _repoint(
        "participation", "contact_id", other_id, survivor_id
    )
    for event in freed:
        promoted = event_ops.promote_waitlist(actor, event)
        if promoted:
            moved.promoted.extend(promoted)
            moved.notes.append(
                f"the place freed in “{event.name}” went to "
                + ", ".join(p.contact.full_name for p in promoted)
                + " from the waitlist"
            )


def merge_contacts(
    actor: Any,
    survivor: Contact,
    other: Contact,
    choices: dict[str, Choice] | None = None,
    *,
    expected_versions: tuple[int | None, int | None] = (None, None),
) -> Moved:
    """Merge `other` into `survivor`; `other` is deleted. See the module docstring."""
    _check_pair(survivor, other, "contact")
    check_version(survivor, expected_versions[0])
    check_version(other, expected_versions[1])
    for contact in (survivor, other):
        if contact.erased_at is not None:
            raise OperationError(
                f"Contact #{contact.id} was erased; an erased record is not merged. "
                "Nothing was merged."
            )
    conflicts = contact_conflicts(survivor, other)
    if conflicts.refusals:
        raise OperationError(" ".join(conflicts.refusals) + " Nothing was merged.")
    choices = choices or {}
    for name in choices:
        if name not in CONTACT_FIELDS:
            raise OperationError(f"“{name}” is not a field that can be merged.")

    values = {
        name: _chosen(choices, name, getattr(survivor, name), getattr(other, name))
        for name in CONTACT_FIELDS
    }
    consent = merged_consent(survivor, other)
    other_id, survivor_id = other.id, survivor.id
    other_label = f"{other.full_name} <{other.email}>" if other.email else other.full_name
    trail = _MergeTrail.start(DuplicateKind.CONTACT, survivor, other, other_label)
    db.session.flush()

    moved = Moved(counts={}, notes=[])
    shared = _drop_shared(
        "engagement_contact", "contact_id", "engagement_id", other_id, survivor_id
    )
    if shared:
        # The merge page counted them on both sides; say why they did not "move".
        moved.notes.append(
            f"{counted(shared, 'engagement')} "
            + (
                "was already on both records and stays once."
                if shared == 1
                else "were already on both records and stay once."
            )  # fmt: skip
        )
    moved.counts["engagements"] = _repoint(
        "engagement_contact", "contact_id", other_id, survivor_id
    )
    _union("contact_tag", "contact_id", "tag_id", other_id, survivor_id)
    _merge_participations(actor, survivor_id, other_id, moved)
    _merge_champions(survivor_id, other_id, moved)
    moved.counts["consultation responses"] = _repoint(
        "response", "contact_id", other_id, survivor_id
    )
    moved.counts["pledges signed"] = _repoint("pledge", "signatory_id", other_id, survivor_id)
    moved.counts["campaign emails"] = _repoint(
        "outbox_message", "contact_id", other_id, survivor_id
    )
    moved.counts["email topic opt-outs"] = _union(
        "topic_opt_out", "contact_id", "topic", other_id, survivor_id
    )
    moved.counts["user accounts"] = _repoint("user", "contact_id", other_id, survivor_id)
    moved.counts["tasks"] = _retarget_tasks("contact", other_id, survivor_id)

    trail.delete_other(actor, Contact, summary=f"Merged into contact #{survivor_id}")
    survivor = db.session.get(Contact, survivor_id)
    for name, value in values.items():
        setattr(survivor, name, value)
    survivor.consent_status, survivor.consent_source, survivor.consent_at = consent
    survivor.set_search_fields()
    trail.record_survivor(actor, survivor, moved, derived=("sort_name", "search_text"))
    return moved


# --- organizations ------------------------------------------------------------------------------


def organization_conflicts(survivor: Organization, other: Organization) -> ContactConflicts:
    refusals: list[str] = []
    live = [s for s in PledgeStatus if s is not PledgeStatus.WITHDRAWN]
    clashes = db.session.scalars(
        sa.select(Pledge).where(
            Pledge.organization_id == other.id,
            Pledge.status.in_(live),
            Pledge.standard_id.in_(
                sa.select(Pledge.standard_id).where(
                    Pledge.organization_id == survivor.id, Pledge.status.in_(live)
                )
            ),
        )
    ).all()
    for pledge in clashes:
        refusals.append(
            f"Both have a live pledge for standard {pledge.standard.version}; an organization "
            "holds one pledge per version. Withdraw one of the two pledges first."
        )
    return ContactConflicts(refusals, [])


def merge_organizations(
    actor: Any,
    survivor: Organization,
    other: Organization,
    choices: dict[str, Choice] | None = None,
    *,
    expected_versions: tuple[int | None, int | None] = (None, None),
) -> Moved:
    """Merge `other` into `survivor`; `other` is deleted."""
    _check_pair(survivor, other, "organization")
    check_version(survivor, expected_versions[0])
    check_version(other, expected_versions[1])
    conflicts = organization_conflicts(survivor, other)
    if conflicts.refusals:
        raise OperationError(" ".join(conflicts.refusals) + " Nothing was merged.")
    choices = choices or {}
    for name in choices:
        if name not in ORGANIZATION_FIELDS:
            raise OperationError(f"“{name}” is not a field that can be merged.")

    values = {
        name: _chosen(choices, name, getattr(survivor, name), getattr(other, name))
        for name in ORGANIZATION_FIELDS
    }
    other_id, survivor_id, other_label = other.id, survivor.id, other.name
    trail = _MergeTrail.start(DuplicateKind.ORGANIZATION, survivor, other, other_label)
    db.session.flush()

    moved = Moved(counts={}, notes=[])
    moved.counts["contacts"] = _repoint("contact", "organization_id", other_id, survivor_id)
    moved.counts["engagements"] = _repoint("engagement", "organization_id", other_id, survivor_id)
    moved.counts["pledges"] = _repoint("pledge", "organization_id", other_id, survivor_id)
    moved.counts["referrals"] = _repoint(
        "endorsement", "referred_organization_id", other_id, survivor_id
    )
    moved.counts["case studies"] = _union(
        "case_study_organization", "organization_id", "case_study_id", other_id, survivor_id
    )
    _union("organization_tag", "organization_id", "tag_id", other_id, survivor_id)
    moved.counts["representative accounts"] = _repoint(
        "user", "organization_id", other_id, survivor_id
    )
    moved.counts["tasks"] = _retarget_tasks("organization", other_id, survivor_id)

    trail.delete_other(actor, Organization, summary=f"Merged into {survivor.name} (#{survivor_id})")
    survivor = db.session.get(Organization, survivor_id)
    for name, value in values.items():
        setattr(survivor, name, value)
    survivor.kind = OrganizationKind(survivor.kind)
    survivor.name_key = name_key(survivor.name)
    trail.record_survivor(actor, survivor, moved, derived=("name_key",))
    return moved


# --- dismissing ---------------------------------------------------------------------------------


def dismiss_pair(actor: Any, kind: DuplicateKind | str, first_id: int, second_id: int) -> bool:
    """Mark a pair "not duplicates"; False when it already was (a second click changes nothing)."""
    kind = clean_choice(DuplicateKind, kind, "a kind of record")
    if first_id == second_id:
        raise OperationError("A record is always the same as itself; nothing was dismissed.")
    model = Contact if kind is DuplicateKind.CONTACT else Organization
    found = db.session.scalar(
        sa.select(sa.func.count()).select_from(model).where(model.id.in_([first_id, second_id]))
    )
    if found != 2:
        raise OperationError(
            "One of the two records no longer exists (merged or deleted); nothing was dismissed."
        )
    low, high = sorted((first_id, second_id))
    exists = db.session.scalar(
        sa.select(DuplicateDismissal.id).where(
            DuplicateDismissal.kind == kind,
            DuplicateDismissal.low_id == low,
            DuplicateDismissal.high_id == high,
        )
    )
    if exists:
        return False
    db.session.add(
        DuplicateDismissal(
            kind=kind, low_id=low, high_id=high, dismissed_by_id=getattr(actor, "id", None)
        )
    )
    audit.record(
        actor,
        AuditAction.UPDATE,
        kind.value,
        low,
        summary=f"Marked as not a duplicate of {kind.value} #{high}",
    )
    db.session.flush()
    return True
