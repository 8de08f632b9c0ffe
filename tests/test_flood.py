"""The public forms' cap per network address holds under concurrent submissions."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from crm.core.errors import OperationError


@pytest.mark.no_db
def test_two_submissions_at_once_cannot_both_pass_a_cap_of_one(app):
    """The second request counts while the first has recorded its submission but not yet
    committed: it must wait and see it, not count the committed rows only and pass too."""
    from crm.core.flood import PublicSubmission, check_and_record
    from crm.extensions import db

    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgres"):
        pytest.skip("SQLite write requests run one at a time (BEGIN IMMEDIATE)")
    address = f"test-{uuid.uuid4().hex[:12]}"
    first_recorded, outcome = threading.Event(), {}

    def first() -> None:
        with app.app_context():
            check_and_record("flood-test", address, 1)
            first_recorded.set()
            threading.Event().wait(0.5)  # the second is at its count meanwhile
            db.session.commit()

    def second() -> None:
        first_recorded.wait(5)
        with app.app_context():
            try:
                check_and_record("flood-test", address, 1)
                outcome["second"] = "passed"
            except OperationError:
                outcome["second"] = "refused"
            db.session.rollback()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert outcome == {"second": "refused"}
    finally:
        with app.app_context():
            db.session.execute(
                sa.delete(PublicSubmission).where(PublicSubmission.address == address)
            )
            db.session.commit()
