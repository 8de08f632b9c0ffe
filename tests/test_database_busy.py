"""On SQLite one transaction writes at a time: a save that waits too long for another's lock
(a large import holds it for its whole run) gets a clear page, and nothing is half-saved."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa


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
        db.session.commit()
        yield busy, path, lead.session_token
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
