"""The demo data shows the feature: a closed public review with answers, themes and comments
addressed, and an open consultation by invitation with draft texts and people to remind."""

from __future__ import annotations

import sqlalchemy as sa

from crm.auth.models import Role, User
from crm.consultations import queries
from crm.consultations.models import Access, Answer, Consultation, Phase


def test_demo_consultations(runner, db, client, login):
    result = runner.invoke(args=["crm", "bootstrap"])
    assert result.exit_code == 0, result.output
    review, draft = db.session.scalars(sa.select(Consultation).order_by(Consultation.id)).all()
    assert review.title == "1.0 review" and review.access is Access.PUBLIC
    assert review.phase() is Phase.CLOSED and queries.summary(review).responses >= 20
    assert queries.summary(review).themes
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(Answer).where(Answer.addressed_at.is_not(None))
    )
    assert draft.title == "2.0 draft" and draft.access is Access.INVITATION and draft.is_open
    assert len(draft.recommendations) == 4 and queries.summary(draft).responses > 0
    assert queries.count_not_answered(draft) > 0
    login(db.session.scalar(sa.select(User).where(User.role == Role.LEAD)))
    for url in (f"/consultations/{review.id}", f"/consultations/{draft.id}",
                f"/consultations/{draft.id}/not-answered", f"/consultations/{review.id}/comments"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    assert client.post(f"/consultations/{draft.id}/remind").status_code == 302
