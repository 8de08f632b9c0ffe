from __future__ import annotations

import sqlalchemy as sa

from crm.champions.models import Endorsement, Verification
from crm.contacts.models import Contact
from crm.events.models import Participation, ParticipationStatus
from crm.imports.models import ImportRun, RunStatus
from crm.organizations.models import Organization, OrganizationKind
from crm.pledges.models import Pledge, PledgeStatus


def count(db, model, *where):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_organizations_match_on_folded_name_then_website_and_list_similar_names(
    run_import, db, make_org
):
    make_org("Société Générale Textiles", kind=OrganizationKind.SUPPLIER)
    make_org("Bluebird Apparel", website="https://www.bluebird.example/about")
    make_org("Worker Voice Foundation")
    run = run_import(
        "organizations",
        "Organisation,Type,Website,Country\n"
        "societe generale  TEXTILES,supplier,,FR\n"  # same name, other case/accents/spacing
        "Bluebird Apparel Group Ltd,brand,bluebird.example,GB\n"  # same website domain
        "Worker Voice Foundations,NGO,,\n"  # similar name: created, listed for review
        "Brand New Co,retailer,,\n"
        "BRAND NEW CO,brand,,\n"  # the same organization twice in the file
        "Nameless kind,spaceship,,\n",
        policy="fill",
    )
    assert (run.created_count, run.updated_count, run.failed_count) == (2, 2, 2)
    generale = db.session.scalar(sa.select(Organization).where(Organization.name.like("Soci%")))
    assert generale.country == "FR"  # filled in
    assert count(db, Organization, Organization.name_key == "bluebird apparel group ltd") == 0
    new_voice = db.session.scalar(
        sa.select(Organization).where(Organization.name == "Worker Voice Foundations")
    )
    assert run.review == [
        {"line": 4, "created_id": new_voice.id, "name": "Worker Voice Foundations",
         "record_id": run.review[0]["record_id"], "known_name": "Worker Voice Foundation", "score": run.review[0]["score"]}
    ]  # fmt: skip
    assert run.review[0]["score"] >= 90
    assert (
        db.session.scalar(sa.select(Organization.kind).where(Organization.name == "Brand New Co"))
        is OrganizationKind.BRAND
    )
    errors = run.error_file
    assert "the same organization as line 5" in errors and "“spaceship” is not one of" in errors


def test_all_samples_import_cleanly_into_the_demo_data_from_the_command_line(runner, db):
    assert runner.invoke(args=["crm", "bootstrap"]).exit_code == 0
    for record_type in ("organizations", "contacts", "participants", "endorsements", "pledges"):
        result = runner.invoke(
            args=["crm", "import", f"{record_type}-sample.csv", "--type", record_type]
        )
        assert result.exit_code == 0, result.output
        assert " 0 failed" in result.output, result.output
    farhana = db.session.scalar(
        sa.select(Contact).where(Contact.email == "farhana.rahman@goldenthread.example")
    )
    assert farhana.organization.name == "Golden Thread Garments"
    statuses = {
        p.contact.email: p.status
        for p in db.session.scalars(
            sa.select(Participation).where(Participation.source == "import")
        )
    }
    assert statuses["oliver.taylor@bluebird.example"] is ParticipationStatus.REGISTERED
    invited = db.session.scalar(
        sa.select(Contact).where(Contact.email == "amina.okafor@example.org")
    )
    assert invited is not None  # a new person on the list is added to the CRM
    imported = db.session.scalars(
        sa.select(Endorsement).where(Endorsement.link == "https://example.org/talks/dhaka")
    ).one()
    assert imported.status is Verification.VERIFIED and {p.code for p in imported.principles} == {
        "P1",
        "P3",
    }
    pledge = db.session.scalar(
        sa.select(Pledge).join(Organization).where(Organization.name == "Golden Thread Garments")
    )
    assert (
        pledge.status is PledgeStatus.SIGNED and pledge.listed and pledge.signatory_id == farhana.id
    )
    assert (
        db.session.scalar(
            sa.select(Pledge).join(Organization).where(Organization.name == "Ulula Voice")
        ).status
        is PledgeStatus.DRAFT
    )
    # Running a file again changes nothing: everything in it is already there.
    again = runner.invoke(args=["crm", "import", "pledges-sample.csv", "--type", "pledges"])
    assert "0 created, 0 updated, 3 skipped, 0 failed" in again.output


def test_dry_run_changes_nothing(runner, db):
    result = runner.invoke(
        args=["crm", "import", "organizations-sample.csv", "--type", "organizations", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Dry run, nothing changed. Of 4 rows, the import would create 4, update 0," in result.output
    )
    assert count(db, Organization) == 0 and count(db, ImportRun) == 0


def test_the_command_line_refuses_a_missing_column_with_the_reason(runner, db, tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("phone\n123\n")
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert result.exit_code != 0 and "no column for: First name or Full name" in result.output
    assert count(db, ImportRun) == 0


def test_undo_is_refused_when_created_records_were_used_since(app, run_import, db, make_user):
    from crm.engagements import operations as engagement_ops
    from crm.imports import operations

    run = run_import("contacts", "first_name,email\nAna,ana@example.org\nBo,bo@example.org\n")
    ana = db.session.scalar(sa.select(Contact).where(Contact.email == "ana@example.org"))
    with app.test_request_context():
        engagement_ops.log_engagement(
            None,
            engagement_ops.EngagementFields(kind="call", occurred_on=__import__("datetime").date.today(),
                                            summary="Intro call", contact_ids=[ana.id]),
        )  # fmt: skip
        db.session.commit()
    with app.test_request_context():
        try:
            operations.undo(None, db.session.get(ImportRun, run.id))
            raise AssertionError("undo should have been refused")
        except Exception as error:  # noqa: BLE001
            assert "used since (by 1 engagement)" in str(error), str(error)
            db.session.rollback()
    db.session.expire_all()
    assert count(db, Contact) == 2
    assert db.session.get(ImportRun, run.id).status is RunStatus.DONE


def test_an_update_edited_again_after_the_import_keeps_the_later_edit_on_undo(
    app, run_import, db, make_contact
):
    from crm.imports import operations

    make_contact("Ana", email="ana@example.org", title="Officer", phone="1")
    run = run_import(
        "contacts",
        "first_name,email,title,phone\nAna,ana@example.org,Director,2\n",
        policy="overwrite",
    )
    ana = db.session.scalar(sa.select(Contact).where(Contact.email == "ana@example.org"))
    ana.title = "Chief executive"  # edited by someone after the import
    db.session.commit()
    with app.test_request_context():
        result = operations.undo(None, db.session.get(ImportRun, run.id))
        db.session.commit()
    assert (result["removed"], result["restored"], result["kept"]) == (0, 1, 1)
    db.session.expire_all()
    ana = db.session.get(Contact, ana.id)
    assert (ana.title, ana.phone) == ("Chief executive", "1")


def test_a_failure_part_way_leaves_nothing_behind(app, db, make_user, monkeypatch):
    """An error after the first chunk was written rolls the whole import back."""
    from crm.imports import operations, running
    from crm.imports.importers.contacts import ContactImporter

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
    data = b"first_name,email\nA,a@x.org\nB,b@x.org\nC,c@x.org\nD,d@x.org\n"
    with app.test_request_context():
        run = operations.start_run(actor, "contacts", "people.csv", data)
        db.session.commit()
        try:
            operations.perform(actor, run)
        except RuntimeError:
            db.session.rollback()
    assert calls["n"] == 2
    assert count(db, Contact) == 0
    assert count(db, Organization) == 0


def test_an_endorsement_row_without_its_champion_fails_instead_of_stopping_the_import(run_import):
    run = run_import("endorsements", "Champion email,Kind,Title,Date\n,talk,A talk,2025-01-02\n")
    assert run.status is RunStatus.DONE and run.failed_count == 1
    assert "Champion email is empty" in run.error_file
