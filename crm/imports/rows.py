"""A row of an import file as it goes through the import: its cells, what they were read as,
its problems, and what it does (create, update, skip, or fail a check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a row does: create a record, update one, leave it as it is, or fail a check.
CREATE, UPDATE, SKIP, FAIL = "create", "update", "skip", "fail"


@dataclass(slots=True)
class Row:
    line: int  # as numbered in a spreadsheet (the header is line 1)
    cells: list[str]  # one per header
    headers: list[str]
    values: dict[str, str]  # {field key: stripped cell}, mapped columns only
    errors: dict[str, str] = field(default_factory=dict)  # {field key or "row": message}
    action: str = CREATE
    record_id: int | None = None
    note: str = ""  # what matched, or why it was skipped
    cleaned: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)  # for an update: {column: new value}
    # For an update, the audit trail's {field: [old, new]}, as an edit on the form records it.
    audit: dict[str, list] | None = None

    @property
    def raw(self) -> dict[str, str]:
        """{header: cell}, for the error file and the preview (built only for those)."""
        return dict(zip(self.headers, self.cells, strict=True))

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)
        self.action = FAIL

    @property
    def target_id(self) -> int:
        """The id of the record the row updates (known once it matched one) or created (once
        written): for the steps that come after those."""
        assert self.record_id is not None, f"line {self.line} has no record yet"
        return self.record_id

    @property
    def reason(self) -> str:
        return "; ".join(self.errors.values())
