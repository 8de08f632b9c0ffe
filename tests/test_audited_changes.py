"""The audit trail's helpers for an operation's create, update and delete
(crm.audit.operations: add_recorded, updating, delete_recorded)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.audit import operations as audit
from crm.audit.models import AuditAction, AuditEntry
from crm.core.errors import ConflictError, OperationError
from crm.organizations.models import Organization, OrganizationKind


def entries(db, org_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == "organization", AuditEntry.object_id == org_id)
            .order_by(AuditEntry.id)
        )
    )


def test_an_update_records_what_changed_and_who_changed_it(db, make_user, make_org):
    lead = make_user("lead")
    org = make_org("Golden Thread")
    with audit.updating(lead, org, "organization", leave_out=("name_key",)) as extra:
        org.name = "Golden Thread Garments"
        org.name_key = "golden thread garments"
        extra["tags"] = ["", "pilot"]
    [entry] = entries(db, org.id)
    assert entry.action is AuditAction.UPDATE and entry.actor_id == lead.id
    assert entry.changes == {
        "name": ["Golden Thread", "Golden Thread Garments"],
        "tags": ["", "pilot"],
    }
    assert list(entry.changes) == ["name", "tags"]  # the columns first, then what the block adds
    assert org.updated_by_id == lead.id


def test_an_update_that_changes_nothing_records_nothing(db, make_user, make_org):
    lead = make_user("lead")
    org = make_org("Golden Thread")
    with audit.updating(lead, org, "organization"):
        org.name = "Golden Thread"
    assert entries(db, org.id) == []
    assert org.updated_by_id is None


def test_a_stale_form_or_a_refusal_in_the_block_records_nothing(db, make_user, make_org):
    lead = make_user("lead")
    org = make_org("Golden Thread")
    stale = org.version - 1
    with (
        pytest.raises(ConflictError),
        audit.updating(lead, org, "organization", expected_version=stale),
    ):
        org.name = "Changed"
    with pytest.raises(OperationError), audit.updating(lead, org, "organization"):
        org.name = "Changed"
        raise OperationError("refused")
    assert entries(db, org.id) == []


def test_a_new_record_and_a_deleted_one_are_on_the_trail(db, make_user):
    lead = make_user("lead")
    org = Organization(name="Loom Co", name_key="loom co", kind=OrganizationKind.SUPPLIER)
    audit.add_recorded(lead, org, "organization", summary="Created Loom Co")
    assert org.id is not None and org.created_by_id == lead.id
    audit.delete_recorded(lead, org, "organization", summary="Deleted Loom Co")
    assert db.session.get(Organization, org.id) is None
    created, deleted = entries(db, org.id)
    assert (created.action, created.summary) == (AuditAction.CREATE, "Created Loom Co")
    assert (deleted.action, deleted.summary) == (AuditAction.DELETE, "Deleted Loom Co")
