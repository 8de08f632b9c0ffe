"""`crm.core.bulk.update_rows`: many rows updated by id, a statement per set of columns."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.core.bulk import update_rows
from crm.tags.models import Tag


def _rows(db, table: sa.Table, ids: list[int], *columns: str) -> dict[int, tuple]:
    query = sa.select(table.c.id, *(table.c[c] for c in columns)).where(table.c.id.in_(ids))
    return {row[0]: tuple(row[1:]) for row in db.session.execute(query)}


def test_each_row_gets_its_own_values_and_its_version_moves_on(
    ctx, db, make_contact, count_queries
):
    ana, bo, chen, dara = (make_contact(name) for name in ("Ana", "Bo", "Chen", "Dara"))
    table = Contact.__table__
    ids = [ana.id, bo.id, chen.id, dara.id]
    versions = {i: v for i, (v,) in _rows(db, table, ids, "version").items()}
    with count_queries() as statements:
        update_rows(
            table,
            [
                (ana.id, {"title": "Director"}),
                (bo.id, {"title": "Officer", "phone": "+44 20 7946 0000"}),
                (chen.id, {"title": "Researcher"}),
            ],
        )
    # Ana and Chen change the same column: they share one statement; Bo has one of his own.
    assert statements["n"] == 2
    after = _rows(db, table, ids, "title", "phone", "version")
    assert after[ana.id][:2] == ("Director", None)
    assert after[bo.id][:2] == ("Officer", "+44 20 7946 0000")
    assert after[chen.id][:2] == ("Researcher", None)
    assert {i: row[2] - versions[i] for i, row in after.items()} == {
        ana.id: 1,
        bo.id: 1,
        chen.id: 1,
        dara.id: 0,
    }


def test_a_table_without_versions_and_nothing_to_write(ctx, db, count_queries):
    tags = [Tag(name="bulk-a"), Tag(name="bulk-b")]
    db.session.add_all(tags)
    db.session.flush()
    table = Tag.__table__
    with count_queries() as statements:
        update_rows(table, [])
    assert statements["n"] == 0
    update_rows(table, [(tags[0].id, {"name": "bulk-renamed"})])
    names = _rows(db, table, [t.id for t in tags], "name")
    assert names == {tags[0].id: ("bulk-renamed",), tags[1].id: ("bulk-b",)}
