"""Test fixtures: a real database (SQLite by default, PostgreSQL with CRM_TEST_DATABASE_URL).

The schema is built once per session by running the Alembic migrations (so the migrations are
tested too); every test then runs inside a transaction that is rolled back, with the app's own
commits turned into savepoints. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_sqlalchemy.session import _app_ctx_id

TEST_DB_ENV = "CRM_TEST_DATABASE_URL"


def _own_database_per_worker() -> None:
    """Under pytest-xdist (`make test` runs the suite in a process per core), each worker gets a
    PostgreSQL database of its own beside the given one (`test` -> `test_gw0`), made if missing;
    the databases the process tests make are named after it, so they are the worker's own too.
    On SQLite every worker already has its own file in its own temporary folder."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = os.environ.get(TEST_DB_ENV, "")
    if not worker or not base.startswith("postgres"):
        return
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    mine = url.set(database=f"{url.database}_{worker}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": mine.database}
        ).scalar()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{mine.database}"')
    admin.dispose()
    os.environ[TEST_DB_ENV] = mine.render_as_string(hide_password=False)


_own_database_per_worker()


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get(TEST_DB_ENV)
    if url:
        return url
    return f"sqlite:///{tmp_root / 'test.sqlite3'}"


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app

    root = tmp_path_factory.mktemp("crm")
    url = _database_url(root)
    if url.startswith("postgres"):
        _reset_postgres(url)
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=url,
        MAIL_FILE_DIR=str(root / "mail"),
        INSTANCE_DIR=str(root / "instance"),
    )
    with app.app_context():
        upgrade()
    return app


def _scope() -> object:
    # Requests get a session each (keyed by their app context, as in the app); the test body,
    # outside any context, has one of its own.
    try:
        return _app_ctx_id()
    except RuntimeError:
        return "test-body"


@pytest.fixture(autouse=True)
def db_session(request) -> Iterator:
    """Each test inside one outer transaction, rolled back at the end.

    The test body runs outside an app context on purpose: Flask reuses an active app context for
    test-client requests, which would share `g` (and the logged-in user) between them.
    """
    if request.node.get_closest_marker("e2e") or request.node.get_closest_marker("no_db"):
        yield None
        return
    from flask import request_tearing_down

    app = request.getfixturevalue("app")
    from crm.extensions import db

    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
    original = db.session
    sessions = sa.orm.scoped_session(
        sa.orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
        scopefunc=_scope,
    )
    db.session = sessions

    def refresh_test_body(sender, **extra):
        # What a request changed is what the test should see next.
        body = sessions.registry.registry.get("test-body")
        if body is not None:
            body.expire_all()

    request_tearing_down.connect(refresh_test_body, app)
    try:
        yield sessions
    finally:
        request_tearing_down.disconnect(refresh_test_body, app)
        sessions.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def db(db_session):
    from crm.extensions import db

    return db


@pytest.fixture
def ctx(app):
    """An app context for tests that call operations directly."""
    with app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- builders ---------------------------------------------------------------------------------

_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


@pytest.fixture
def make_user(db, app):
    from crm.auth.models import Role, User

    def make(
        role: str | Role = Role.LEAD, *, password: str = "correct horse battery", **kw
    ) -> User:
        n = _next()
        user = User(
            email=kw.pop("email", f"user{n}@example.org"),
            name=kw.pop("name", f"User {n}"),
            role=Role(role),
            **kw,
        )
        if password:
            with app.app_context():  # the test configuration's cheap hash
                user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def make_org(db):
    from crm.organizations.models import Organization, OrganizationKind
    from crm.organizations.operations import name_key

    def make(name: str | None = None, **kw) -> Organization:
        name = name or f"Organization {_next()}"
        org = Organization(
            name=name, name_key=name_key(name), kind=kw.pop("kind", OrganizationKind.BRAND), **kw
        )
        db.session.add(org)
        db.session.commit()
        return org

    return make


@pytest.fixture
def make_contact(db):
    from crm.contacts.models import Contact

    def make(first_name: str = "Amara", last_name: str | None = None, **kw) -> Contact:
        contact = Contact(
            first_name=first_name,
            last_name=last_name if last_name is not None else f"Mensah{_next()}",
            **kw,
        )
        contact.set_search_fields()
        db.session.add(contact)
        db.session.commit()
        return contact

    return make


@pytest.fixture
def login(client):
    """Sign a user in on the test client (through the session, as Flask-Login would)."""

    def do(user):
        from crm.auth.sessions import start

        secret = start(user)
        with client.session_transaction() as session:
            session.clear()
            session["_user_id"] = secret
            session["_fresh"] = True
        return user

    return do


@pytest.fixture
def as_role(make_user, login):
    def do(role: str = "lead", **kw):
        return login(make_user(role, **kw))

    return do


# --- mail -------------------------------------------------------------------------------------


@pytest.fixture
def run_jobs(app):
    """Run the jobs that are due, as `flask crm worker` would, in this process; returns how
    many ran. Jobs commit like any unit of work (savepoints inside the test's transaction)."""
    from crm.core.jobs.worker import Worker

    def run() -> int:
        with app.app_context():
            return Worker(app, name="test-worker").drain()

    return run


@pytest.fixture
def outbox(app, run_jobs):
    """The .eml files the file mail provider wrote during this test, parsed, once the worker
    has run the jobs that were due (queued email is sent by the worker)."""
    directory = Path(app.config["MAIL_FILE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.eml"):
        old.unlink()

    def messages():
        run_jobs()
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(directory.glob("*.eml"))
        ]

    return messages


@pytest.fixture
def queued_mail(db):
    """The emails queued as `mail.send` jobs in this test, oldest first: [(to, subject)].
    A rolled-back request leaves none; a committed one exactly its own."""
    from crm.core.jobs import Job

    def read() -> list[tuple[str, str]]:
        db.session.expire_all()
        jobs = db.session.scalars(sa.select(Job).where(Job.kind == "mail.send").order_by(Job.id))
        return [(job.payload["to"], job.payload["subject"]) for job in jobs]

    return read


def first_link(message, path_fragment: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S*" + re.escape(path_fragment) + r"\S*", body)
    assert match, f"no link containing {path_fragment!r} in:\n{body}"
    return match.group(0)


@pytest.fixture
def count_queries(app, db_session):
    """Counts the SQL statements run inside a `with count_queries() as n:` block."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = {"n": 0}
        bind = db_session.session_factory.kw["bind"]  # the test's connection, shared by requests

        def before(*args, **kwargs):
            counter["n"] += 1

        sa.event.listen(bind, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            sa.event.remove(bind, "before_cursor_execute", before)

    return counting


@pytest.fixture
def fake_sendgrid():
    """SendGrid's v3 API on 127.0.0.1, for the real `sendgrid` library to talk to."""
    from tests.campaigns.fake_sendgrid import FakeSendGrid

    fake = FakeSendGrid().start()
    yield fake
    fake.stop()
