"""Merging two contacts, and what stands in the way or gets decided first.

Where two linked rows would clash on a uniqueness rule:
  * the same tag, engagement or email topic opt-out on both: kept once;
  * both registered for the same event: the more advanced participation is kept (attended,
    then registered, waitlisted, invited, no-show, cancelled), the other deleted, and a place
    it held goes to the first on the waitlist;
  * both champions: the further-along champion profile is kept, it gets the other's
    endorsements and stage history, and its blank profile fields are filled from the other;
  * both answered the same consultation: the merge is refused (each holds answers someone
    gave; a lead decides which goes), and the message says which.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crm.champions.models import Champion, Endorsement, Stage, StageChange
from crm.consultations.models import Consultation, Response
from crm.contacts.models import ConsentStatus, Contact
from crm.core.db import rows_touched
from crm.core.errors import OperationError
from crm.duplicates.models import DuplicateKind
from crm.duplicates.operations.merging import (
    CONTACT_FIELDS,
    Choice,
    Conflicts,
    MergeTrail,
    Moved,
    check_pair,
    counted,
    drop_shared,
    repoint,
    retarget_tasks,
    union,
    values_after_merge,
)
from crm.events.models import SEATED, Participation, ParticipationStatus
from crm.events.operations import places as place_ops
from crm.extensions import db

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


def contact_conflicts(survivor: Contact, other: Contact) -> Conflicts:
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
        kept = _better_participation(mine, theirs)
        resolutions.append(
            f"Both are in the event “{mine.event.name}” ({mine.status.label} and "
            f"{theirs.status.label}): the {kept.status.label.lower()} one is kept."
        )
    champions = _champions(survivor.id, other.id)
    if len(champions) == 2:
        keep, drop = _champion_keeper(*champions)
        resolutions.append(
            f"Both are champions ({champions[0].stage.label} and {champions[1].stage.label}): "
            f"the {keep.stage.label.lower()} profile is kept and gets the other's "
            f"{len(drop.endorsements)} endorsement(s) and stage history."
        )
    return Conflicts(refusals, resolutions)


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
    result = db.session.execute(
        sa.update(Endorsement)
        .where(Endorsement.champion_id == drop.id)
        .values(champion_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    endorsements = rows_touched(result)
    db.session.execute(
        sa.update(StageChange)
        .where(StageChange.champion_id == drop.id)
        .values(champion_id=keep.id)
        .execution_options(synchronize_session=False)
    )
    retarget_tasks("champion", drop.id, keep.id)
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
    moved.counts["event participations"] = repoint(
        "participation", "contact_id", other_id, survivor_id
    )
    for event in freed:
        promoted = place_ops.promote_waitlist(actor, event)
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
    check_pair(survivor, other, "contact", expected_versions)
    for contact in (survivor, other):
        if contact.erased_at is not None:
            raise OperationError(
                f"Contact #{contact.id} was erased; an erased record is not merged. "
                "Nothing was merged."
            )
    conflicts = contact_conflicts(survivor, other)
    values = values_after_merge(survivor, other, CONTACT_FIELDS, choices, conflicts.refusals)
    consent = merged_consent(survivor, other)
    other_id, survivor_id = other.id, survivor.id
    other_label = f"{other.full_name} <{other.email}>" if other.email else other.full_name
    trail = MergeTrail.start(DuplicateKind.CONTACT, survivor, other, other_label)
    db.session.flush()

    moved = Moved(counts={}, notes=[])
    shared = drop_shared("engagement_contact", "contact_id", "engagement_id", other_id, survivor_id)
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
    moved.counts["engagements"] = repoint("engagement_contact", "contact_id", other_id, survivor_id)
    union("contact_tag", "contact_id", "tag_id", other_id, survivor_id)
    _merge_participations(actor, survivor_id, other_id, moved)
    _merge_champions(survivor_id, other_id, moved)
    moved.counts["consultation responses"] = repoint(
        "response", "contact_id", other_id, survivor_id
    )
    moved.counts["pledges signed"] = repoint("pledge", "signatory_id", other_id, survivor_id)
    moved.counts["campaign emails"] = repoint("outbox_message", "contact_id", other_id, survivor_id)
    moved.counts["email topic opt-outs"] = union(
        "topic_opt_out", "contact_id", "topic", other_id, survivor_id
    )
    moved.counts["user accounts"] = repoint("user", "contact_id", other_id, survivor_id)
    moved.counts["tasks"] = retarget_tasks("contact", other_id, survivor_id)

    trail.delete_other(actor, Contact, summary=f"Merged into contact #{survivor_id}")
    survivor = db.session.get_one(Contact, survivor_id)
    for name, value in values.items():
        setattr(survivor, name, value)
    survivor.consent_status, survivor.consent_source, survivor.consent_at = consent
    survivor.set_search_fields()
    trail.record_survivor(actor, survivor, moved, derived=("sort_name", "search_text"))
    return moved
