"""Every foreign key to a contact or an organization is one a merge moves.

A new table pointing at contact.id or organization.id fails here until the merge operations
handle it (crm/duplicates/operations/merging.py: CONTACT_LINKS / ORGANIZATION_LINKS, and the code
that moves them), so a merge can never silently cascade-delete or strand someone's records.
"""

from __future__ import annotations

from crm.duplicates.operations.merging import CONTACT_LINKS, ORGANIZATION_LINKS


def _references(db, table_name: str) -> set[tuple[str, str]]:
    found = set()
    for table in db.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name:
                found.add((table.name, fk.parent.name))
    return found


def test_every_foreign_key_to_a_contact_is_moved_by_a_merge(db):
    assert _references(db, "contact") == CONTACT_LINKS


def test_every_foreign_key_to_an_organization_is_moved_by_a_merge(db):
    assert _references(db, "organization") == ORGANIZATION_LINKS
