"""What an import writes on the audit trail of the contacts and organizations it touches.

The entries are the ones the forms write (`crm.audit`): a creation, or the changed fields with
old → new values, under the user who ran the import. Their summary names the run, so the
record's history says where a change came from and can link to the run's page
(`crm.audit.display`). They are written in bulk, a chunk at a time, in the import's own
transaction: an import that fails or is rolled back leaves none behind.
"""

from __future__ import annotations

import re
from typing import Any

from crm.audit import operations as audit
from crm.audit.models import AuditAction

# The run as the trail names it; `RUN_IN_SUMMARY` finds it again to link it.
CREATED = "Created by import #{run} ({file})"
UPDATED = "Import #{run} ({file})"
RESTORED = "Undid import #{run} ({file})"
REMOVED = "Removed by undoing import #{run} ({file})"
RUN_IN_SUMMARY = re.compile(
    r"^(?P<before>Created by |Undid |Removed by undoing )?(?P<run>[Ii]mport #(?P<id>\d+))"
    r"(?P<after> \(.*\))$",
    re.DOTALL,
)
# Record types whose pages show their trail and whose own create and delete are audited.
AUDITED = ("contact", "organization")


def summary(template: str, run_id: int | None, file_name: str) -> str:
    """The summary for one of the templates above; a long file name is shortened to fit."""
    return template.format(run=run_id, file=file_name[:200])


def created(
    actor: Any, object_type: str, ids: list[int], run_id: int | None, file_name: str
) -> None:
    """A "created" entry per new record, as creating it on its form writes one."""
    if ids and object_type in AUDITED:
        audit.record_each(
            actor, AuditAction.CREATE, object_type, ids, summary=summary(CREATED, run_id, file_name)
        )


def changed(
    actor: Any,
    object_type: str,
    changes: list[tuple[int, dict]],
    template: str,
    run_id: int | None,
    file_name: str,
) -> None:
    """A "changed" entry per record, with {field: [old, new]} as an edit writes it (the
    values as `crm.audit.operations.display_value` gives them)."""
    if changes and object_type in AUDITED:
        audit.record_many(
            actor,
            AuditAction.UPDATE,
            object_type,
            changes,
            summary=summary(template, run_id, file_name),
        )


def removed(
    actor: Any, object_type: str, ids: list[int], run_id: int | None, file_name: str
) -> None:
    """A "deleted" entry per record that undoing the run removed, as deleting one writes."""
    if ids and object_type in AUDITED:
        audit.record_each(
            actor, AuditAction.DELETE, object_type, ids, summary=summary(REMOVED, run_id, file_name)
        )
