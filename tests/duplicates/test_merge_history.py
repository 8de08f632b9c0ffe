"""A merge's entry on the survivor's trail reads like the rest of the trail: names, not ids;
languages and dates as words."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from crm.audit.display import change_rows
from crm.audit.models import AuditAction, AuditEntry
from crm.contacts.models import ConsentStatus
from crm.duplicates.operations import contact_merge


def test_the_merged_records_values_show_names_and_readable_dates(
    db, ctx, make_user, make_org, make_contact
):
    owner = make_user("lead", name="Nadia Owner")
    org = make_org("Golden Thread Garments")
    survivor = make_contact("Farhana", "Rahman", email="farhana@example.org")
    other = make_contact("Farhana", "Rahmann", organization_id=org.id, owner_id=owner.id,
                         languages="es,en", consent_status=ConsentStatus.GRANTED,
                         consent_at=datetime(2026, 9, 2, 10, 25, 52, tzinfo=UTC))  # fmt: skip
    other_id = other.id
    contact_merge.merge_contacts(None, survivor, other)
    db.session.commit()

    entry = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "contact",
            AuditEntry.object_id == survivor.id,
            AuditEntry.action == AuditAction.UPDATE,
        )
    ).all()[-1]
    rows = {label: old for label, old, _new in change_rows(entry)}
    merged = f"(merged #{other_id})"
    assert rows[f"organization {merged}"] == "Golden Thread Garments"
    assert rows[f"owner {merged}"] == "Nadia Owner"
    assert rows[f"languages {merged}"] == "Spanish, English"
    assert rows[f"consent recorded {merged}"] == "02 Sep 2026 10:25 UTC"
    assert rows[f"email consent {merged}"] == "Agreed"
    news = {label: new for label, _old, new in change_rows(entry) if label.endswith(merged)}
    assert set(news.values()) == {"merged in, record deleted"}  # not "Sarah → —"
    shown = " ".join(f"{label} {old}" for label, old, _new in change_rows(entry))
    assert " id " not in f" {shown} " and "T10:25" not in shown and "es,en" not in shown


def test_plain_fields_read_by_their_name(db, ctx, make_user):
    user = make_user("lead", name="Rafael Recorder")
    entry = AuditEntry(action=AuditAction.UPDATE, object_type="contact", object_id=1,
                       changes={"updated_by_id": [None, user.id],
                                "signed_on": ["2026-09-30", None],
                                "reviewed_at": [None, "2026-09-02T10:25:52+00:00"]})  # fmt: skip
    rows = {label: (old, new) for label, old, new in change_rows(entry)}
    assert rows["updated by"] == ("—", "Rafael Recorder")
    assert rows["signed on"] == ("30 Sep 2026", "—")
    assert rows["reviewed at"] == ("—", "02 Sep 2026 10:25 UTC")


def test_a_merge_moves_only_the_merged_records_own_history(db, ctx, make_contact):
    """The merged contact's id once belonged to someone deleted (SQLite reuses ids): that
    person's entries stay behind; the merged contact's own go to the survivor."""
    from crm.audit import operations as audit
    from crm.audit.operations import trail_for

    survivor = make_contact("Farhana", "Rahman", email="farhana@example.org")
    other = make_contact("Farhana", "Rahmann")
    audit.record(None, AuditAction.CREATE, "contact", survivor.id, summary="Created survivor")
    for action, summary in [
        (AuditAction.CREATE, "Created Someone Else"),
        (AuditAction.DELETE, "Deleted Someone Else"),
        (AuditAction.CREATE, "Created Farhana Rahmann"),
    ]:
        audit.record(None, action, "contact", other.id, summary=summary)
    db.session.commit()
    contact_merge.merge_contacts(None, survivor, other)
    db.session.commit()
    summaries = [e.summary for e in trail_for("contact", survivor.id)]
    assert "Created Farhana Rahmann" in summaries
    assert "Created survivor" in summaries
    assert "Created Someone Else" not in summaries
    assert "Deleted Someone Else" not in summaries
