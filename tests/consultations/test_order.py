"""Reading order everywhere the team reads a consultation: each principle, then the draft
texts on it, then the proposed new principles — the same on SQLite and PostgreSQL (which sort
NULL at opposite ends, and a recommendation's answers have no principle_id)."""

from __future__ import annotations

import csv
import io

import openpyxl
import sqlalchemy as sa

from crm.consultations import queries
from crm.consultations.models import Answer
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import responses as response_ops


def scenario(db, make_consultation, make_user):
    """Draft texts added out of order: on P3, a new P9, on P1, a second on P3, a new P10.
    One respondent answers everything, the principles P1, P3 and P8 too."""
    consultation = make_consultation()
    lead = make_user("lead")
    ps = {p.code: p for p in consultation.standard.principles}

    def add(**fields):
        return draft_ops.add_recommendation(
            lead, consultation, draft_ops.RecommendationFields(**fields)
        )

    recs = {
        "r-P3a": add(text="P3 first", principle_id=ps["P3"].id),
        "r-P9": add(text="Data", new_code="P9", new_title="Data"),
        "r-P1": add(text="P1 text", principle_id=ps["P1"].id),
        "r-P3b": add(text="P3 second", principle_id=ps["P3"].id),
        "r-P10": add(text="Care", new_code="P10", new_title="Care"),
    }
    db.session.commit()
    answers = [
        response_ops.AnswerFields(recommendation_id=r.id, mark="weakness", comment=name)
        for name, r in reversed(recs.items())
    ] + [
        response_ops.AnswerFields(principle_id=ps[code].id, mark="strength", comment=code)
        for code in ("P8", "P3", "P1")
    ]
    response_ops.respond_public(
        consultation,
        response_ops.Respondent(name="Rina Akter", email="rina@example.org"),
        answers,
        submit=True,
    )
    db.session.commit()
    return consultation, recs


EXPECTED = ["P1", "r-P1", "P3", "r-P3a", "r-P3b", "P8", "r-P9", "r-P10"]


def test_summary_comments_pages_and_downloads_follow_the_principles(
    client, as_role, db, make_consultation, make_user
):
    consultation, recs = scenario(db, make_consultation, make_user)
    label = {r.id: name for name, r in recs.items()}
    principle_ids = {p.id: p.code for p in consultation.standard.principles}

    # The summary: all eight principles, each followed by its texts; new principles last.
    summary = queries.summary(consultation)
    items = [principle_ids[int(i)] if k == "p" else label[int(i)] for k, i, _s in summary.items]
    assert items == [
        "P1", "r-P1", "P2", "P3", "r-P3a", "r-P3b", "P4", "P5", "P6", "P7", "P8", "r-P9", "r-P10"
    ]  # fmt: skip
    assert [label[r.id] for r in queries.ordered_recommendations(consultation)] == [
        "r-P1", "r-P3a", "r-P3b", "r-P9", "r-P10"
    ]  # fmt: skip

    # The comments, all at once and a page at a time.
    assert [a.comment for a in queries.comments(consultation)] == EXPECTED
    paged = []
    for page in (1, 2, 3):
        paged += [
            a.comment for a in queries.comments_page(consultation, page=page, per_page=3).answers
        ]
    assert paged == EXPECTED
    # Filtered, the order holds too.
    db.session.scalar(sa.select(Answer).where(Answer.comment == "r-P9")).themes = "data"
    db.session.scalar(sa.select(Answer).where(Answer.comment == "P3")).themes = "data"
    db.session.commit()
    assert [a.comment for a in queries.comments(consultation, theme="data")] == ["P3", "r-P9"]

    as_role("lead")
    page = client.get(f"/consultations/{consultation.id}/comments").get_data(as_text=True)
    shown = [c for c in EXPECTED if f'<div class="preserve-lines mt-1">{c}</div>' in page]
    assert shown == EXPECTED
    positions = [page.index(f'<div class="preserve-lines mt-1">{c}</div>') for c in EXPECTED]
    assert positions == sorted(positions)

    detail = client.get(f"/consultations/{consultation.id}").get_data(as_text=True)
    drafts = detail[detail.index('id="draft"') :]
    texts = ["P1 text", "P3 first", "P3 second", "Data", "Care"]
    assert [drafts.index(f">{t}</div>") for t in texts] == sorted(
        drafts.index(f">{t}</div>") for t in texts
    )

    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(f"/consultations/{consultation.id}/comments.csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert [r["Comment"] for r in rows] == EXPECTED
    assert rows[1]["Principle or recommendation"] == "Recommendation on P1"
    assert rows[-1]["Principle or recommendation"] == "New principle P10 · Care"
    xlsx = client.get(f"/consultations/{consultation.id}/comments.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    header = [c.value for c in next(sheet.iter_rows())]
    column = header.index("Comment")
    assert [row[column].value for row in list(sheet.iter_rows())[1:]] == EXPECTED
