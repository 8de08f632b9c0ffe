"""What imports keep about a person goes with an erasure.

A run keeps the values an update replaced (to undo it) and the rows that failed (its error
file). Erasing a contact drops both for that person: the update can no longer be undone, and
error-file lines that name them are removed.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.personal_data import eraser
from crm.extensions import db
from crm.imports.models import ImportItem, ImportRun


@eraser
def erase_import_history(contact, identifying: list[str]) -> None:
    db.session.execute(
        sa.update(ImportItem)
        .where(ImportItem.table_name == "contact", ImportItem.record_id == contact.id)
        .values(before=None)
    )
    needles = [value.lower() for value in identifying if value]
    if not needles:
        return
    for run in db.session.scalars(sa.select(ImportRun).where(ImportRun.error_file.is_not(None))):
        assert run.error_file is not None, "selected for its error file"
        lines = run.error_file.splitlines(keepends=True)
        kept = [line for line in lines if not any(n in line.lower() for n in needles)]
        if len(kept) != len(lines):
            run.error_file = "".join(kept) if len(kept) > 1 else None
