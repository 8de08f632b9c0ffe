"""The champion pipeline: entering it, the profile (by a lead or the champion), moving
from stage to stage with the rules that refuse nonsense, and removing someone added by mistake.

Callers check who may act (a lead moves champions, see `crm.champions.access`); these
functions check what may happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth.models import User
from crm.auth.operations import STAFF_ROLES
from crm.champions.models import Champion, Region, Stage, StageChange
from crm.contacts.models import Contact
from crm.core import deletion
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice, clean_text
from crm.extensions import db

EARLIEST = date(1990, 1, 1)


MAX_REACH = 2_000_000_000  # a column of 32-bit integers; more than any real audience


# Where a champion can go from each stage. Forward one or two steps (people do commit on the
# first call), back one step, lapse once engaged, and come back from lapsed.
ALLOWED_MOVES: dict[Stage, set[Stage]] = {
    Stage.IDENTIFIED: {Stage.APPROACHED, Stage.ENGAGED},
    Stage.APPROACHED: {Stage.IDENTIFIED, Stage.ENGAGED, Stage.COMMITTED},
    Stage.ENGAGED: {Stage.APPROACHED, Stage.COMMITTED, Stage.LAPSED},
    Stage.COMMITTED: {Stage.ENGAGED, Stage.ACTIVE, Stage.LAPSED},
    Stage.ACTIVE: {Stage.COMMITTED, Stage.LAPSED},
    Stage.LAPSED: {Stage.APPROACHED, Stage.ENGAGED, Stage.COMMITTED, Stage.ACTIVE},
}


# Stages at which someone on the team must own the relationship.
OWNED_STAGES = {Stage.COMMITTED, Stage.ACTIVE}


@dataclass
class ChampionFields:
    owner_id: int | None = None
    region: Region | str | None = None
    audience_reach: int | None = None
    channels: list[str] = field(default_factory=list)
    bio: str | None = None
    next_step: str | None = None
    next_step_due: date | None = None


def clean_channels(values: list[str]) -> str | None:
    """'LinkedIn, podcast ,linkedin' -> 'LinkedIn, podcast': trimmed, unique (any case)."""
    seen: dict[str, str] = {}
    for value in values:
        value = " ".join(value.split())
        if value and value.lower() not in seen:
            if len(value) > 40:
                raise OperationError(
                    f"The channel “{value[:40]}…” is too long (at most 40 characters each).",
                    field="channels",
                )
            seen[value.lower()] = value
    text = ", ".join(seen.values())
    if len(text) > 300:
        raise OperationError("Too many channels (at most 300 characters).", field="channels")
    return text or None


def clean_reach(value: int | None, field_name: str = "audience_reach") -> int | None:
    if value is None:
        return None
    if value < 0 or value > MAX_REACH:
        raise OperationError(
            "Give the audience reach as a number of people (0 or more).", field=field_name
        )
    return value


def _check_owner(owner_id: int | None) -> None:
    if owner_id is None:
        return
    owner = db.session.get(User, owner_id)
    if owner is None or not owner.active or owner.role not in STAFF_ROLES:
        raise OperationError("The owner must be an active staff member.", field="owner_id")


def _apply(champion: Champion, fields: ChampionFields) -> None:
    _check_owner(fields.owner_id)
    champion.owner_id = fields.owner_id
    if fields.region in (None, ""):
        champion.region = None
    else:
        champion.region = clean_choice(Region, fields.region, "a region", field="region")
    champion.audience_reach = clean_reach(fields.audience_reach)
    champion.channels = clean_channels(fields.channels)
    champion.bio = clean_text(fields.bio, "bio", "About", 5_000)
    champion.next_step = clean_text(fields.next_step, "next_step", "Next step", 300)
    if fields.next_step_due is not None and champion.next_step is None:
        raise OperationError("Say what the next step is, or clear its date.", field="next_step")
    if fields.next_step_due is not None and fields.next_step_due < EARLIEST:
        raise OperationError("That due date looks mistyped.", field="next_step_due")
    champion.next_step_due = fields.next_step_due
    if champion.stage in OWNED_STAGES and champion.owner_id is None:
        raise OperationError(
            f"A {champion.stage.label.lower()} champion needs an owner on the team.",
            field="owner_id",
        )


def enter_pipeline(
    actor: User | None,
    contact: Contact,
    fields: ChampionFields,
    *,
    stage: Stage | str = Stage.IDENTIFIED,
    note: str | None = None,
) -> Champion:
    """Put a contact in the champion pipeline at `stage` (identified, unless known further)."""
    if contact.erased_at is not None:
        raise OperationError("An erased contact cannot become a champion.")
    existing = db.session.scalar(sa.select(Champion).where(Champion.contact_id == contact.id))
    if existing is not None:
        raise OperationError(
            f"{contact.full_name} is already in the pipeline ({existing.stage.label.lower()})."
        )
    stage = clean_choice(Stage, stage, "a pipeline stage", field="stage")
    if stage is Stage.LAPSED:
        raise OperationError("A new champion cannot start as lapsed.", field="stage")
    champion = Champion(contact=contact, stage=stage, stage_since=utcnow())
    _apply(champion, fields)
    audit.add_recorded(
        actor,
        champion,
        "champion",
        summary=f"{contact.full_name} entered the pipeline as {stage.label.lower()}",
    )
    db.session.add(
        StageChange(
            champion_id=champion.id,
            from_stage=None,
            to_stage=stage,
            at=champion.stage_since,
            by_id=getattr(actor, "id", None),
            note=clean_text(note, "note", "Note", 500),
        )
    )
    db.session.flush()
    return champion


def update_champion(
    actor: User | None,
    champion: Champion,
    fields: ChampionFields,
    *,
    expected_version: int | None = None,
) -> Champion:
    with audit.updating(actor, champion, "champion", expected_version=expected_version):
        _apply(champion, fields)
    return champion


def update_own_profile(
    champion_user: User,
    champion: Champion,
    *,
    audience_reach: int | None,
    channels: list[str],
    bio: str | None,
    expected_version: int | None = None,
) -> Champion:
    """What a champion keeps up to date themselves. Stage, owner and next step are the team's,
    and so are their rules: a champion is never refused over them."""
    with audit.updating(champion_user, champion, "champion", expected_version=expected_version):
        champion.audience_reach = clean_reach(audience_reach)
        champion.channels = clean_channels(channels)
        champion.bio = clean_text(bio, "bio", "About", 5_000)
    return champion


def move(
    actor: User | None,
    champion: Champion,
    to_stage: Stage | str,
    *,
    note: str | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
) -> StageChange:
    """Move a champion to another stage, recording who, when and why."""
    check_version(champion, expected_version)
    target = clean_choice(Stage, to_stage, "a pipeline stage", field="stage")
    current = champion.stage
    note = clean_text(note, "note", "Note", 500)
    if target is current:
        raise OperationError(f"{champion.name} is already {current.label.lower()}.", field="stage")
    if target not in ALLOWED_MOVES[current]:
        raise OperationError(_refusal(current, target), field="stage")
    if target in OWNED_STAGES and champion.owner_id is None:
        raise OperationError(
            f"Give {champion.name} an owner on the team before marking them "
            f"{target.label.lower()}.",
            field="stage",
        )
    backwards = target is Stage.LAPSED or (
        current is not Stage.LAPSED and target.rank < current.rank
    )
    if backwards and not note:
        raise OperationError(
            f"Say why {champion.name} moves back to {target.label.lower()} (a short note).",
            field="note",
        )
    when = at or utcnow()
    if when < champion.stage_since:
        raise OperationError("A move cannot be dated before the previous one.", field="stage")
    change = StageChange(
        champion_id=champion.id,
        from_stage=current,
        to_stage=target,
        at=when,
        by_id=getattr(actor, "id", None),
        note=note,
    )
    db.session.add(change)
    champion.stage = target
    champion.stage_since = when
    champion.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "champion",
        champion.id,
        summary=f"Moved from {current.label.lower()} to {target.label.lower()}",
        changes={"stage": [current.value, target.value]},
    )
    db.session.flush()
    return change


def _refusal(current: Stage, target: Stage) -> str:
    if current is Stage.IDENTIFIED and target is Stage.LAPSED:
        return "Someone only identified cannot lapse: remove them from the pipeline instead."
    if target is Stage.LAPSED:
        return (
            f"Only engaged, committed or active champions can lapse, not {current.label.lower()}."
        )
    if target.rank > current.rank:
        return (
            f"A champion cannot go from {current.label.lower()} straight to "
            f"{target.label.lower()}: move them through "
            f"{' → '.join(s.label.lower() for s in list(Stage)[current.rank + 1 : target.rank])}"
            " first."
        )
    return (
        f"A champion cannot go back from {current.label.lower()} to {target.label.lower()}; "
        "move back one stage at a time."
    )


def remove_from_pipeline(actor: User | None, champion: Champion) -> None:
    """Only for someone added by mistake: a champion with endorsements stays (lapse them)."""
    if champion.endorsements:
        raise OperationError(
            f"{champion.name} has endorsements on record; mark them lapsed instead of removing "
            "them."
        )
    deletion.detach(actor, "champion", champion.id)
    audit.delete_recorded(actor, champion, "champion", summary=f"Removed {champion.name}")
