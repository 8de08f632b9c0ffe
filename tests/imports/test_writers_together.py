"""An import and people saving at the same moment, on a database file (or PostgreSQL database)
of its own, as the CLI and the web server share it: the import checks its file without the
write lock, so a save while it checks goes through at once; a save while it writes waits for
it and goes through; a record made meanwhile is matched, not written twice; and whatever stops
the import marks its run failed with the reason.

The moments are made with hooks (events), never with timings.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from crm.auth.sessions import start as start_session
from crm.imports.importers.contacts import ContactImporter
from tests.imports.test_import_processes import database  # noqa: F401 - a fixture

pytestmark = pytest.mark.no_db

WAIT = 120  # seconds: a bound for a hook's event on a loaded machine, never a measurement
ROWS = 3000


@pytest.fixture
def shared(request, tmp_path: Path, database: str) -> Iterator:  # noqa: F811 - the fixture above
    """An app on a database file of its own, with a lead and a contact to edit (settings
    from the test's `indirect` parameter, if any)."""
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.auth.models import Role, User
    from crm.contacts.models import Contact
    from crm.extensions import db

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database,
        INSTANCE_DIR=str(tmp_path / "instance"),
        MAIL_FILE_DIR=str(tmp_path / "mail"),
        **getattr(request, "param", {}),
    )
    with app.app_context():
        upgrade()
        user = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        user.set_password("correct horse battery")
        db.session.add(user)
        db.session.add(Contact(first_name="Priya", last_name="Sharma", email="priya@example.org"))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def write_people(path: Path, n: int = ROWS) -> Path:
    lines = ["First name,Last name,Email,Organization"]
    lines += [f"Person{i},Worker,person{i}@example.org,Supplier {i % 50}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Background(threading.Thread):
    """`flask crm import FILE --type contacts` in a thread of this process."""

    def __init__(self, app, path: Path, *extra: str) -> None:
        super().__init__(daemon=True)
        self.app, self.args = app, ["crm", "import", str(path), "--type", "contacts", *extra]
        self.result: Result | None = None

    def run(self) -> None:
        self.result = self.app.test_cli_runner().invoke(args=self.args)

    def finished(self) -> Result:
        self.join(WAIT)
        assert self.result is not None, "the import did not finish"
        return self.result


def client_of(app):
    client = app.test_client()
    with app.app_context():
        from crm.auth.models import User
        from crm.extensions import db

        user = db.session.scalar(sa.select(User).where(User.email == "lead@example.org"))
        with client.session_transaction() as session:
            session["_user_id"] = start_session(user)
            session["_fresh"] = True
        db.session.commit()  # the signed-in session
        db.session.remove()
    return client


def save_contact(client, app, **changes: str) -> int:
    """Edit Priya on the web form; the response's status code."""
    with app.app_context():
        from crm.contacts.models import Contact
        from crm.extensions import db

        contact = db.session.scalar(sa.select(Contact).where(Contact.email == "priya@example.org"))
        contact_id, version = contact.id, contact.version
        db.session.remove()
    form = {
        "first_name": "Priya",
        "last_name": "Sharma",
        "email": "priya@example.org",
        "country": "IN",
        "consent_status": "unknown",
        "version": str(version),
        **changes,
    }
    return client.post(f"/contacts/{contact_id}/edit", data=form).status_code


def look(app, statement: str) -> list[tuple]:
    from crm.extensions import db

    with app.app_context():
        try:
            return [tuple(row) for row in db.session.execute(sa.text(statement)).all()]
        finally:
            db.session.remove()


def hook_checking(monkeypatch, then: Callable[[], None]) -> threading.Event:
    """After the import checked its first chunk, `then` runs in the import's thread (the
    import waits for it); the event is set once it has."""
    original = ContactImporter.check
    done = threading.Event()

    def check(self, rows):
        original(self, rows)
        if not done.is_set():
            then()
            done.set()

    monkeypatch.setattr(ContactImporter, "check", check)
    return done


def on_sqlite(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


# --- saves while an import runs ----------------------------------------------------------


SHORT_WAIT = pytest.mark.parametrize("shared", [{"SQLITE_BUSY_TIMEOUT_MS": 300}], indirect=True)


@SHORT_WAIT
def test_a_save_while_the_import_checks_its_file_goes_through_at_once(
    shared, tmp_path, monkeypatch
):
    """The save runs *inside* the import's check (the import waits for it): were the import
    holding the write lock, the save would wait for it until the busy page."""
    app = shared
    client = client_of(app)
    saved: list[int] = []
    hook_checking(monkeypatch, lambda: saved.append(save_contact(client, app, title="Director")))
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    result = job.finished()
    assert result.exit_code == 0, result.output
    assert saved == [302]  # saved, not "The database is busy" (503)
    assert look(app, "SELECT title FROM contact WHERE email = 'priya@example.org'") == [
        ("Director",)
    ]
    assert look(app, "SELECT count(*) FROM contact WHERE email LIKE 'person%'") == [(ROWS,)]
    assert look(app, "SELECT status, created_count FROM import_run") == [("done", ROWS)]


def test_a_save_while_the_import_writes_waits_for_it_and_goes_through(
    shared, tmp_path, monkeypatch
):
    from crm.imports import running

    app = shared
    client = client_of(app)
    writing, save_started = threading.Event(), threading.Event()

    def hooked(original):
        def write(*args, **kwargs):
            if not writing.is_set():
                writing.set()  # the write lock is held (SQLite): the save below queues for it
                assert save_started.wait(WAIT)
                threading.Event().wait(0.3)  # lets the save reach its BEGIN; nothing is timed
            return original(*args, **kwargs)

        return write

    # SQLite writes the rows part after part, PostgreSQL in one transaction.
    monkeypatch.setattr(running, "write_part", hooked(running.write_part))
    monkeypatch.setattr(running, "write", hooked(running.write))
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    assert writing.wait(WAIT)
    save_started.set()
    status = save_contact(client, app, title="Head of Sourcing")
    result = job.finished()
    assert result.exit_code == 0, result.output
    assert status == 302
    assert look(app, "SELECT title FROM contact WHERE email = 'priya@example.org'") == [
        ("Head of Sourcing",)
    ]
    assert look(app, "SELECT count(*) FROM contact WHERE email LIKE 'person%'") == [(ROWS,)]


def test_a_contact_created_while_the_import_checks_is_matched_not_written_twice(
    shared, tmp_path, monkeypatch
):
    """person7@ and Person11 at Supplier 11 are new when the file is checked; someone adds
    them before it writes: the rows match them (an update), no unique-email failure."""
    app = shared
    client = client_of(app)

    def add_them():
        form = {"first_name": "Person7", "last_name": "Worker",
                "email": "person7@example.org", "consent_status": "unknown"}  # fmt: skip
        assert client.post("/contacts/new", data=form).status_code == 302
        with app.app_context():  # another person's change, committed
            from crm.contacts.models import Contact
            from crm.extensions import db
            from crm.organizations.models import Organization, OrganizationKind
            from crm.organizations.operations import name_key

            org = Organization(
                name="Supplier 11", name_key=name_key("Supplier 11"), kind=OrganizationKind.OTHER
            )
            db.session.add(org)
            person = Contact(first_name="Person11", last_name="Worker", organization=org)
            person.set_search_fields()
            db.session.add(person)
            db.session.commit()
            db.session.remove()

    hook_checking(monkeypatch, add_them)
    job = Background(app, write_people(tmp_path / "people.csv"), "--existing", "fill")
    job.start()
    result = job.finished()
    assert result.exit_code == 0, result.output
    assert look(app, "SELECT count(*) FROM contact WHERE email = 'person7@example.org'") == [(1,)]
    assert look(app, "SELECT count(*) FROM contact WHERE first_name = 'Person11'") == [(1,)]
    assert look(app, "SELECT email FROM contact WHERE first_name = 'Person11'") == [
        ("person11@example.org",)  # filled in by the import
    ]
    assert look(app, "SELECT count(*) FROM organization WHERE name = 'Supplier 11'") == [(1,)]
    assert look(app, "SELECT created_count, updated_count FROM import_run") == [(ROWS - 2, 2)]


# --- whatever stops an import marks its run failed ------------------------------------------


def test_a_crash_while_checking_marks_the_run_failed(shared, tmp_path, monkeypatch):
    app = shared

    def broken(self, rows):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ContactImporter, "check", broken)
    result = Background(app, write_people(tmp_path / "people.csv"))
    result.start()
    outcome = result.finished()
    assert outcome.exit_code != 0 and isinstance(outcome.exception, ZeroDivisionError)
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and "unexpected error" in message
    assert look(app, "SELECT count(*) FROM contact") == [(1,)]


def test_a_refusal_while_checking_marks_the_run_failed_with_its_reason(
    shared, tmp_path, monkeypatch
):
    """The limit on rows is lowered once the run is recorded: the check refuses the file."""
    from crm.imports import operations

    app = shared
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", app.config["IMPORT_MAX_ROWS"])
    original = operations.start_run

    def start_run(*args, **kwargs):
        run = original(*args, **kwargs)
        app.config["IMPORT_MAX_ROWS"] = ROWS - 1
        return run

    monkeypatch.setattr(operations, "start_run", start_run)
    job = Background(app, write_people(tmp_path / "people.csv"))
    job.start()
    outcome = job.finished()
    assert outcome.exit_code == 1
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and "the most one import takes" in message
    assert "the most one import takes" in outcome.output and "Traceback" not in outcome.output
    assert look(app, "SELECT count(*) FROM contact") == [(1,)]


@SHORT_WAIT
def test_the_write_lock_held_too_long_by_another_marks_the_run_failed_and_says_so(
    shared, tmp_path, monkeypatch
):
    from crm.imports import cli

    app = shared
    if not on_sqlite(app):
        pytest.skip("PostgreSQL has no database-wide write lock")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def hold_the_lock():
        other.execute("BEGIN IMMEDIATE")  # another writer, in the middle of its change

    def release_then(original):
        def failed(*args):
            other.execute("ROLLBACK")  # the other writer finishes after the import gave up
            return original(*args)

        return failed

    hook_checking(monkeypatch, hold_the_lock)
    monkeypatch.setattr(cli, "_failed", release_then(cli._failed))
    try:
        job = Background(app, write_people(tmp_path / "people.csv"))
        job.start()
        outcome = job.finished()
    finally:
        other.close()
    assert outcome.exit_code == 1
    assert "The database stayed busy" in outcome.output
    assert "Traceback" not in outcome.output and "database is locked" not in outcome.output
    [(status, message)] = look(app, "SELECT status, message FROM import_run")
    assert status == "failed" and message.startswith("The database stayed busy")
    assert look(app, "SELECT count(*) FROM contact") == [(1,)]


def test_a_dry_run_keeps_no_run_and_writes_nothing(shared, tmp_path):
    app = shared
    job = Background(app, write_people(tmp_path / "people.csv"), "--dry-run")
    job.start()
    outcome = job.finished()
    assert outcome.exit_code == 0, outcome.output
    assert f"would create {ROWS:,}" in outcome.output
    assert look(app, "SELECT count(*) FROM import_run") == [(0,)]
    assert look(app, "SELECT count(*) FROM contact") == [(1,)]
