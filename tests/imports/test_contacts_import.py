from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import ConsentStatus, Contact
from crm.imports.models import ImportItem, RunStatus
from crm.organizations.models import Organization


def contacts(db):
    return {c.email: c for c in db.session.scalars(sa.select(Contact))}


def test_contacts_are_created_with_their_organization_tags_and_consent(run_import, db, make_org):
    make_org("Golden Thread Garments")
    run = run_import(
        "contacts",
        "First name,Last name,E-mail,Company,Country,Tags,Consent\n"
        "Farhana,Rahman,Farhana.Rahman@Example.org,golden thread garments,Bangladesh,pilot;dhaka,yes\n"
        "Kwame,Asante,kwame@example.org,New Org Ltd,GH,,\n"
        "Zoë  Ðorđe,Yılmaz Núñez,zoe@example.org,,TR,,\n"
        "Łukasz,,lukasz@example.org,,PL,,\n",
    )
    assert run.status is RunStatus.DONE
    assert (run.created_count, run.failed_count) == (4, 0)
    assert run.extra_created == {"organizations": 1}
    people = contacts(db)
    farhana = people["farhana.rahman@example.org"]
    assert farhana.organization.name == "Golden Thread Garments"
    assert farhana.country == "BD"
    assert [t.name for t in farhana.tags] == ["dhaka", "pilot"]
    assert farhana.consent_status is ConsentStatus.GRANTED
    assert farhana.consent_source == "import: contacts.csv"
    assert farhana.sort_name == "rahman farhana"
    from crm.contacts.models import search_text_for, sort_name_for

    for person in contacts(db).values():  # folded in bulk exactly as one at a time
        assert person.sort_name == sort_name_for(person.first_name, person.last_name)
        assert person.search_text == search_text_for(
            person.first_name, person.last_name, person.email
        )
    # Written in bulk, read back as the ORM writes them: aware UTC times, the version at 1.
    from datetime import timedelta

    from crm.core.db import utcnow

    assert abs(utcnow() - farhana.created_at) < timedelta(minutes=5)
    assert farhana.consent_at is not None and farhana.consent_at.tzinfo is not None
    assert farhana.version == 1 and farhana.created_by_id == run.created_by_id
    kwame = people["kwame@example.org"]
    assert kwame.organization.name == "New Org Ltd"
    assert kwame.consent_status is ConsentStatus.UNKNOWN


def test_bad_rows_go_to_the_error_file_and_the_rest_is_imported(run_import, db):
    run = run_import(
        "contacts",
        "first_name,email,country\n"
        "Ana,ana@example.org,Narnia\n"
        ",nobody@example.org,KE\n"
        "Bo,not-an-email,KE\n"
        "Cy,cy@example.org,KE\n"
        "Cy again,CY@example.org,KE\n",
    )
    assert (run.created_count, run.failed_count) == (1, 4)
    assert set(contacts(db)) == {"cy@example.org"}
    lines = run.error_file.splitlines()
    assert lines[0] == "reason,line,first_name,email,country"
    assert "Narnia" in lines[1] and "not a country" in lines[1]
    assert "name is empty" in lines[2]
    assert "line 5" in lines[4] and "same email" in lines[4]


def test_existing_contacts_skip_fill_or_overwrite(run_import, db, make_contact):
    make_contact("Ana", "Silva", email="ana@example.org", phone=None, title="Officer")
    data = "first_name,last_name,email,phone,title\nAna,Silva,ana@example.org,+1 555,Director\n"
    run = run_import("contacts", data, policy="skip")
    assert (run.skipped_count, run.updated_count) == (1, 0)
    run = run_import("contacts", data, policy="fill")
    assert run.updated_count == 1
    ana = contacts(db)["ana@example.org"]
    assert (ana.phone, ana.title) == ("+1 555", "Officer")  # only the empty field was filled
    run = run_import("contacts", data, policy="overwrite")
    db.session.expire_all()
    assert contacts(db)["ana@example.org"].title == "Director"


def test_matching_by_name_within_organization(run_import, db, make_contact, make_org):
    org = make_org("Acme")
    existing = make_contact("José", "Álvarez", organization_id=org.id, email=None)
    run = run_import(
        "contacts", "name,organization,email\nJose Alvarez,ACME,jose@acme.org\n", policy="fill"
    )
    assert run.updated_count == 1 and run.created_count == 0
    db.session.expire_all()
    assert db.session.get(Contact, existing.id).email == "jose@acme.org"


def test_withdrawn_consent_is_never_granted_again_by_an_import(run_import, db, make_contact):
    make_contact("Ana", email="ana@example.org", consent_status=ConsentStatus.WITHDRAWN)
    run_import(
        "contacts", "first_name,email,consent\nAna,ana@example.org,yes\n", policy="overwrite"
    )
    assert contacts(db)["ana@example.org"].consent_status is ConsentStatus.WITHDRAWN


def test_undo_removes_what_was_created_and_restores_what_was_updated(
    app, run_import, db, make_contact
):
    from crm.imports import operations

    make_contact("Ana", email="ana@example.org", title="Officer")
    before_orgs = db.session.scalar(sa.select(sa.func.count()).select_from(Organization))
    run = run_import(
        "contacts",
        "first_name,email,title,organization,tags\n"
        "Ana,ana@example.org,Director,,vip\nNew,new@example.org,,Brand New Org,\n",
        policy="overwrite",
    )
    assert contacts(db)["ana@example.org"].title == "Director"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportItem)) == 3
    with app.test_request_context():
        operations.undo(None, db.session.get(type(run), run.id))
        db.session.commit()
    db.session.expire_all()
    people = contacts(db)
    assert set(people) == {"ana@example.org"}
    assert people["ana@example.org"].title == "Officer"
    assert people["ana@example.org"].tags == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == before_orgs
    assert db.session.get(type(run), run.id).status is RunStatus.UNDONE


def test_imported_contacts_are_found_by_search_at_once(run_import, client, as_role):
    run_import("contacts", "first_name,last_name,email\nFarhana,Rahman,farhana@example.org\n")
    as_role("volunteer")
    page = client.get("/contacts/?q=ahma").get_data(as_text=True)
    assert "Farhana Rahman" in page
    # The search trigger is back for contacts added one by one.
    page = client.get("/contacts/?q=zzzz").get_data(as_text=True)
    assert "Farhana Rahman" not in page


def test_the_fast_address_check_agrees_with_the_forms_rule():
    import pytest

    from crm.auth.operations import normalize_email
    from crm.core.errors import OperationError
    from crm.imports.cell_values import email

    cases = ["Ana@Example.org", "a.b+tag@x.org", "a..b@x.org", ".a@x.org", "a.@x.org", "a@x",
             "a@-x.org", "a@x.test", "ß@x.org", "a@bücher.de", "a b@x.org", '"q"@x.org',
             "a@x.org.", "a@123.456", "a@localhost", " A@EXAMPLE.ORG ", "a@@x.org", "@x.org",
             "a@x-.org", "a@ab--cd.org", "a@xn--bcher-kva.de", "a@X.Local", "a@s.x.onion",
             "a@a.b1", "a@a.1b", "a@a.b-c", "a@a.-bc", "a@1.2.3.com", "a@exa_mple.com",
             "a@x.invalid", "a@x.ARPA", "a@Sub.Example.COM", f"a@{'a' * 63}.org",
             f"a@{'a' * 64}.org", f"a@{'abc.' * 62}org", f"a@{'abc.' * 63}org", "a@x..org",
             "a@.x.org", "a@x.o", "a@Ünïcode.org"]  # fmt: skip
    for case in cases:
        try:
            expected = normalize_email(case)
        except OperationError:
            with pytest.raises(OperationError):
                email(case)
        else:
            assert email(case) == expected, case


def test_the_search_index_stays_consistent_through_import_and_undo(app, run_import, db):
    from crm.imports import operations

    run = run_import("contacts", "first_name,last_name,email\nZeynep,Kaya,zeynep@example.org\n")
    with app.test_request_context():
        operations.undo(None, db.session.get(type(run), run.id))
        db.session.commit()
    if db.session.get_bind().dialect.name == "sqlite":
        # FTS5 compares its index with the contact table and raises when they differ.
        db.session.execute(
            sa.text("INSERT INTO contact_fts(contact_fts) VALUES ('integrity-check')")
        )
        hits = db.session.scalar(
            sa.text("SELECT count(*) FROM contact_fts WHERE contact_fts MATCH 'kaya'")
        )
        assert hits == 0
    run_import("contacts", "first_name,last_name,email\nZeynep,Kaya,zeynep@example.org\n")
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Contact)
            .where(Contact.search_text.like("%kaya%"))
        )
        == 1
    )


def test_undo_of_an_update_that_only_added_tags(app, run_import, db, make_contact):
    from crm.imports import operations

    make_contact("Ana", email="ana@example.org")
    run = run_import("contacts", "first_name,email,tags\nAna,ana@example.org,vip\n", policy="fill")
    assert run.updated_count == 1
    assert [t.name for t in contacts(db)["ana@example.org"].tags] == ["vip"]
    with app.test_request_context():
        operations.undo(None, db.session.get(type(run), run.id))
        db.session.commit()
    db.session.expire_all()
    assert contacts(db)["ana@example.org"].tags == []


def test_tags_a_contact_already_has_are_not_linked_twice(run_import, db, make_contact):
    run_import("contacts", "first_name,email,tags\nAna,ana@example.org,vip\n")
    run = run_import(
        "contacts", "first_name,email,tags\nAna,ana@example.org,vip;press\n", policy="fill"
    )
    assert run.updated_count == 1
    assert [t.name for t in contacts(db)["ana@example.org"].tags] == ["press", "vip"]
    again = run_import(
        "contacts", "first_name,email,tags\nAna,ana@example.org,press\n", policy="fill"
    )
    assert (again.updated_count, again.skipped_count) == (0, 1)


def test_every_column_lands_in_its_own_field(run_import, db, make_user):
    owner = make_user("lead", email="owner@example.org")
    run = run_import(
        "contacts",
        "first_name,last_name,email,phone,title,country,languages,owner,notes,consent,"
        "consent_source\n"
        "Mei,Chen,mei@example.org,+86 10 5555,Buyer,China,zh; en,owner@example.org,"
        "Met at the Dhaka forum,yes,Signed up at the forum\n",
    )
    assert (run.created_count, run.failed_count) == (1, 0), run.error_file
    mei = contacts(db)["mei@example.org"]
    assert (mei.first_name, mei.last_name, mei.phone, mei.title, mei.country) == (
        "Mei", "Chen", "+86 10 5555", "Buyer", "CN",
    )  # fmt: skip
    assert mei.languages and {"zh", "en"} <= set(mei.languages.replace(" ", "").split(","))
    assert mei.owner_id == owner.id and mei.notes == "Met at the Dhaka forum"
    assert mei.consent_status is ConsentStatus.GRANTED
    assert mei.consent_source == "Signed up at the forum"


def test_a_fixed_error_file_uploaded_again_gives_back_the_values_the_export_defused(run_import, db):
    # The error file writes "'+44 20 7946" so a spreadsheet does not read a formula; the row,
    # fixed and uploaded again, must store the number as it was typed.
    run = run_import(
        "contacts",
        "first_name,email,phone,notes\nAna,not-an-email,+44 20 7946,'quoted' on purpose\n",
    )
    assert run.failed_count == 1
    assert "'+44 20 7946" in run.error_file
    fixed = run.error_file.replace("not-an-email", "ana@example.org")
    again = run_import("contacts", fixed)
    assert again.created_count == 1
    ana = contacts(db)["ana@example.org"]
    assert ana.phone == "+44 20 7946"
    assert ana.notes == "'quoted' on purpose"
