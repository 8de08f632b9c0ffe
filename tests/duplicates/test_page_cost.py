"""The duplicates page's cost does not grow with what it shows: the same statements for two
pairs as for twenty, only the columns it shows, and no count of a big pair table per view."""

from __future__ import annotations

import re

from crm.core import table_counts
from crm.duplicates.models import DuplicateKind, DuplicatePair, pairs_table
from tests.dashboard.test_figures import statements


def _pairs(db, make_org, make_contact, n: int, start: int = 0) -> None:
    """`n` stored pairs of contacts, each pair in its own organization (named by its reason)."""
    for i in range(start, start + n):
        org = make_org(f"Thread Works {i}")
        a = make_contact("Farhana", f"Rahman{i}", email=f"f{i}@example.org", organization_id=org.id)
        b = make_contact("Farhana", f"Rahmen{i}", phone=f"+880 171 555 {i:04d}")
        db.session.add(DuplicatePair(
            kind=DuplicateKind.CONTACT, low_id=a.id, high_id=b.id, score=90,
            reasons=[{"rule": "name", "similarity": 92, "organization_id": org.id}],
        ))  # fmt: skip
    db.session.commit()


def _page(client, app, url: str = "/duplicates/") -> tuple[str, list[str]]:
    with statements(app) as seen:
        response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True), seen


def test_the_statements_do_not_grow_with_the_pairs_shown(
    app, client, as_role, db, make_org, make_contact
):
    as_role("lead")
    _pairs(db, make_org, make_contact, 2)
    text, few = _page(client, app)
    assert "Farhana Rahmen1" in text and "f1@example.org" in text
    assert "+880 171 555 0001" in text and "in Thread Works 1" in text
    _pairs(db, make_org, make_contact, 18, start=2)
    text, many = _page(client, app)
    assert "Farhana Rahmen19" in text and "in Thread Works 19" in text
    assert len(many) == len(few)
    # One statement reads the records of the page, with only the columns it shows.
    reads = [s for s in many if re.search(r"\bfrom contact\b", s)]
    assert len(reads) == 1 and "notes" not in reads[0] and "languages" not in reads[0]


def test_each_pair_links_to_its_records_merge_and_dismissal(
    app, client, as_role, db, make_org, make_contact
):
    as_role("lead")
    _pairs(db, make_org, make_contact, 1)
    pair = db.session.query(DuplicatePair).one()
    text, _seen = _page(client, app)
    for link in (f"/contacts/{pair.low_id}\"", f"/contacts/{pair.high_id}\"",
                 f"/duplicates/contacts/{pair.low_id}/{pair.high_id}\"",
                 f"/duplicates/contacts/{pair.low_id}/{pair.high_id}/dismiss\""):  # fmt: skip
        assert link in text


def test_a_big_pair_table_is_not_counted_on_each_view(
    app, client, as_role, db, make_org, make_contact
):
    as_role("lead")
    _pairs(db, make_org, make_contact, 2)
    text, seen = _page(client, app)
    assert "2 pairs" in text and any("count(" in s for s in seen)  # small: counted, exact
    with app.test_request_context():
        table_counts.store({pairs_table(DuplicateKind.CONTACT): 25_000})
        db.session.commit()
    text, seen = _page(client, app)
    assert "More than 10,000 pairs" in text  # the worker's count, past the cap
    assert not any("count(" in s for s in seen)
    # A filter by score is counted (capped) as before: the stored count is of every pair.
    text, seen = _page(client, app, "/duplicates/?min_score=95")
    assert "0 pairs" in text and any("count(" in s for s in seen)


def test_the_figures_job_counts_the_pairs_of_each_kind(app, db, make_org, make_contact):
    from datetime import date

    from crm.dashboard.figures import store_figures

    _pairs(db, make_org, make_contact, 3)
    with app.test_request_context():
        store_figures(date.today())
        assert table_counts.stored(pairs_table(DuplicateKind.CONTACT)) == 3
        assert table_counts.stored(pairs_table(DuplicateKind.ORGANIZATION)) == 0
