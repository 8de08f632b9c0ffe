"""An import keeps no more personal data than it needs, and erasure reaches what it keeps."""

from __future__ import annotations

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.imports.models import ImportItem, ImportRun


def test_the_uploaded_file_is_deleted_once_the_run_has_ended(app, client, as_role, db):
    import io

    from crm.imports import uploads

    as_role("lead")
    client.post("/imports/upload", data={"record_type": "contacts", "file": (io.BytesIO(b"first_name\nAna\n"), "a.csv")},
                content_type="multipart/form-data")  # fmt: skip
    run = db.session.scalars(sa.select(ImportRun)).one()
    with app.test_request_context():
        path = uploads.stored_path(run)
    assert path.exists()
    client.post(f"/imports/{run.id}/run")
    assert not path.exists()


def test_stale_drafts_are_dropped_with_their_files(app, db, make_user):
    from datetime import timedelta

    from crm.core.db import utcnow
    from crm.imports import operations, uploads

    with app.test_request_context():
        old = operations.start_run(None, "contacts", "old.csv", b"first_name\nAna\n")
        old.created_at = utcnow() - timedelta(days=8)
        db.session.commit()
        path = uploads.stored_path(old)
        operations.start_run(None, "contacts", "new.csv", b"first_name\nBo\n")
        db.session.commit()
    assert not path.exists()
    assert [r.file_name for r in db.session.scalars(sa.select(ImportRun))] == ["new.csv"]


def test_erasing_a_contact_clears_what_imports_kept_about_them(app, run_import, db, make_contact):
    from crm.contacts import operations as contact_ops

    make_contact("Ana", "Silva", email="ana@example.org", phone="+1 555 0100")
    run_import(
        "contacts", "first_name,email,phone\nAna,ana@example.org,+1 555 0199\n", policy="overwrite"
    )
    failed = run_import(
        "contacts",
        "first_name,last_name,email,country\nAna,Silva,ana@example.org,Narnia\nBo,Ba,bo@example.org,Narnia\n",
    )
    assert "ana@example.org" in failed.error_file
    item = db.session.scalars(sa.select(ImportItem).where(ImportItem.action == "updated")).one()
    assert item.before["phone"] == ["+1 555 0100", "+1 555 0199"]
    ana = db.session.scalar(sa.select(Contact).where(Contact.email == "ana@example.org"))
    with app.test_request_context():
        contact_ops.erase_contact(None, db.session.get(Contact, ana.id))
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(ImportItem, item.id).before is None
    error_file = db.session.get(ImportRun, failed.id).error_file
    assert "ana@example.org" not in error_file and "bo@example.org" in error_file
