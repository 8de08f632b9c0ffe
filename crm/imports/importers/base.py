"""What every importer shares: the run's context (who runs it, how, and what it changed) and
the importer's two steps, check and write; and the bases of those that write a chunk in bulk
and of those that write a row at a time."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import sqlalchemy as sa

from crm.core.errors import OperationError
from crm.extensions import db
from crm.imports import audit_trail
from crm.imports.column_mapping import Spec
from crm.imports.importers.tag_links import link_tags
from crm.imports.models import ExistingPolicy, ItemAction
from crm.imports.rows import CREATE, FAIL, UPDATE, Row

# Clocks of two machines may differ a little: a recheck looks this much further back.
CLOCK_MARGIN = timedelta(minutes=5)


@dataclass
class Context:
    """What one run knows while it goes: who runs it, how, and what it changed."""

    actor: Any
    policy: ExistingPolicy
    file_name: str
    fuzzy_threshold: int = 90
    # When the check of the file began (`running.plan`): what others change after it is what
    # `Importer.recheck` looks for, among the records changed since (not the whole table).
    checked_at: datetime | None = None
    run_id: int | None = None  # named on the audit trail of every record the run writes
    # Ids of created records as compact arrays (a million-row file makes a million of them),
    # updated records with the values they had.
    created_ids: dict[str, array] = field(default_factory=dict)
    updates: list[tuple[str, int, dict]] = field(default_factory=list)
    extra_created: dict[str, int] = field(default_factory=dict)
    review: list[dict] = field(default_factory=list)

    @property
    def changed_since(self) -> datetime | None:
        """Records changed at or after this time may have changed since the check."""
        return self.checked_at - CLOCK_MARGIN if self.checked_at else None

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "id", None)

    def created(self, table: str, ids: list[int]) -> None:
        self.created_ids.setdefault(table, array("q")).extend(ids)

    def updated(self, table: str, record_id: int, before: dict) -> None:
        self.updates.append((table, record_id, before))

    def audit_created(self, table: str, ids: list[int]) -> None:
        """The records' trails: created by this run (one bulk insert)."""
        audit_trail.created(self.actor, table, ids, self.run_id, self.file_name)

    def audit_updated(self, table: str, rows: list[Row]) -> None:
        """The trails of the records these rows updated: what changed, old → new (one bulk
        insert). Called once the rows' tags are linked, so an entry has those too."""
        changes = [(r.target_id, r.audit) for r in rows if r.action == UPDATE and r.audit]
        audit_trail.changed(
            self.actor, table, changes, audit_trail.UPDATED, self.run_id, self.file_name
        )

    def take_items(self, run_id: int) -> Iterator[dict]:
        """The undo items of what was created and updated since the last call, which are
        forgotten here: a file written in parts writes each part's items with it."""
        created_ids, updates = self.created_ids, self.updates
        self.created_ids, self.updates = {}, []
        created = ItemAction.CREATED.value
        for table, ids in created_ids.items():
            for first, last in _id_ranges(ids):
                yield {"run_id": run_id, "table_name": table, "record_id": first,
                       "record_id_last": last, "action": created, "before": None}  # fmt: skip
        for table, record_id, before in updates:
            yield {"run_id": run_id, "table_name": table, "record_id": record_id,
                   "record_id_last": None, "action": ItemAction.UPDATED.value,
                   "before": before}  # fmt: skip


def _id_ranges(ids: array) -> Iterator[tuple[int, int]]:
    """Consecutive runs in `ids` as (first, last)."""
    if not ids:
        return
    first = last = ids[0]
    for record_id in islice(ids, 1, None):
        if record_id != last + 1:
            yield first, last
            first = record_id
        last = record_id
    yield first, last


class Importer:
    """One record type: `check` validates and matches a chunk of rows (no writes), `write`
    creates and updates what passed. Both are called chunk after chunk, in file order, so an
    importer can remember what earlier rows held (duplicates inside the file)."""

    spec: Spec
    table_name: str

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def recheck(self, rows: list[Row]) -> None:
        """Just before `write`, in the transaction that writes: what others may have changed
        since `check` (the rows that passed it, the whole file at once), checked again."""

    def write(self, rows: list[Row]) -> None:
        raise NotImplementedError


class BulkImporter(Importer):
    """An importer that writes a chunk straight into its table (contacts, organizations:
    hundreds of thousands of rows): new records inserted, matched ones updated, the rows' tags
    linked, then the updated records' trails (with their tags)."""

    tag_links: sa.Table  # the table linking a tag to a record of `table_name`
    tag_owner: str  # its column naming the record

    def write(self, rows: list[Row]) -> None:
        new = [r for r in rows if r.action == CREATE]
        if new:
            self._insert(new)
        updates = [r for r in rows if r.action == UPDATE]
        if updates:
            self._update(updates)
        tagged = [r for r in rows if r.cleaned["tags"] and r.record_id]
        if tagged:
            link_tags(self.ctx, tagged, self.tag_links, self.tag_owner, self.table_name)
        if updates:
            self.ctx.audit_updated(self.table_name, updates)

    def _insert(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def _update(self, rows: list[Row]) -> None:
        raise NotImplementedError


class RowByRowImporter(Importer):
    """An importer whose rows go one at a time through their domain's own operation (event
    participants, endorsements, pledges: hundreds of rows, not hundreds of thousands). Checks
    are light; the operation, in a savepoint per row so a refused row leaves nothing behind,
    has the last word."""

    def check(self, rows: list[Row]) -> None:
        for row in rows:
            if row.action != FAIL:
                self.check_row(row)

    def recheck(self, rows: list[Row]) -> None:
        """The rows checked again from the start: they are few, and their checks look up
        records (an event, a participation) others may have changed since."""
        self.__init__(self.ctx)  # type: ignore[misc]  # the importer's memory of the file, afresh
        for row in rows:
            row.action, row.note, row.record_id, row.cleaned = CREATE, "", None, {}
        self.check(rows)

    def write(self, rows: list[Row]) -> None:
        for row in rows:
            try:
                with db.session.begin_nested():
                    self.write_row(row)
            except OperationError as error:
                row.fail("row", error.message.rstrip("."))

    def check_row(self, row: Row) -> None:
        raise NotImplementedError

    def write_row(self, row: Row) -> None:
        raise NotImplementedError
