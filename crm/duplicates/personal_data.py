"""A merged person's name and email, kept to explain a second submit, go with an erasure."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.personal_data import eraser
from crm.duplicates import store
from crm.duplicates.models import DuplicateKind, DuplicateMerge
from crm.extensions import db


@eraser
def erase_merges(contact, identifying: list[str]) -> None:
    db.session.execute(
        sa.update(DuplicateMerge)
        .where(
            DuplicateMerge.kind == DuplicateKind.CONTACT,
            DuplicateMerge.survivor_id == contact.id,
        )
        .values(merged_label="(erased)")
    )
    # An erased person is nobody's duplicate: their pairs go with the erasure.
    store.forget(DuplicateKind.CONTACT, [contact.id])
