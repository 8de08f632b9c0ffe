"""The import size limit (any import, the
command line included), matching an existing contact by the normalized email, name matching
only within the same organization, repeats inside one file by every rule, and undo.
A repeat inside one file is caught by the same rules as a match against the database, so the
same rows give the same records whether they come in one file or two; and a task about a
created record keeps the undo from removing it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.imports.models import ImportRun
from crm.organizations.models import Organization


def count(db, model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def uploads(app):
    from pathlib import Path

    folder = Path(app.config["INSTANCE_DIR"]) / "imports"
    return sorted(folder.glob("*.upload")) if folder.exists() else []


def test_a_file_over_the_import_size_limit_is_refused_before_anything_is_kept(
    app, db, make_user, runner, tmp_path
):
    from crm.imports import operations

    before = uploads(app)
    data = b"first_name,email\n" + b"Ana,ana@example.org\n" * 10
    app.config["IMPORT_MAX_BYTES"] = len(data) - 1
    try:
        with app.test_request_context(), pytest.raises(OperationError, match="the most one import"):
            operations.start_run(make_user("lead"), "contacts", "big.csv", data)
        db.session.rollback()
        path = tmp_path / "big.csv"
        path.write_bytes(data)
        result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
        assert result.exit_code != 0 and "Split it into smaller files" in result.output
    finally:
        app.config["IMPORT_MAX_BYTES"] = 200 * 1024 * 1024
    assert count(db, ImportRun) == 0 and count(db, Contact) == 0
    assert uploads(app) == before  # no copy of the refused file left behind


def test_an_existing_contact_is_matched_by_the_normalized_email(run_import, db, make_contact):
    ana = make_contact("Ana", "Silva", email="ana@example.org", phone=None)
    run = run_import(
        "contacts", "first_name,last_name,email,phone\nAna,Silva,  ANA@Example.ORG ,+1 555\n",
        policy="fill",
    )  # fmt: skip
    assert (run.created_count, run.updated_count, run.failed_count) == (0, 1, 0)
    db.session.expire_all()
    assert count(db, Contact) == 1 and db.session.get(Contact, ana.id).phone == "+1 555"


def test_a_name_matches_only_within_the_same_organization(run_import, db, make_contact, make_org):
    acme, other = make_org("Acme"), make_org("Other Co")
    existing = make_contact("José", "Álvarez", organization_id=acme.id, email=None)
    run = run_import(
        "contacts",
        "name,organization\nJose Alvarez,Other Co\nJose Alvarez,\n",
        policy="overwrite",
    )
    assert (run.created_count, run.updated_count) == (2, 0)
    people = db.session.scalars(sa.select(Contact).where(Contact.last_name == "Alvarez")).all()
    assert sorted(p.organization_id or 0 for p in people) == [0, other.id]
    assert db.session.get(Contact, existing.id).organization_id == acme.id


def test_repeats_inside_one_file_are_caught_by_email_and_by_name_in_an_organization(
    run_import, db, make_org
):
    make_org("Acme")
    run = run_import(
        "contacts",
        "first_name,last_name,organization,email\n"
        "Ana,Silva,Acme,ana@example.org\n"
        "Ana,Silva,ACME,\n"  # the same person and organization, no email
        "Bo,Ba,,bo@example.org\n"
        "Bo,Ba,, BO@example.org\n",  # the same email, other case and spacing
    )
    assert (run.created_count, run.failed_count) == (2, 2)
    errors = run.error_file
    assert "the same person and organization as line 2" in errors
    assert "the same email as line 4" in errors


def test_a_repeat_by_name_and_organization_is_caught_when_the_later_row_has_an_email(
    run_import, db, make_org
):
    make_org("Acme")
    run = run_import(
        "contacts", "first_name,last_name,organization,email\nAna,Silva,Acme,\nAna,Silva,ACME,ana@x.org\n"
    )  # fmt: skip
    # Imported in two files, the second row updates the first person (name + organization);
    # in one file it must not make a second Ana Silva at Acme.
    assert count(db, Contact, Contact.last_name == "Silva") == 1, run.error_file


def test_a_repeat_by_website_domain_inside_the_file_is_caught(run_import, db):
    run_import(
        "organizations",
        "name,website\nBluebird,https://bluebird.example\nBluebird Group Ltd,www.bluebird.example/about\n",
    )  # fmt: skip
    assert count(db, Organization) == 1


def test_a_similar_name_inside_the_file_is_listed_for_review(run_import, db):
    run = run_import("organizations", "name\nWorker Voice Foundation\nWorker Voice Foundations\n")
    assert count(db, Organization) == 2
    assert [r["name"] for r in run.review] == ["Worker Voice Foundations"]
    first = db.session.scalar(
        sa.select(Organization.id).where(Organization.name == "Worker Voice Foundation")
    )
    # The pair to review: the new organization and the one it looks like, both in this file.
    assert run.review[0]["record_id"] == first and run.review[0]["created_id"] != first


def test_undoing_an_import_leaves_no_task_pointing_at_a_removed_record(app, run_import, db):
    from crm.imports import operations
    from crm.workgroups import operations as task_ops
    from crm.workgroups.models import Task

    run = run_import("organizations", "name\nNew Partner Org\n")
    org_id = db.session.scalar(
        sa.select(Organization.id).where(Organization.name == "New Partner Org")
    )
    task = task_ops.create_task(
        None, task_ops.TaskFields(title="Call them", record_type="organization", record_id=org_id)
    )
    db.session.commit()
    with app.test_request_context():
        try:
            operations.undo(None, db.session.get(ImportRun, run.id))
            db.session.commit()
        except OperationError:
            db.session.rollback()  # refused because the organization is in use: fine too
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    still_there = db.session.get(Organization, org_id) is not None
    assert still_there or (task.record_type, task.record_id) == (None, None)
