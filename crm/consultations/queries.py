"""Reading consultations: who was invited and has not answered, comments per principle, the
summary and the comments download."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from crm.campaigns import segments
from crm.campaigns.models import Campaign, OutboxMessage
from crm.consultations.models import (
    Access,
    Answer,
    Consultation,
    Mark,
    Recommendation,
    Response,
)
from crm.contacts.models import Contact
from crm.core.countries import country_name
from crm.extensions import db
from crm.organizations.models import OrganizationKind
from crm.standards.models import Principle, Standard
from crm.standards.queries import counts_usage, grouped_count, version_key

NON_RESPONDERS_LISTED = 2000


def invited_ids(consultation: Consultation) -> sa.Select:
    """The ids of the contacts its segment holds now (nobody when it has none)."""
    if consultation.access is not Access.INVITATION or consultation.segment is None:
        return sa.select(Contact.id).where(sa.false())
    criteria = segments.Criteria.from_dict(consultation.segment.criteria)
    return segments.member_ids(criteria)


def invited_now(consultation: Consultation, contact: Contact) -> bool:
    """Whether the consultation's segment holds `contact` now (anyone may answer a public one)."""
    if consultation.access is not Access.INVITATION:
        return True
    members = invited_ids(consultation).subquery()
    return bool(db.session.scalar(sa.select(sa.exists().where(members.c[0] == contact.id))))


def response_of(consultation: Consultation, contact: Contact) -> Response | None:
    """The contact's response to the consultation (a saved draft too), if they have one."""
    return db.session.scalar(
        sa.select(Response).where(
            Response.consultation_id == consultation.id, Response.contact_id == contact.id
        )
    )


def has_responses(consultation: Consultation) -> bool:
    """Whether anyone has answered (saved drafts count): then its version and who answers no
    longer change, and it is not deleted."""
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(Response.consultation_id == consultation.id)
        )
    )


def _answered_ids(consultation: Consultation) -> sa.Select:
    """Contacts with a submitted response (a saved draft is not an answer)."""
    return sa.select(Response.contact_id).where(
        Response.consultation_id == consultation.id,
        Response.submitted_at.is_not(None),
        Response.contact_id.is_not(None),
    )


def not_answered_ids(consultation: Consultation) -> sa.Select:
    """The ids of the invited contacts without a submitted response, as of now: the
    recipients of a reminder campaign (crm.campaigns.operations.sending.recipients) and this
    page."""
    return sa.select(Contact.id).where(
        Contact.id.in_(invited_ids(consultation)),
        Contact.id.not_in(_answered_ids(consultation)),
    )


def not_answered(
    consultation: Consultation, limit: int | None = NON_RESPONDERS_LISTED
) -> list[Contact]:
    """Invited contacts without a submitted response (a saved draft is not an answer)."""
    stmt = (
        sa.select(Contact)
        .where(Contact.id.in_(not_answered_ids(consultation)))
        .options(selectinload(Contact.organization))
        .order_by(Contact.sort_name, Contact.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def count_not_answered(consultation: Consultation) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(not_answered_ids(consultation).subquery())
    ).scalar_one()


def reminders(consultation: Consultation) -> list[Campaign]:
    """The campaigns that go (or went) to those invited who had not answered, newest first."""
    return list(
        db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.consultation_id == consultation.id)
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        )
    )


def last_reminded(consultation: Consultation, contact_ids: list[int]) -> dict[int, dict]:
    """For each of these people, the latest reminder campaign message to them: {"status",
    "at"} (sent time, or when it was queued)."""
    found: dict[int, dict] = {}
    for start in range(0, len(contact_ids), 1000):
        rows = db.session.execute(
            sa.select(
                OutboxMessage.contact_id,
                OutboxMessage.status,
                OutboxMessage.sent_at,
                Campaign.queued_at,
            )
            .join(Campaign, Campaign.id == OutboxMessage.campaign_id)
            .where(
                Campaign.consultation_id == consultation.id,
                OutboxMessage.contact_id.in_(contact_ids[start : start + 1000]),
            )
            .order_by(OutboxMessage.id)
        )
        for contact_id, status, sent_at, queued_at in rows:
            assert contact_id is not None  # asked for by id
            found[contact_id] = {"status": status, "at": sent_at or queued_at}
    return found


def submitted(consultation: Consultation) -> list[Response]:
    return list(
        db.session.scalars(
            sa.select(Response)
            .where(Response.consultation_id == consultation.id, Response.submitted_at.is_not(None))
            .order_by(Response.submitted_at, Response.id)
        )
    )


def _unconfirmed_only() -> sa.ColumnElement[bool]:
    """A draft made only to hold what someone typed on the public page with this person's
    address (`Response.pending`, no answers of their own): not theirs until they open their
    link and save or submit."""
    has_answers = sa.exists().where(Answer.response_id == Response.id)
    # None is stored as SQL NULL or as JSON null, depending on how it was set.
    no_pending = sa.or_(Response.pending.is_(None), sa.cast(Response.pending, sa.Text) == "null")
    return sa.and_(~has_answers, ~no_pending)


def drafts_count(consultation: Consultation) -> int:
    """Drafts people saved themselves (what was typed with their address by someone on the
    public page does not count until they confirm it)."""
    return _count_drafts(consultation, ~_unconfirmed_only())


def unconfirmed_count(consultation: Consultation) -> int:
    """Drafts that only hold what was typed on the public page, waiting for the person."""
    return _count_drafts(consultation, _unconfirmed_only())


def _count_drafts(consultation: Consultation, which: sa.ColumnElement[bool]) -> int:
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(Response)
        .where(
            Response.consultation_id == consultation.id,
            Response.submitted_at.is_(None),
            which,
        )
    ).scalar_one()


def answers_by_recommendation(consultation: Consultation) -> dict[int, int]:
    """How many answers each draft text has, saved drafts included (what stops deleting it)."""
    rows = db.session.execute(
        sa.select(Answer.recommendation_id, sa.func.count())
        .join(Response)
        .where(Response.consultation_id == consultation.id, Answer.recommendation_id.is_not(None))
        .group_by(Answer.recommendation_id)
    )
    return {recommendation_id: n for recommendation_id, n in rows if recommendation_id is not None}


def answers_on(recommendation: Recommendation) -> int:
    """Answers about a draft text, saved drafts included."""
    return db.session.execute(
        sa.select(sa.func.count())
        .select_from(Answer)
        .where(Answer.recommendation_id == recommendation.id)
    ).scalar_one()


COMMENTS_PER_PAGE = 50


def _comments_statement(
    consultation: Consultation,
    *,
    principle_id: int | None = None,
    recommendation_id: int | None = None,
    theme: str | None = None,
    open_only: bool = False,
) -> sa.Select:
    stmt = (
        sa.select(Answer)
        .join(Response)
        .where(Response.consultation_id == consultation.id, Response.submitted_at.is_not(None))
    )
    if principle_id:
        stmt = stmt.where(Answer.principle_id == principle_id)
    if recommendation_id:
        stmt = stmt.where(Answer.recommendation_id == recommendation_id)
    if theme:
        # Themes are stored lower case and comma separated: match one whole theme.
        wrapped = sa.literal(",") + sa.func.coalesce(Answer.themes, "") + sa.literal(",")
        stmt = stmt.where(wrapped.contains(f",{theme.strip().lower()},", autoescape=True))
    if open_only:
        stmt = stmt.where(Answer.addressed_at.is_(None), Answer.comment.is_not(None))
    return stmt


def ordered_recommendations(consultation: Consultation) -> list[Recommendation]:
    """The draft texts in reading order: each principle's right after it (in the order they
    were added), then the proposed new principles (and any text whose principle was removed)."""
    by_principle: dict[int | None, list[Recommendation]] = {}
    for rec in consultation.recommendations:
        by_principle.setdefault(rec.principle_id, []).append(rec)
    ordered = [r for p in consultation.standard.principles for r in by_principle.pop(p.id, [])]
    leftover = [r for key, recs in by_principle.items() if key is not None for r in recs]
    return ordered + sorted(leftover, key=lambda r: r.position) + by_principle.get(None, [])


def _in_reading_order(stmt: sa.Select) -> sa.Select:
    """Answers in the order of the summary: each principle, then the draft texts on it, then
    the proposed new principles. Every key is spelled out (no NULL in a sort key decides
    anything), so SQLite and PostgreSQL, which sort NULL at opposite ends, agree."""
    rec = aliased(Recommendation)
    principle = aliased(Principle)
    stmt = stmt.outerjoin(rec, rec.id == Answer.recommendation_id).outerjoin(
        principle, principle.id == sa.func.coalesce(Answer.principle_id, rec.principle_id)
    )
    return stmt.order_by(
        sa.case((principle.id.is_(None), 1), else_=0),  # new principles last
        sa.func.coalesce(principle.position, 0),
        sa.func.coalesce(principle.id, 0),
        sa.case((Answer.principle_id.is_not(None), 0), else_=1),  # a principle before its texts
        sa.func.coalesce(rec.position, 0),
        sa.func.coalesce(rec.id, 0),
        Answer.id,
    )


def comments(consultation: Consultation, **filters) -> list[Answer]:
    """Every submitted answer matching the filters (see `_comments_statement`), in order."""
    stmt = _comments_statement(consultation, **filters).options(
        selectinload(Answer.response), selectinload(Answer.addressed_by)
    )
    return list(db.session.scalars(_in_reading_order(stmt)))


@dataclass
class CommentsPage:
    answers: list[Answer]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def comments_page(
    consultation: Consultation, *, page: int = 1, per_page: int | None = None, **filters
) -> CommentsPage:
    """One page of `comments`: a consultation can draw thousands of comments."""
    per_page = per_page or COMMENTS_PER_PAGE
    stmt = _comments_statement(consultation, **filters)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    answers = db.session.scalars(
        _in_reading_order(
            stmt.options(selectinload(Answer.response), selectinload(Answer.addressed_by))
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return CommentsPage(list(answers), total, page, per_page)


def respondent_label(response: Response) -> str:
    """The name of one who agreed to be named, "Respondent 3" for everyone else: the number
    each response got when it was first submitted, so labels never move."""
    return response.name if response.named else f"Respondent {response.number}"


def respondent_labels(responses: list[Response]) -> dict[int, str]:
    return {response.id: respondent_label(response) for response in responses}


@dataclass
class Split:
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    comments: int = 0
    open: int = 0
    proposed: bool = False  # a proposed new principle (or a text whose principle went)


@dataclass
class Summary:
    responses: int
    drafts: int
    unconfirmed: int  # held for people to confirm: not counted as drafts, but stops deleting
    by_kind: list[tuple[str, int]]
    by_country: list[tuple[str, int]]
    items: list[tuple[str, str, Split]]  # (kind "p"/"r", id, split)
    themes: list[tuple[str, int]]


def summary(consultation: Consultation) -> Summary:
    responses = submitted(consultation)
    kinds = Counter(
        r.organization_kind.label if r.organization_kind else "Not given" for r in responses
    )
    countries = Counter(country_name(r.country) if r.country else "Not given" for r in responses)
    answers = comments(consultation)
    splits: dict[tuple[str, int | None], Split] = {}
    recs_of: dict[int | None, list] = {}
    for rec in ordered_recommendations(consultation):
        recs_of.setdefault(rec.principle_id, []).append(rec)
    for principle in consultation.standard.principles:
        splits[("p", principle.id)] = Split(principle.label)
        for rec in recs_of.pop(principle.id, []):
            splits[("r", rec.id)] = Split(rec.label)
    for rec in (r for recs in recs_of.values() for r in recs):  # new principles, in order
        splits[("r", rec.id)] = Split(rec.label, proposed=True)
    themes: Counter[str] = Counter()
    for answer in answers:
        key = ("p", answer.principle_id) if answer.principle_id else ("r", answer.recommendation_id)
        split = splits.get(key)
        if split is None:
            continue
        if answer.mark is not None:
            split.counts[answer.mark.value] = split.counts.get(answer.mark.value, 0) + 1
            split.total += 1
        if answer.comment:
            split.comments += 1
            if answer.addressed_at is None:
                split.open += 1
        themes.update(answer.theme_list)
    return Summary(
        responses=len(responses),
        drafts=drafts_count(consultation),
        unconfirmed=unconfirmed_count(consultation),
        by_kind=kinds.most_common(),
        by_country=countries.most_common(),
        items=[(k[0], str(k[1]), s) for k, s in splits.items()],
        themes=themes.most_common(15),
    )


MARK_LABELS = {m.value: m.label for m in Mark}
KIND_LABELS = {k.value: k.label for k in OrganizationKind}


def comments_frame(consultation: Consultation) -> pd.DataFrame:
    """Every answer, one row each; people are named only when they agreed to be."""
    responses = submitted(consultation)
    labels = respondent_labels(responses)
    by_id = {r.id: r for r in responses}
    rows = []
    for answer in comments(consultation):
        response = by_id.get(answer.response_id)
        if response is None:
            continue
        if answer.principle is not None:
            item = answer.principle.label
        else:
            item = answer.recommendation.label if answer.recommendation else ""
        rows.append(
            {
                "Principle or recommendation": item,
                "Mark": answer.mark.label if answer.mark else "",
                "Comment": answer.comment or "",
                "Themes": ", ".join(answer.theme_list),
                "Addressed": "yes" if answer.addressed_at else "no",
                "What changed": answer.addressed_note or "",
                "Respondent": labels[response.id],
                "Organization": (response.organization or "") if response.named else "",
                "Organization kind": response.organization_kind.label
                if response.organization_kind
                else "",
                "Country": country_name(response.country) if response.country else "",
            }
        )
    columns = [
        "Principle or recommendation",
        "Mark",
        "Comment",
        "Themes",
        "Addressed",
        "What changed",
        "Respondent",
        "Organization",
        "Organization kind",
        "Country",
    ]
    return pd.DataFrame(rows, columns=columns)


def not_answered_frame(consultation: Consultation, link_for) -> pd.DataFrame:
    rows = [
        {
            "Name": c.full_name,
            "Email": c.email or "",
            "Organization": c.organization.name if c.organization else "",
            "Personal link": link_for(c),
        }
        for c in not_answered(consultation, limit=None)
    ]
    return pd.DataFrame(rows, columns=["Name", "Email", "Organization", "Personal link"])


def suggested_version(consultation: Consultation) -> str:
    """The number the next version would take: the consulted version's major number plus one
    ("1.0" → "2.0"), skipping numbers already used. The administrator who publishes may choose
    another."""
    taken = set(db.session.scalars(sa.select(Standard.version)))
    major = version_key(consultation.standard.version)[0] + 1
    while f"{major}.0" in taken:
        major += 1
    return f"{major}.0"


def all_consultations() -> list[Consultation]:
    return list(
        db.session.scalars(
            sa.select(Consultation).order_by(Consultation.opens_on.desc(), Consultation.id.desc())
        )
    )


def response_counts() -> dict[int, int]:
    return dict(
        db.session.execute(
            sa.select(Response.consultation_id, sa.func.count())
            .where(Response.submitted_at.is_not(None))
            .group_by(Response.consultation_id)
        ).all()
    )


# A version's usage (crm.standards.queries): an answer about one of its principles freezes it.
@counts_usage("answers")
def _answers_by_version(standard_ids: list[int] | None) -> dict[int, int]:
    return grouped_count(Principle.standard_id, standard_ids, Answer)
