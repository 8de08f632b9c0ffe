"""Names are stored with single spaces, however many the spreadsheet had."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.organizations.models import Organization


def names(db):
    return sorted(db.session.execute(sa.select(Contact.first_name, Contact.last_name)).all())


def test_a_full_name_with_extra_spaces(run_import, db):
    run = run_import("contacts", 'full_name,email\n"  Ana   María López ",ana@example.org\n')
    assert run.created_count == 1
    assert names(db) == [("Ana María", "López")]
    contact = db.session.scalar(sa.select(Contact))
    assert contact.full_name == "Ana María López"


def test_first_and_last_names_and_organization_with_extra_spaces(run_import, db):
    run_import(
        "contacts",
        'first_name,last_name,organization\n"Ana \t María","de   la Cruz","Acme    Ltd"\n',
    )
    assert names(db) == [("Ana María", "de la Cruz")]
    assert db.session.scalars(sa.select(Organization.name)).all() == ["Acme Ltd"]


def test_an_organization_name_with_extra_spaces(run_import, db):
    run_import("organizations", 'name\n"Bluebird    Garments  Co"\n')
    assert db.session.scalars(sa.select(Organization.name)).all() == ["Bluebird Garments Co"]


def test_a_participant_name_with_extra_spaces(app, run_import, db):
    from tests.imports.test_preview_and_file_shapes import make_event

    make_event(app, db)
    run = run_import(
        "participants", 'event,full_name,email\nDhaka forum,"Ana   María  López",ana@example.org\n'
    )
    assert run.created_count == 1, run.error_file
    assert names(db) == [("Ana María", "López")]
