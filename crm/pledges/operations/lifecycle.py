"""A pledge's lifecycle, enforced in one place: made, its details edited, moved from status to
status, confirmed by a lead, carried to a newer version of the standard.

Stored statuses move draft → signed → active → adopted, or to withdrawn (with a reason) from
any of them. Non-reporting and lapsed are never stored: `crm.pledges.schedule` computes them
from the report dates. Each change is recorded in the pledge's history with who and when.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth import operations as auth_ops
from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core import deletion
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.validation import clean_choice, clean_text
from crm.extensions import db
from crm.organizations.models import Organization
from crm.pledges.models import LIVE, Pledge, PledgeChange, PledgeStatus
from crm.pledges.operations.report_state import draft_of, fully_verified
from crm.pledges.operations.signatories import ensure_representative
from crm.pledges.queries import schedule_of
from crm.standards.models import Standard, StandardStatus

# The one table of legal moves. Adopted → active happens only through a move to a new version.
TRANSITIONS: dict[PledgeStatus, set[PledgeStatus]] = {
    PledgeStatus.DRAFT: {PledgeStatus.SIGNED, PledgeStatus.WITHDRAWN},
    PledgeStatus.SIGNED: {PledgeStatus.ACTIVE, PledgeStatus.WITHDRAWN},
    PledgeStatus.ACTIVE: {PledgeStatus.ADOPTED, PledgeStatus.WITHDRAWN},
    PledgeStatus.ADOPTED: {PledgeStatus.WITHDRAWN},
    PledgeStatus.WITHDRAWN: set(),
}


COMPUTED = {"non_reporting", "lapsed"}


REPORTING = (PledgeStatus.ACTIVE, PledgeStatus.ADOPTED)


def live_pledge(organization_id: int, standard_id: int | None = None) -> Pledge | None:
    """The organization's live pledge (to `standard_id`, or to any version)."""
    stmt = sa.select(Pledge).where(
        Pledge.organization_id == organization_id, Pledge.status.in_(LIVE)
    )
    if standard_id is not None:
        stmt = stmt.where(Pledge.standard_id == standard_id)
    return db.session.scalars(stmt.order_by(Pledge.id.desc())).first()


@deletion.blocker("organization")
def _organization_has_pledged(org: Organization) -> str | None:
    pledges = db.session.scalar(
        sa.select(sa.func.count()).select_from(Pledge).where(Pledge.organization_id == org.id)
    )
    if not pledges:
        return None
    return f"{org.name} has made a pledge; its history stays on record. Nothing was deleted."


def _record(actor: User | None, pledge: Pledge, old, new, note: str | None) -> None:
    # Through the collection, so the pledge in hand sees its own history at once.
    pledge.history.append(
        PledgeChange(
            from_status=old,
            to_status=new,
            at=utcnow(),
            by_id=getattr(actor, "id", None),
            note=note,
        )
    )
    audit.record(
        actor,
        AuditAction.UPDATE if old else AuditAction.CREATE,
        "pledge",
        pledge.id,
        summary=note or f"{old.label if old else 'New'} → {new.label}",
        changes={"status": [old.value if old else None, new.value]},
    )


def _check_signatory(signatory_id: int | None, organization_id: int) -> None:
    if signatory_id is None:
        return
    contact = db.session.get(Contact, signatory_id)
    if contact is None or contact.erased_at is not None:
        raise OperationError("That signatory is not a contact we have.", field="signatory")


def create_pledge(
    actor: User | None,
    organization: Organization,
    standard: Standard,
    *,
    signatory_id: int | None = None,
    signed_on: date | None = None,
    listed: bool = False,
    source: str = "staff",
) -> Pledge:
    """A new pledge, as a draft or, with a signatory and date, signed."""
    if standard.status is not StandardStatus.CURRENT:
        raise OperationError(
            f"Pledges are made to the version in force; {standard.version} is "
            f"{standard.status.label.lower()}.",
            field="standard",
        )
    existing = live_pledge(organization.id)
    if existing is not None:
        hint = (
            ""
            if existing.standard_id == standard.id
            else f"; move it to version {standard.version} instead of pledging again"
        )
        raise OperationError(
            f"{organization.name} already has a pledge to version {existing.standard.version} "
            f"({existing.status.label.lower()}){hint}.",
            field="organization",
        )
    _check_signatory(signatory_id, organization.id)
    if signed_on is not None and signed_on > date.today():
        raise OperationError("The signing date is in the future.", field="signed_on")
    previous = db.session.scalar(
        sa.select(Pledge)
        .where(
            Pledge.organization_id == organization.id,
            Pledge.standard_id == standard.id,
            Pledge.status == PledgeStatus.WITHDRAWN,
        )
        .order_by(Pledge.id.desc())
        .limit(1)
    )
    status = PledgeStatus.SIGNED if signatory_id and signed_on else PledgeStatus.DRAFT
    pledge = Pledge(
        organization_id=organization.id,
        standard_id=standard.id,
        signatory_id=signatory_id,
        signed_on=signed_on,
        listed=listed,
        status=status,
        source=source,
        previous_id=previous.id if previous else None,
    )
    pledge.touch(actor)
    try:
        with db.session.begin_nested():
            db.session.add(pledge)
            db.session.flush()
    except IntegrityError:  # another request made it a moment ago
        raise OperationError(
            f"{organization.name} has just been given a pledge by someone else.",
            field="organization",
        ) from None
    note = f"Pledged to version {standard.version}" + (" (again)" if previous else "")
    _record(actor, pledge, None, status, note)
    db.session.flush()
    return pledge


def update_details(
    actor: User | None,
    pledge: Pledge,
    *,
    signatory_id: int | None,
    signed_on: date | None,
    listed: bool,
    expected_version: int | None = None,
) -> Pledge:
    with audit.updating(actor, pledge, "pledge", expected_version=expected_version):
        if pledge.status is PledgeStatus.WITHDRAWN:
            raise OperationError("A withdrawn pledge is kept as it was; make a new pledge instead.")
        if pledge.status is not PledgeStatus.DRAFT and (signatory_id is None or signed_on is None):
            raise OperationError(
                "A signed pledge keeps its signatory and signing date.", field="signatory"
            )
        _check_signatory(signatory_id, pledge.organization_id)
        if signed_on is not None and signed_on > date.today():
            raise OperationError("The signing date is in the future.", field="signed_on")
        pledge.signatory_id = signatory_id
        pledge.signed_on = signed_on
        pledge.listed = listed
    return pledge


def transition(
    actor: User | None,
    pledge: Pledge,
    to_status: PledgeStatus | str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Pledge:
    """Move a pledge to another stored status, or refuse with the reason why not."""
    check_version(pledge, expected_version)
    if str(to_status) in COMPUTED:
        raise OperationError(
            "Non-reporting and lapsed follow from the report dates; they cannot be set by hand.",
            field="status",
        )
    target = clean_choice(PledgeStatus, to_status, "a pledge status", field="status")
    current = pledge.status
    if target is current:
        raise OperationError(f"The pledge is already {current.label.lower()}.", field="status")
    if target not in TRANSITIONS[current]:
        raise OperationError(_refusal(current, target), field="status")
    today = date.today()
    note = None
    if target is PledgeStatus.SIGNED and (pledge.signatory_id is None or pledge.signed_on is None):
        raise OperationError(
            "Name the signatory and the signing date before marking the pledge signed.",
            field="signatory",
        )
    if target is PledgeStatus.ACTIVE:
        pledge.activated_on = today
        note = "Confirmed by the team; reporting starts this quarter"
    if target is PledgeStatus.ADOPTED:
        if not fully_verified(pledge):
            raise OperationError(
                "A pledge is adopted when every principle has reached “verified” in an accepted "
                "progress report; this one has not yet.",
                field="status",
            )
        pledge.adopted_on = today
        note = "Every principle verified: adopted"
    if target is PledgeStatus.WITHDRAWN:
        reason = clean_text(reason, "reason", "The reason", 500, required=True)
        pledge.withdrawn_on = today
        pledge.withdrawal_reason = reason
        note = f"Withdrawn: {reason}"
    pledge.status = target
    pledge.touch(actor)
    _record(actor, pledge, current, target, note)
    db.session.flush()
    return pledge


def confirm(
    actor: User | None, pledge: Pledge, *, expected_version: int | None = None
) -> User | None:
    """A lead confirms a signed pledge: it becomes active, and the signatory gets a
    representative account when they have none, and an invitation to it (an email queued in
    this transaction). Returns that new account."""
    transition(actor, pledge, PledgeStatus.ACTIVE, expected_version=expected_version)
    representative = ensure_representative(actor, pledge)
    if representative is not None:
        auth_ops.invite(actor, representative)
    return representative


def _refusal(current: PledgeStatus, target: PledgeStatus) -> str:
    if current is PledgeStatus.WITHDRAWN:
        return "A withdrawn pledge stays withdrawn; the organization can make a new pledge."
    if target is PledgeStatus.ACTIVE and current is PledgeStatus.DRAFT:
        return "A draft must be signed before the team confirms it."
    if target is PledgeStatus.ADOPTED and current is not PledgeStatus.ACTIVE:
        return "Only an active pledge can become adopted."
    if target is PledgeStatus.DRAFT:
        return "A signed pledge cannot go back to draft."
    return f"A pledge cannot go from {current.label.lower()} to {target.label.lower()}."


def move_to_version(
    actor: User | None, pledge: Pledge, standard: Standard, *, expected_version: int | None = None
) -> Pledge:
    """Carry a pledge to a newer version; its earlier reports keep their own principles."""
    check_version(pledge, expected_version)
    old = pledge.standard
    if pledge.status not in (PledgeStatus.SIGNED, *REPORTING):
        raise OperationError(
            f"Only a signed, active or adopted pledge moves to a new version, not a "
            f"{pledge.status.label.lower()} one.",
            field="standard",
        )
    if standard.id == old.id:
        raise OperationError(f"The pledge is already to version {old.version}.", field="standard")
    if standard.status is not StandardStatus.CURRENT:
        raise OperationError(
            f"Version {standard.version} is {standard.status.label.lower()}; pledges move only "
            "to the version in force.",
            field="standard",
        )
    if live_pledge(pledge.organization_id, standard.id) is not None:
        raise OperationError(
            f"The organization already has a pledge to version {standard.version}.",
            field="standard",
        )
    draft = draft_of(pledge)
    if draft is not None:
        raise OperationError(
            f"There is a {draft.period} draft against version {old.version}; it has to be "
            "submitted or deleted before the pledge moves.",
            field="standard",
        )
    _check_nothing_owed(pledge, old, standard)
    pledge.first_standard_id = pledge.first_standard_id or old.id
    pledge.standard = standard
    if pledge.activated_on is not None:
        # Reporting on the new version starts this quarter: the old reports (or an adoption
        # that needed none) say nothing about the new principles.
        pledge.activated_on = date.today()
    current = pledge.status
    if current is PledgeStatus.ADOPTED:
        # Adoption was of the old principles; the new ones start afresh.
        pledge.status = PledgeStatus.ACTIVE
        pledge.adopted_on = None
    pledge.touch(actor)
    _record(
        actor,
        pledge,
        current,
        pledge.status,
        f"Moved from version {old.version} to {standard.version}",
    )
    db.session.flush()
    return pledge


def _check_nothing_owed(pledge: Pledge, old: Standard, new: Standard) -> None:
    """Moving restarts reporting this quarter, so a pledge behind with its reports would shed
    its non-reporting or lapsed standing (and the reports it owes) by moving: refused."""
    owed = schedule_of(pledge)
    if owed.overdue_since is None or owed.next_quarter is None:
        return
    raise OperationError(
        f"This pledge is {owed.standing.label.lower()}: its {owed.next_quarter.label} report "
        f"was due on {owed.overdue_since:%d %b %Y}. It moves to version {new.version} once "
        f"the reports it owes on version {old.version} are in.",
        field="standard",
    )
