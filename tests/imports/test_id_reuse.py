"""SQLite gives a freed id to the next new record: undoing an import must not remove a record
made by hand after it that got the id of one the import created and someone deleted."""

from __future__ import annotations

import sqlalchemy as sa

from crm.audit.models import AuditAction, AuditEntry
from crm.contacts import operations as contact_ops
from crm.contacts.models import Contact
from crm.imports.models import ImportRun


def undo(app, db, run, actor=None):
    from crm.imports import operations

    with app.test_request_context():
        result = operations.undo(actor, db.session.get(ImportRun, run.id))
        db.session.commit()
    db.session.expire_all()
    return result


def test_undo_leaves_a_contact_made_by_hand_on_a_reused_id(app, db, run_import, make_user):
    lead = make_user("lead")
    run = run_import(
        "contacts",
        "first_name,last_name,email\nAna,Silva,ana@example.org\nBen,Okoro,ben@example.org\n",
        actor=lead,
    )
    ana_id, ben_id = sorted(db.session.scalars(sa.select(Contact.id)))
    # Someone deletes the newest imported contact, then adds a person by hand.
    with app.test_request_context():
        contact_ops.delete_contact(lead, db.session.get(Contact, ben_id))
        db.session.commit()
        hand = contact_ops.create_contact(
            lead, contact_ops.ContactFields(first_name="Carla", last_name="Diaz")
        )
        db.session.commit()
        hand_id = hand.id
    if db.session.get_bind().dialect.name == "sqlite":
        assert hand_id == ben_id  # the id the import created is given again
    result = undo(app, db, run, lead)
    assert result["removed"] == 1
    assert result["by_table"] == {"contact": 1}
    assert db.session.get(Contact, ana_id) is None
    kept = db.session.get(Contact, hand_id)
    assert kept is not None and kept.first_name == "Carla"
    summary = db.session.scalars(
        sa.select(AuditEntry.summary)
        .where(AuditEntry.object_type == "import_run", AuditEntry.object_id == run.id)
        .order_by(AuditEntry.id.desc())
    ).first()
    assert "1 contact removed" in summary
    # The hand-made contact's trail gets no "removed by undoing" entry.
    removed = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "contact",
            AuditEntry.object_id == hand_id,
            AuditEntry.action == AuditAction.DELETE,
            AuditEntry.at > kept.created_at,
        )
    ).all()
    assert removed == []


def test_a_new_contact_on_a_reused_id_does_not_show_the_history_of_the_old_one(
    app, db, run_import, make_user, client, login
):
    lead = make_user("lead")
    first = run_import("contacts", "first_name,last_name\nOld,Person\n", actor=lead)
    old_id = db.session.scalar(sa.select(Contact.id))
    undo(app, db, first, lead)
    second = run_import("contacts", "first_name,last_name\nNew,Person\n", actor=lead)
    new_id = db.session.scalar(sa.select(Contact.id))
    if db.session.get_bind().dialect.name == "sqlite":
        assert new_id == old_id
    login(lead)
    page = client.get(f"/contacts/{new_id}").get_data(as_text=True)
    assert f"import #{second.id}</a>" in page.lower()
    assert f"import #{first.id}</a>" not in page.lower()
    assert "Removed by undoing" not in page
    from crm.audit.operations import trail_for

    with app.test_request_context():
        entries = trail_for("contact", new_id)
    assert [e.summary for e in entries] == [f"Created by import #{second.id} (contacts.csv)"]


def test_a_new_organization_on_a_reused_id_starts_a_fresh_history(app, db, make_user, make_org):
    from crm.audit.operations import trail_for
    from crm.organizations import operations as org_ops
    from crm.organizations.models import Organization

    lead = make_user("lead")
    old = make_org("Old Co")
    old_id = old.id
    with app.test_request_context():
        from crm.audit import operations as audit

        audit.record(lead, AuditAction.UPDATE, "organization", old_id, summary="Renamed")
        org_ops.delete_organization(lead, db.session.get(Organization, old_id))
        db.session.commit()
    new = make_org("New Co")
    with app.test_request_context():
        audit.record(lead, AuditAction.UPDATE, "organization", new.id, summary="Sector set")
        db.session.commit()
        entries = trail_for("organization", new.id)
    if db.session.get_bind().dialect.name == "sqlite":
        assert new.id == old_id
    assert [e.summary for e in entries] == ["Sector set"]


def test_undo_leaves_alone_a_contact_made_by_hand_on_the_id_of_one_it_updated(
    app, db, run_import, make_user, make_contact
):
    lead = make_user("lead")
    ana = make_contact("Ana", "Silva", email="ana@example.org", title="Officer")
    ana_id = ana.id
    run = run_import(
        "contacts",
        "first_name,last_name,email,title\nAna,Silva,ana@example.org,Director\n",
        policy="overwrite",
        actor=lead,
    )
    with app.test_request_context():
        contact_ops.delete_contact(lead, db.session.get(Contact, ana_id))
        db.session.commit()
        hand = contact_ops.create_contact(
            lead, contact_ops.ContactFields(first_name="Carla", last_name="Diaz", title="Director")
        )
        db.session.commit()
        hand_id = hand.id
    if db.session.get_bind().dialect.name == "sqlite":
        assert hand_id == ana_id
    result = undo(app, db, run, lead)
    assert result["restored"] == 1  # the item is counted; nothing is written to Carla
    kept = db.session.get(Contact, hand_id)
    assert (kept.first_name, kept.title) == ("Carla", "Director")
