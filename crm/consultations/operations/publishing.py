"""Publishing the next version of the standard from a closed consultation's accepted draft
texts: what it would make (`publish_plan`, for the page) and making exactly that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from crm.audit import operations as audit
from crm.audit.models import AuditAction
from crm.consultations.models import Consultation, Phase, Recommendation
from crm.consultations.queries import ordered_recommendations
from crm.core.errors import OperationError
from crm.extensions import db
from crm.standards import operations as standard_ops
from crm.standards.models import Principle, Standard, StandardStatus


@dataclass
class PublishFields:
    version: str
    title: str
    make_current: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class PlannedPrinciple:
    """One principle of the version publishing would make."""

    code: str
    title: str
    text: str | None
    recommendation: Recommendation | None = None  # the accepted draft text it takes, if any
    earlier_text: str | None = None  # the consulted version's wording, when it changes

    @property
    def change(self) -> str:
        if self.recommendation is None:
            return "unchanged"
        return "new" if self.recommendation.principle_id is None else "reworded"


@dataclass
class PublishPlan:
    principles: list[PlannedPrinciple]
    accepted: list[Recommendation]
    orphans: list[Recommendation]  # accepted, but their principle was removed
    doubles: dict[str, list[Recommendation]]  # principle code -> its accepted texts, when > 1

    def count(self, change: str) -> int:
        return sum(1 for p in self.principles if p.change == change)

    @property
    def without_text(self) -> list[str]:
        """The codes of the principles that would have no text (the version cannot become
        current until each has one: `crm.standards.operations.set_status` refuses it)."""
        return [p.code for p in self.principles if not p.text]

    @property
    def without_text_phrase(self) -> str:
        """ "P2", "P2 and P5", "P2–P8" (a run in the version's order), "P2, P4 and P7"."""
        codes = self.without_text
        order = [p.code for p in self.principles]
        if len(codes) > 2 and [order.index(c) for c in codes] == list(
            range(order.index(codes[0]), order.index(codes[0]) + len(codes))
        ):
            return f"{codes[0]}–{codes[-1]}"
        if len(codes) > 1:
            return f"{', '.join(codes[:-1])} and {codes[-1]}"
        return "".join(codes)


def _new_principle(rec: Recommendation) -> PlannedPrinciple:
    """An accepted draft text that proposes a new principle (a draft saves its code and title
    together)."""
    assert rec.new_code and rec.new_title, f"recommendation #{rec.id} proposes no principle"
    return PlannedPrinciple(
        code=rec.new_code, title=rec.new_title, text=rec.text, recommendation=rec
    )


def publish_plan(consultation: Consultation) -> PublishPlan:
    """What publishing would make from the accepted draft texts: the consulted version's
    principles in order, each with its accepted new wording, then the accepted new principles.
    The publish page shows it; `publish_version` makes exactly this."""
    accepted = [r for r in ordered_recommendations(consultation) if r.accepted]
    on: dict[int, list[Recommendation]] = {}
    for r in accepted:
        if r.principle_id is not None:
            on.setdefault(r.principle_id, []).append(r)
    planned = []
    doubles = {}
    for principle in consultation.standard.principles:
        recs = on.get(principle.id, [])
        if len(recs) > 1:
            doubles[principle.code] = recs
        rec = recs[-1] if recs else None
        planned.append(
            PlannedPrinciple(
                code=principle.code,
                title=principle.title,
                text=rec.text if rec else principle.text,
                recommendation=rec,
                earlier_text=principle.text if rec else None,
            )
        )
    planned += [_new_principle(r) for r in accepted if r.principle_id is None and r.new_code]
    orphans = [r for r in accepted if r.principle_id is None and not r.new_code]
    return PublishPlan(planned, accepted, orphans, doubles)


def publish_version(
    actor, consultation: Consultation, fields: PublishFields, *, today: date | None = None
) -> Standard:
    """After closing: a new version whose principles are the consulted version's with the
    accepted draft texts applied (new wording, new principles): `publish_plan`. It may become
    current at once, so pledges can move to it."""
    if consultation.phase(today) is not Phase.CLOSED:
        raise OperationError("Publish from the draft once the consultation has closed.")
    if consultation.published_standard_id is not None:
        published = consultation.published_standard
        assert published is not None  # the id names it
        raise OperationError(
            f"Version {published.version} was already published from this consultation."
        )
    plan = publish_plan(consultation)
    accepted = plan.accepted
    if not accepted:
        raise OperationError(
            "No draft text is accepted yet: accept the recommendations that go into the new "
            "version first."
        )
    orphans = plan.orphans
    if orphans:
        # Its principle was removed, and it proposes no new one: nowhere to put the text.
        one = len(orphans) == 1
        raise OperationError(
            f"{len(orphans)} accepted draft text{'' if one else 's'} no longer "
            f"belong{'s' if one else ''} to a principle of version {consultation.standard.version}"
            f": use the Edit link beside {'it' if one else 'each'} to choose a principle or "
            f"propose a new one, or set {'it' if one else 'them'} aside."
        )
    if plan.doubles:
        code, recs = next(iter(plan.doubles.items()))
        raise OperationError(
            f"{code} has {len(recs)} accepted draft texts, and a principle takes one wording: "
            "set aside all but one (or edit one to hold the wording you want)."
        )
    source = consultation.standard
    standard = standard_ops.supersede(actor, source, fields.version, fields.title)
    by_code = {p.code: p for p in standard.principles}
    for planned in plan.principles:
        if planned.change == "reworded" and planned.code in by_code:
            by_code[planned.code].text = planned.text
        elif planned.change == "new":
            standard.principles.append(
                Principle(
                    code=planned.code,
                    title=planned.title,
                    text=planned.text,
                    position=len(standard.principles) + 1,
                )
            )
    db.session.flush()
    consultation.published_standard_id = standard.id
    consultation.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "consultation",
        consultation.id,
        summary=f"Published version {standard.version} from {len(accepted)} accepted draft "
        "text" + ("s" if len(accepted) != 1 else ""),
    )
    if fields.make_current:
        standard_ops.set_status(actor, standard, StandardStatus.CURRENT)
    db.session.flush()
    return standard
