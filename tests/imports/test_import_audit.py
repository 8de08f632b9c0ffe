"""An import's changes on the records' audit trail: what the form writes for an edit or a
creation (who, old → new), naming the run; none when the import fails; undo recorded too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditAction, AuditEntry
from crm.contacts.models import ConsentStatus, Contact
from crm.imports.models import ImportRun
from crm.organizations.models import Organization, OrganizationKind


def trail(db, object_type, object_id):
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.id)
    ).all()


def all_entries(db, object_type):
    return db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_type == object_type).order_by(AuditEntry.id)
    ).all()


def undo(app, db, run, actor=None):
    from crm.imports import operations

    with app.test_request_context():
        result = operations.undo(actor, db.session.get(ImportRun, run.id))
        db.session.commit()
    db.session.expire_all()
    return result


@pytest.fixture
def ana(make_contact, make_org):
    acme = make_org("Acme")
    return make_contact(
        "Ana",
        "Silva",
        email="ana@example.org",
        phone=None,
        title="Officer",
        organization_id=acme.id,
        consent_status=ConsentStatus.GRANTED,
        consent_source="web form",
    )


def test_an_overwrite_records_old_and_new_values_under_the_run_and_its_user(
    run_import, db, make_user, ana
):
    lead = make_user("lead", name="Lena Lead")
    run = run_import(
        "contacts",
        "first_name,last_name,email,phone,title,tags,consent\n"
        "Ana,Silva,ana@example.org,+1 555,Director,pilot,no\n"
        "Bo,Berg,bo@example.org,,,,\n",
        policy="overwrite",
        file_name="partners.csv",
        actor=lead,
    )
    assert (run.created_count, run.updated_count) == (1, 1)
    [entry] = trail(db, "contact", ana.id)
    assert entry.action is AuditAction.UPDATE
    assert entry.summary == f"Import #{run.id} (partners.csv)"
    assert (entry.actor_id, entry.actor_label) == (lead.id, lead.email)
    changes = entry.changes
    assert changes["phone"] == [None, "+1 555"]
    assert changes["title"] == ["Officer", "Director"]
    assert changes["tags"] == ["", "pilot"]
    # Consent as an edit records it: the status, its source (the old one, not a blank) and time.
    assert changes["consent_status"] == ["granted", "withdrawn"]
    assert changes["consent_source"] == ["web form", "import: partners.csv"]
    assert changes["consent_at"][1] is not None
    assert not {"first_name", "email", "sort_name", "search_text", "version"} & changes.keys()
    # The new contact: a creation, as the form records one.
    bo = db.session.scalar(sa.select(Contact).where(Contact.email == "bo@example.org"))
    [created] = trail(db, "contact", bo.id)
    assert created.action is AuditAction.CREATE
    assert created.summary == f"Created by import #{run.id} (partners.csv)"
    assert (created.actor_id, created.actor_label, created.changes) == (lead.id, lead.email, None)
    # Written by one INSERT … SELECT: the time reads back as the ORM writes it, aware UTC.
    from datetime import timedelta

    from crm.core.db import utcnow

    for written in (entry, created):
        assert abs(utcnow() - written.at) < timedelta(minutes=5)


def test_fill_empty_fields_records_only_the_fields_it_filled(run_import, db, ana):
    run = run_import(
        "contacts",
        "first_name,last_name,email,phone,title\nAna,Silva,ana@example.org,+1 555,Director\n",
        policy="fill",
    )
    assert run.updated_count == 1
    [entry] = trail(db, "contact", ana.id)
    assert entry.changes == {"phone": [None, "+1 555"]}
    assert entry.summary == f"Import #{run.id} (contacts.csv)"


def test_a_row_that_changes_nothing_leaves_no_entry(run_import, db, ana):
    run_import(
        "contacts",
        "first_name,last_name,email,title\nAna,Silva,ana@example.org,Officer\n",
        policy="overwrite",
    )
    assert trail(db, "contact", ana.id) == []


def test_an_organization_overwrite_and_a_side_created_organization_are_recorded(
    run_import, db, make_org
):
    bluebird = make_org("Bluebird", kind=OrganizationKind.OTHER, country="KE", sector=None)
    run = run_import(
        "organizations",
        "name,kind,country,sector,tags\nBluebird,ngo,Bangladesh,Garments,asia\nNew Partner,,,,\n",
        policy="overwrite",
    )
    [entry] = trail(db, "organization", bluebird.id)
    assert entry.summary == f"Import #{run.id} (organizations.csv)"
    assert entry.changes == {
        "kind": ["other", "ngo"],
        "sector": [None, "Garments"],
        "country": ["KE", "BD"],
        "tags": ["", "asia"],
    }
    db.session.expire_all()
    bluebird = db.session.get(Organization, bluebird.id)
    assert (bluebird.kind, bluebird.country, bluebird.version) == (OrganizationKind.NGO, "BD", 2)
    new = db.session.scalar(sa.select(Organization).where(Organization.name == "New Partner"))
    assert [e.summary for e in trail(db, "organization", new.id)] == [
        f"Created by import #{run.id} (organizations.csv)"
    ]
    # An organization a contacts file names and the import creates on the side: the same.
    run = run_import("contacts", "first_name,email,organization\nCy,cy@x.org,Brand New Co\n")
    made = db.session.scalar(sa.select(Organization).where(Organization.name == "Brand New Co"))
    assert [e.summary for e in trail(db, "organization", made.id)] == [
        f"Created by import #{run.id} (contacts.csv)"
    ]


def test_a_failed_import_leaves_no_audit_entries(app, db, make_user, make_contact, monkeypatch):
    """The first chunk updates and creates (and writes their entries); the second fails."""
    from crm.imports import operations, running
    from crm.imports.importers.contacts import ContactImporter

    ana = make_contact("Ana", "Silva", email="a@x.org", title="Officer")
    monkeypatch.setattr(running, "CHUNK_ROWS", 2)
    calls = {"n": 0}
    real_write = ContactImporter.write

    def failing_write(self, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_write(self, rows)

    monkeypatch.setattr(ContactImporter, "write", failing_write)
    actor = make_user("lead")
    data = b"first_name,email,title\nA,a@x.org,Director\nB,b@x.org,\nC,c@x.org,\nD,d@x.org,\n"
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    with app.test_request_context():
        run = operations.start_run(actor, "contacts", "people.csv", data)
        operations.set_mapping(run, run.mapping, "overwrite")
        db.session.commit()
        with pytest.raises(RuntimeError):
            operations.perform(actor, run)
        written = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_type == "contact")
        )
        assert written == 2  # the update and the creation of the first chunk, in the import
        db.session.rollback()
    assert calls["n"] == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before
    assert trail(db, "contact", ana.id) == []
    assert db.session.get(Contact, ana.id).title == "Officer"


def test_undo_records_what_it_put_back_and_what_it_removed(
    app, run_import, db, make_user, make_org, ana
):
    bluebird = make_org("Bluebird", sector=None)
    run = run_import(
        "contacts",
        "first_name,last_name,email,phone,title,tags\n"
        "Ana,Silva,ana@example.org,+1 555,Director,pilot\n"
        "Bo,Berg,bo@example.org,,,\n",
        policy="overwrite",
    )
    bo_id = db.session.scalar(sa.select(Contact.id).where(Contact.email == "bo@example.org"))
    org_run = run_import("organizations", "name,sector\nBluebird,Garments\n", policy="fill")
    # Someone edits the phone after the import: undo keeps it, and the trail says nothing of it.
    contact = db.session.get(Contact, ana.id)
    contact.phone = "+44 20"
    db.session.commit()
    lead = make_user("lead", name="Una Undo")
    result = undo(app, db, run, lead)
    assert (result["removed"], result["restored"], result["kept"]) == (1, 1, 1)
    entries = trail(db, "contact", ana.id)
    assert [e.summary for e in entries] == [
        f"Import #{run.id} (contacts.csv)",
        f"Undid import #{run.id} (contacts.csv)",
    ]
    restored = entries[-1]
    assert restored.action is AuditAction.UPDATE and restored.actor_id == lead.id
    assert restored.changes == {"title": ["Director", "Officer"], "tags": ["pilot", ""]}
    assert [(e.action, e.summary) for e in trail(db, "contact", bo_id)] == [
        (AuditAction.CREATE, f"Created by import #{run.id} (contacts.csv)"),
        (AuditAction.DELETE, f"Removed by undoing import #{run.id} (contacts.csv)"),
    ]
    undo(app, db, org_run, lead)
    assert trail(db, "organization", bluebird.id)[-1].changes == {"sector": ["Garments", None]}
    assert db.session.get(Organization, bluebird.id).sector is None


def test_undo_puts_back_the_consent_source_the_contact_had(app, run_import, db, ana):
    run = run_import(
        "contacts", "first_name,last_name,email,consent\nAna,Silva,ana@example.org,no\n",
        policy="fill",
    )  # fmt: skip
    assert db.session.get(Contact, ana.id).consent_source == "import: contacts.csv"
    undo(app, db, run)
    contact = db.session.get(Contact, ana.id)
    assert (contact.consent_status, contact.consent_source) == (ConsentStatus.GRANTED, "web form")


def test_the_contact_page_shows_the_import_linked_for_leads_only(
    app, run_import, db, client, login, make_user, ana
):
    lead = make_user("lead", name="Lena Lead")
    run = run_import(
        "contacts",
        "first_name,last_name,email,title\nAna,Silva,ana@example.org,Director\n",
        policy="overwrite",
        file_name="partners <2026>.csv",
        actor=lead,
    )
    login(lead)
    page = client.get(f"/contacts/{ana.id}").get_data(as_text=True)
    assert "No changes recorded" not in page
    assert f'<a href="/imports/{run.id}">Import #{run.id}</a> (partners &lt;2026&gt;.csv)' in page
    assert "Lena Lead" in page
    assert '<del class="text-muted">Officer</del> → Director' in page
    login(make_user("volunteer"))  # may read the contact, not open imports: no link
    page = client.get(f"/contacts/{ana.id}").get_data(as_text=True)
    assert f"Import #{run.id} (partners &lt;2026&gt;.csv)" in page
    assert f'href="/imports/{run.id}"' not in page


def test_the_organization_page_shows_the_import(run_import, db, client, login, make_user, make_org):
    org = make_org("Bluebird", sector=None)
    lead = make_user("lead")
    run = run_import("organizations", "name,sector\nBluebird,Garments\n", policy="fill", actor=lead)
    login(lead)
    page = client.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert f'<a href="/imports/{run.id}">Import #{run.id}</a> (organizations.csv)' in page
    assert "Garments" in page


def test_erasing_a_person_empties_the_import_entries_too(app, run_import, db, ana):
    from crm.contacts import operations as contact_ops

    run_import(
        "contacts", "first_name,last_name,email,title\nAna,Silva,ana@example.org,Director\n",
        policy="overwrite",
    )  # fmt: skip
    with app.test_request_context():
        contact_ops.erase_contact(None, db.session.get(Contact, ana.id))
        db.session.commit()
    entries = trail(db, "contact", ana.id)
    assert all(e.changes is None for e in entries)
    assert "Director" not in " ".join(e.summary for e in entries)


def test_undoing_a_name_change_puts_back_the_name_the_list_sorts_and_searches_by(
    app, run_import, db, ana
):
    from crm.contacts.models import search_text_for, sort_name_for

    run = run_import(
        "contacts", "first_name,last_name,email\nAnabel,Souza,ana@example.org\n",
        policy="overwrite",
    )  # fmt: skip
    assert db.session.get(Contact, ana.id).sort_name == sort_name_for("Anabel", "Souza")
    undo(app, db, run)
    contact = db.session.get(Contact, ana.id)
    assert (contact.first_name, contact.last_name) == ("Ana", "Silva")
    assert contact.sort_name == sort_name_for("Ana", "Silva")
    assert contact.search_text == search_text_for("Ana", "Silva", "ana@example.org")
    assert trail(db, "contact", ana.id)[-1].changes == {
        "first_name": ["Anabel", "Ana"],
        "last_name": ["Souza", "Silva"],
    }


def test_the_runs_own_undo_entry_counts_in_plain_words(app, run_import, db, ana):
    run = run_import(
        "contacts",
        "first_name,last_name,email,title\nAna,Silva,ana@example.org,Director\nBo,B,bo@x.org,\n",
        policy="overwrite",
    )
    undo(app, db, run)
    entry = trail(db, "import_run", run.id)[-1]
    assert entry.summary == "Undid the import of contacts.csv: 1 contact removed; 1 record restored"


def test_the_command_line_says_one_organization_in_the_singular(runner, db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("first_name,email,organization\nAna,ana@x.org,Brand New Co\n")
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert "; also created 1 organization." in result.output, result.output
