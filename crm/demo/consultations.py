"""Demo consultations: the closed public "1.0 review" with responses, themes and comments
addressed, and the open "2.0 draft" by invitation with draft recommendations, some answers, a
few saved drafts and invitees still to answer (so "Remind them" has someone to remind)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from crm.auth.models import User
from crm.campaigns.operations import saved_segments as segment_ops
from crm.consultations.models import Answer, Consultation, Response
from crm.consultations.operations import comments as comment_ops
from crm.consultations.operations import consultations as consultation_ops
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import responses as response_ops
from crm.contacts.models import Contact
from crm.extensions import db
from crm.standards.models import Standard, StandardStatus
from crm.tags.operations import tags_from_names

INVITED_TAG = "standards-2.0"

# (mark, comment, themes) a respondent might give; themes are what a lead would tag.
COMMENTS = [
    ("weakness", "Who counts as a worker is unclear: are agency and home workers included?",
     "scope, informal work"),
    ("weakness", "Too vague to audit: what evidence shows a brand has met this?", "evidence"),
    ("strength", "Workers helped design the survey, and it showed in the response rate.",
     "co-design"),
    ("opportunity", "SMS works where smartphones are rare; say so.", "low-tech access"),
    ("recommendation", "Name the union or worker committee as a partner, not only management.",
     "worker voice"),
    ("weakness", "Nothing on what happens to the data after the project ends.",
     "data protection"),
    ("strength", "The grievance follow-up step is clear and practical.", "grievance"),
    ("opportunity", "Link to the ILO guidance on social dialogue.", "alignment"),
    ("recommendation", "Require results to be shared back with workers in their language.",
     "feedback to workers, language"),
    ("weakness", "Security advice assumes an IT team most suppliers do not have.",
     "supplier capacity, data protection"),
    ("strength", "", ""),
    ("opportunity", "", ""),
]  # fmt: skip

RECOMMENDATIONS = [
    ("P3", "Build trust by agreeing with worker representatives, before launch, what is "
           "collected, who sees it and how workers hear the results."),
    ("P5", "Assess the risks to workers (retaliation, surveillance, data loss) before launch and "
           "again each year; keep only the data the purpose needs."),
    ("P7", "Report back to workers within three months what changed because of what they said."),
]  # fmt: skip
NEW_PRINCIPLE = ("P9", "Respect Data Rights", "Workers know what data is held about them, can "
                 "see it, and can have it corrected or deleted.")  # fmt: skip

ADDRESSED_NOTES = [
    "2.0 draft names agency and home workers in scope.",
    "Added an evidence checklist to the 2.0 draft.",
    "New P9 covers data after the project ends.",
]


def _answers(rng: random.Random, consultation: Consultation, count: int):
    items = response_ops.items(consultation)
    chosen = rng.sample(items, min(count, len(items)))
    answers, themes = [], {}
    for kind, item_id in chosen:
        mark, comment, tagged = rng.choice(COMMENTS)
        answers.append(response_ops.AnswerFields.on_item(kind, item_id, mark, comment))
        themes[(kind, item_id)] = tagged
    return answers, themes


def _respond(rng, consultation, contact, on: date, *, submit: bool, lead: User | None) -> None:
    answers, themes = _answers(rng, consultation, rng.randint(2, 5))
    response, _outcome = response_ops.respond(
        consultation, contact, answers, submit=submit, today=on
    )
    at = datetime.combine(on, time(rng.randint(7, 20), rng.randint(0, 59)))
    response.created_at = response.updated_at = at
    if submit:
        response.submitted_at = at
        response.named = rng.random() < 0.3
    for answer in response.answers:
        key = ("p", answer.principle_id) if answer.principle_id else ("r", answer.recommendation_id)
        if lead is not None and answer.comment and themes.get(key) and rng.random() < 0.8:
            comment_ops.set_themes(lead, answer, themes[key])


def load(rng: random.Random, contacts: list[Contact], staff: list[User]) -> str:
    standard = db.session.scalar(
        sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
    )
    if standard is None or not standard.principles:
        return "no consultations (no current standard)"
    lead = staff[0]
    today = date.today()
    people = [c for c in contacts if c.email]

    review = consultation_ops.create_consultation(
        lead,
        consultation_ops.ConsultationFields(
            standard_id=standard.id,
            title=f"{standard.version} review",
            opens_on=today - timedelta(days=200),
            closes_on=today - timedelta(days=120),
            access="public",
            description="What works in the principles as they are, what does not, and what is "
            "missing. Your comments shape version 2.0.",
        ),
    )
    respondents = rng.sample(people, min(28, len(people)))
    for contact in respondents:
        on = review.opens_on + timedelta(days=rng.randint(0, 80))
        _respond(rng, review, contact, on, submit=True, lead=lead)
    db.session.flush()
    addressed = 0
    for answer in _answers_of(review):
        if answer.comment and answer.mark and answer.mark.value == "weakness" and addressed < 6:
            comment_ops.mark_addressed(lead, answer, ADDRESSED_NOTES[addressed % 3])
            addressed += 1

    invited = [c for c in contacts if INVITED_TAG in {t.name for t in c.tags}]
    if len(invited) < 12:  # a few more, so the invitation list is worth reading
        extra = [c for c in people if c not in invited][: 12 - len(invited)]
        for contact in extra:
            contact.tags = [*contact.tags, *tags_from_names([INVITED_TAG])]
        invited += extra
    db.session.flush()
    segment = segment_ops.create_segment(
        lead,
        segment_ops.SegmentFields(
            name="Standards 2.0 consultation",
            description="Invited to comment on the 2.0 draft.",
            criteria={"tags": [INVITED_TAG], "consent_only": False},
        ),
    )
    draft = consultation_ops.create_consultation(
        lead,
        consultation_ops.ConsultationFields(
            standard_id=standard.id,
            title="2.0 draft",
            opens_on=today - timedelta(days=10),
            closes_on=today + timedelta(days=25),
            access="invitation",
            segment_id=segment.id,
            description="The draft recommendations for version 2.0, for the working group, "
            "champions and partners to comment on before the public consultation.",
        ),
    )
    by_code = {p.code: p for p in standard.principles}
    for code, text in RECOMMENDATIONS:
        if code in by_code:
            draft_ops.add_recommendation(
                lead,
                draft,
                draft_ops.RecommendationFields(text=text, principle_id=by_code[code].id),
            )
    if NEW_PRINCIPLE[0] not in by_code:
        code, title, text = NEW_PRINCIPLE
        draft_ops.add_recommendation(
            lead, draft, draft_ops.RecommendationFields(text=text, new_code=code, new_title=title)
        )
    rng.shuffle(invited)
    answered = invited[: len(invited) * 2 // 5]
    saved = invited[len(answered) : len(answered) + 3]
    for contact in answered:
        on = today - timedelta(days=rng.randint(0, 9))
        _respond(rng, draft, contact, on, submit=True, lead=lead)
    for contact in saved:
        _respond(rng, draft, contact, today, submit=False, lead=None)
    db.session.flush()
    return (
        f"2 consultations ({len(respondents)} and {len(answered)} responses, "
        f"{len(invited) - len(answered)} invited still to answer)"
    )


def _answers_of(consultation: Consultation):
    return list(
        db.session.scalars(
            sa.select(Answer)
            .join(Response)
            .where(Response.consultation_id == consultation.id)
            .order_by(Answer.id)
        )
    )
