"""On SQLite one transaction writes at a time: a save that waits too long for another's lock
(a large import holds it for its whole run) gets a clear page, and nothing is half-saved."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from crm.auth.sessions import start as start_session


@pytest.fixture
def locked_app(tmp_path, app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app

    path = tmp_path / "busy.sqlite3"
    busy = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        INSTANCE_DIR=str(tmp_path / "instance"),
        MAIL_FILE_DIR=str(tmp_path / "mail"),
        SQLITE_BUSY_TIMEOUT_MS=200,
    )
    with busy.app_context():
        upgrade()
        from crm.auth.models import Role, User
        from crm.extensions import db

        lead = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        lead.set_password("correct horse battery")
        db.session.add(lead)
        token = start_session(lead)  # a signed-in session, committed with the account
        db.session.commit()
        yield busy, path, token
        db.session.remove()
        db.engine.dispose()


FORM = {"first_name": "Ana", "last_name": "Lima", "consent_status": "unknown", "owner_id": ""}


@pytest.mark.no_db  # an app and database of its own, not the suite's shared transaction
def test_a_save_blocked_by_a_long_write_is_refused_clearly_and_saves_nothing(locked_app):
    busy, path, token = locked_app
    client = busy.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, such as an import, holds the lock
    try:
        response = client.post("/contacts/new", data=FORM)
        assert response.status_code == 503, response.location
        assert response.headers["Retry-After"] == "60"
        assert "The database is busy" in response.get_data(as_text=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with busy.app_context():
        from crm.contacts.models import Contact
        from crm.extensions import db

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0
    # Once the lock is gone the same save goes through.
    again = client.post("/contacts/new", data=FORM)
    assert again.status_code == 302


@pytest.mark.no_db
def test_pages_that_would_queue_a_build_still_answer_while_another_writes(locked_app):
    # The report and dashboard of a big database queue the report's build when none is stored;
    # a GET reads, and on SQLite cannot start writing while another holds the lock: the pages
    # answer (the report "being prepared") rather than "the database is busy".
    busy, path, token = locked_app
    busy.config["COUNT_CAP"] = 0  # a table with a row is big: nothing is built in the request
    with busy.app_context():
        from crm.extensions import db
        from crm.organizations.models import Organization, OrganizationKind

        db.session.add(Organization(name="Big", name_key="big", kind=OrganizationKind.NGO))
        db.session.commit()
    client = busy.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert client.get("/reports/").status_code == 200
        assert client.get("/").status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.no_db
def test_bookkeeping_apart_gives_up_at_once_while_another_writes(locked_app):
    """Bookkeeping written apart from the request ("last used", the API's request counts)
    never waits for the lock, even in a request that writes (its transactions begin IMMEDIATE)."""
    import time

    from config import TestConfig
    from crm import create_app
    from crm.auth.models import UserSession
    from crm.core.apart import update_apart

    _busy, path, _token = locked_app
    # The same database, with a busy timeout long enough to tell a wait from none.
    busy = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        INSTANCE_DIR=str(path.parent / "instance"),
        SQLITE_BUSY_TIMEOUT_MS=3_000,
    )
    table = UserSession.__table__
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with busy.test_request_context("/contacts/new", method="POST"):
            started = time.monotonic()
            written = update_apart(table, table.c.id > 0, {"address": "10.9.9.9"})
            waited = time.monotonic() - started
        assert written is False and waited < 1.0
    finally:
        other.execute("ROLLBACK")
        other.close()
    with busy.test_request_context("/contacts/new", method="POST"):
        assert update_apart(table, table.c.id > 0, {"address": "10.9.9.9"}) is True
    with busy.app_context():
        from crm.extensions import db

        db.engine.dispose()
