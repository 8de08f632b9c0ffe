"""Every change to a pledge and its progress reports, with the lifecycle enforced in one place.

Stored statuses move draft → signed → active → adopted, or to withdrawn (with a reason) from
any of them. Non-reporting and lapsed are never stored: `crm.pledges.schedule` computes them
from the report dates. Each change is recorded in the pledge's history with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.auth import operations as auth_ops
from crm.auth.models import User
from crm.contacts import operations as contact_ops
from crm.contacts.models import Contact
from crm.core import deletion
from crm.core.access import Role
from crm.core.db import utcnow
from crm.core.errors import OperationError, check_version
from crm.core.locks import serialize_on
from crm.core.validation import clean_choice, clean_text, clean_website
from crm.extensions import db
from crm.organizations import operations as org_ops
from crm.organizations import queries as org_queries
from crm.organizations.models import Organization
from crm.pledges.models import (
    LIVE,
    TOP_LEVEL,
    Assessment,
    Maturity,
    Pledge,
    PledgeChange,
    PledgeStatus,
    ProgressReport,
    ReportStatus,
)
from crm.pledges.queries import schedule_of
from crm.pledges.schedule import Quarter, reportable_quarters
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
    draft = _draft_of(pledge)
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


# --- progress reports ------------------------------------------------------------------------


def fully_verified(pledge: Pledge) -> bool:
    """Every principle of the pledge's version at the top level in one accepted report."""
    principle_ids = {p.id for p in pledge.standard.principles}
    accepted = db.session.scalars(
        sa.select(ProgressReport).where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status == ReportStatus.ACCEPTED,
            ProgressReport.standard_id == pledge.standard_id,
        )
    )
    for report in accepted:
        if superseded(report) is not None:
            continue
        top = {a.principle_id for a in report.answers if a.level is TOP_LEVEL}
        if principle_ids and principle_ids <= top:
            return True
    return False


def start_report(
    actor: User | None, pledge: Pledge, quarter: Quarter, *, today: date | None = None
) -> ProgressReport:
    """A new draft for `quarter`, prefilled from the latest report on the same version."""
    today = today or date.today()
    if pledge.status not in REPORTING or pledge.activated_on is None:
        raise OperationError(
            "Progress reports start once the team has confirmed the pledge.", field="quarter"
        )
    if quarter not in reportable_quarters(pledge.activated_on, today):
        raise OperationError(
            f"{quarter.label} is not a quarter this pledge reports on (from "
            f"{Quarter.of(pledge.activated_on).label} to {Quarter.of(today).label}).",
            field="quarter",
        )
    draft = _draft_of(pledge)
    if draft is not None:
        raise OperationError(
            f"There is already a draft ({draft.period}); finish or delete it first.",
            field="quarter",
        )
    filed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ProgressReport)
        .where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.year == quarter.year,
            ProgressReport.quarter == quarter.number,
            ProgressReport.standard_id == pledge.standard_id,
        )
    )
    if filed:
        raise OperationError(
            f"{quarter.label} is already reported; open that report and choose “Correct this "
            "report” to change it.",
            field="quarter",
        )
    return _new_report(actor, pledge, quarter, base=_latest(pledge))


def _draft_of(pledge: Pledge) -> ProgressReport | None:
    return db.session.scalar(
        sa.select(ProgressReport).where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status == ReportStatus.DRAFT,
        )
    )


def _check_reporting(pledge: Pledge) -> None:
    if pledge.status not in REPORTING:
        raise OperationError(
            f"The pledge is {pledge.status.label.lower()}: its reports can no longer change."
        )


def superseded(report: ProgressReport) -> ProgressReport | None:
    """A filed correction of `report`, if there is one: then that one counts, not this."""
    return db.session.scalar(
        sa.select(ProgressReport).where(
            ProgressReport.corrects_id == report.id,
            ProgressReport.status != ReportStatus.DRAFT,
        )
    )


def _latest(pledge: Pledge) -> ProgressReport | None:
    """The newest filed report on the pledge's version: a new draft starts from it."""
    return db.session.scalar(
        sa.select(ProgressReport)
        .where(
            ProgressReport.pledge_id == pledge.id,
            ProgressReport.status != ReportStatus.DRAFT,
            ProgressReport.standard_id == pledge.standard_id,
        )
        .order_by(
            ProgressReport.year.desc(), ProgressReport.quarter.desc(), ProgressReport.id.desc()
        )
        .limit(1)
    )


def _new_report(
    actor: User | None,
    pledge: Pledge,
    quarter: Quarter,
    *,
    base: ProgressReport | None,
    corrects: ProgressReport | None = None,
) -> ProgressReport:
    report = ProgressReport(
        pledge_id=pledge.id,
        standard_id=pledge.standard_id,
        year=quarter.year,
        quarter=quarter.number,
        status=ReportStatus.DRAFT,
        corrects_id=corrects.id if corrects else None,
    )
    previous = {a.principle_id: a for a in base.answers} if base else {}
    for principle in pledge.standard.principles:
        before = previous.get(principle.id)
        report.answers.append(
            Assessment(
                principle_id=principle.id,
                position=principle.position,
                level=before.level if before else Maturity.NOT_STARTED,
                evidence=before.evidence if before else None,
                comment=before.comment if before else None,
            )
        )
    audit.add_recorded(
        actor,
        report,
        "progress_report",
        summary=f"Report for {report.period} started"
        + (f" (correcting {corrects.period})" if corrects else ""),
    )
    return report


@dataclass
class Answer:
    level: Maturity | str
    evidence: str | None = None
    comment: str | None = None


def save_report(
    actor: User | None,
    report: ProgressReport,
    answers: dict[int, Answer],
    *,
    expected_version: int | None = None,
) -> ProgressReport:
    """Save a draft's answers (principle id → answer); submitted reports are read-only."""
    check_version(report, expected_version)
    if report.status is not ReportStatus.DRAFT:
        raise OperationError(
            "A submitted report cannot be changed; start a correction instead (a new report)."
        )
    _check_reporting(report.pledge)
    for assessment in report.answers:
        answer = answers.get(assessment.principle_id)
        if answer is None:
            continue
        code = assessment.principle.code
        try:
            assessment.level = Maturity(answer.level)
        except ValueError:
            raise OperationError(
                f"{code}: “{answer.level}” is not a maturity level.", field=f"level_{code}"
            ) from None
        assessment.evidence = _clean_evidence(answer.evidence, code)
        assessment.comment = clean_text(answer.comment, f"comment_{code}", f"{code} comment", 5_000)
    report.touch(actor)
    db.session.flush()
    return report


def _clean_evidence(text: str | None, code: str) -> str | None:
    links = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            links.append(clean_website(line, field=f"evidence_{code}"))
        except OperationError:
            raise OperationError(
                f"{code}: “{line[:80]}” is not a web address; give one link (https://…) per line.",
                field=f"evidence_{code}",
            ) from None
    if len(links) > 20:
        raise OperationError(f"{code}: at most 20 evidence links.", field=f"evidence_{code}")
    return "\n".join(links) or None


def submit_report(
    actor: User | None,
    report: ProgressReport,
    answers: dict[int, Answer],
    *,
    expected_version: int | None = None,
) -> ProgressReport:
    save_report(actor, report, answers, expected_version=expected_version)
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = utcnow()
    report.submitted_by_id = getattr(actor, "id", None)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "progress_report",
        report.id,
        summary=f"Report for {report.period} submitted",
        changes={"status": ["draft", "submitted"]},
    )
    db.session.flush()
    return report


def delete_draft(actor: User | None, report: ProgressReport) -> None:
    if report.status is not ReportStatus.DRAFT:
        raise OperationError("Only a draft can be deleted; submitted reports stay on record.")
    audit.delete_recorded(actor, report, "progress_report", summary=f"Draft {report.period}")


def accept_report(
    actor: User, report: ProgressReport, *, expected_version: int | None = None
) -> bool:
    """A lead accepts a submitted report; returns True when that makes the pledge adopted."""
    check_version(report, expected_version)
    if report.status is not ReportStatus.SUBMITTED:
        raise OperationError(
            f"Only a submitted report can be accepted; this one is {report.status.label.lower()}."
        )
    _check_reporting(report.pledge)
    correction = superseded(report)
    if correction is not None:
        raise OperationError(
            f"This report was corrected (report of {correction.submitted_at:%d %b %Y}); "
            "accept the correction instead."
        )
    report.status = ReportStatus.ACCEPTED
    report.accepted_at = utcnow()
    report.accepted_by_id = actor.id
    report.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "progress_report",
        report.id,
        summary=f"Report for {report.period} accepted",
        changes={"status": ["submitted", "accepted"]},
    )
    db.session.flush()
    pledge = report.pledge
    db.session.refresh(pledge, ["reports"])
    if pledge.status is PledgeStatus.ACTIVE and fully_verified(pledge):
        transition(actor, pledge, PledgeStatus.ADOPTED)
        return True
    return False


def correct_report(actor: User | None, report: ProgressReport) -> ProgressReport:
    """A correction is a new draft for the same quarter, starting from the report's answers."""
    if report.status is ReportStatus.DRAFT:
        raise OperationError("This report is still a draft: edit it directly.")
    pledge = report.pledge
    _check_reporting(pledge)
    if report.standard_id != pledge.standard_id:
        raise OperationError(
            "This report is against an earlier version of the standard; file a new report instead."
        )
    if _draft_of(pledge) is not None:
        raise OperationError("There is already a draft; finish or delete it first.")
    return _new_report(
        actor, pledge, Quarter(report.year, report.quarter), base=report, corrects=report
    )


# --- the public pledge form ------------------------------------------------------------------


class Outcome(StrEnum):
    RECEIVED = "received"
    ALREADY = "already"


@dataclass
class PublicPledge:
    organization: str
    kind: str
    country: str | None
    website: str | None
    first_name: str
    last_name: str
    email: str
    title: str | None
    listed: bool


def public_pledge(submission: PublicPledge, standard: Standard) -> tuple[Pledge, Outcome]:
    """A pledge from the public page: signed today, awaiting a lead's confirmation.

    The organization and the signatory are matched (by exact name, by email) or created; what
    the team already recorded about either is never changed.
    """
    serialize_on(f"organization:{org_ops.name_key(submission.organization)}")
    organization = org_queries.by_name(submission.organization)
    if organization is None:
        organization = org_ops.create_organization(
            None,
            org_ops.OrganizationFields(
                name=submission.organization,
                kind=submission.kind,
                country=submission.country,
                website=submission.website,
            ),
        )
    existing = live_pledge(organization.id)  # to this version or an earlier one
    if existing is not None:
        return existing, Outcome.ALREADY
    contact, _created = contact_ops.find_or_create(
        None,
        contact_ops.ContactFields(
            first_name=submission.first_name,
            last_name=submission.last_name,
            email=submission.email,
            title=submission.title,
            organization_id=organization.id,
            country=submission.country,
        ),
    )
    pledge = create_pledge(
        None,
        organization,
        standard,
        signatory_id=contact.id,
        signed_on=date.today(),
        listed=submission.listed,
        source="public form",
    )
    return pledge, Outcome.RECEIVED


def signatory_doubts(pledge: Pledge) -> list[str]:
    """What a lead should check before confirming: confirming invites the signatory to see and
    report for the organization, so a stranger's public submission must not slip through."""
    from urllib.parse import urlsplit

    doubts = []
    signatory = pledge.signatory
    if signatory is None or not signatory.email:
        return ["The signatory has no email address, so nobody can be invited to report."]
    if pledge.source == "public form":
        doubts.append("This pledge came in through the public form: check the signatory really "
                      "speaks for the organization.")  # fmt: skip
    website = pledge.organization.website
    host = (urlsplit(website).hostname or "").removeprefix("www.") if website else ""
    domain = signatory.email.rsplit("@", 1)[-1].lower()
    if host and not (domain == host or domain.endswith("." + host)):
        doubts.append(f"The signatory's address ({signatory.email}) is not at the organization's "
                      f"website domain ({host}).")  # fmt: skip
    if signatory.organization_id not in (None, pledge.organization_id):
        doubts.append("The signatory's contact record names another organization.")
    account = signatory_account(pledge)
    if account is not None and representative_for(pledge) is None:
        doubts.append(
            f"{signatory.email} already has an account ({account.role.label.lower()}), which "
            "confirming leaves as it is: it will not see this pledge until an admin links it."
        )
    return doubts


def signatory_account(pledge: Pledge) -> User | None:
    """Any account with the signatory's address."""
    signatory = pledge.signatory
    if signatory is None or not signatory.email:
        return None
    return db.session.scalar(sa.select(User).where(User.email == signatory.email))


def representative_for(pledge: Pledge) -> User | None:
    """The signatory's account when it represents this pledge's organization."""
    account = signatory_account(pledge)
    if (
        account is not None
        and account.role is Role.ORG_REP
        and account.organization_id == pledge.organization_id
    ):
        return account
    return None


def ensure_representative(actor: User | None, pledge: Pledge) -> User | None:
    """An organization-representative account for the signatory, created when missing.

    Returns the new account (to invite), or None when there is nothing to do: no signatory
    email, or an account already exists (which is left exactly as it is).
    """
    signatory = pledge.signatory
    if signatory is None or not signatory.email or signatory_account(pledge) is not None:
        return None
    return auth_ops.create_user(
        actor,
        email=signatory.email,
        name=signatory.full_name,
        role=Role.ORG_REP,
        organization_id=pledge.organization_id,
        contact_id=signatory.id,
    )
