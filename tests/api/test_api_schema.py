"""The API against its own OpenAPI document, by schemathesis: every operation, with a token of
each role, on generated input (valid and not). No answer may be a 500, and every answer must be
what the document says (status, content type, body, headers)."""

from __future__ import annotations

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from crm.auth.models import User
from crm.core.access import Role
from tests.conftest import own_database

ROLES = [Role.ADMIN, Role.LEAD, Role.VOLUNTEER, Role.CHAMPION, Role.ORG_REP, Role.VIEWER]


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    """An app with a database of its own holding the demo data, committed, and a read-write
    token for one user of each role."""
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.api import tokens
    from crm.extensions import db

    folder = tmp_path_factory.mktemp("api-schema")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=own_database(folder, "api_schema"),
        INSTANCE_DIR=str(folder / "instance"),
        MAIL_FILE_DIR=str(folder / "mail"),
        API_REQUESTS_PER_MINUTE=1_000_000,
    )
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["crm", "bootstrap"])  # an admin and demo data
    assert result.exit_code == 0, result.output
    with app.app_context():
        app.tokens = {}  # type: ignore[attr-defined]
        for role in ROLES:
            user = db.session.scalar(sa.select(User).where(User.role == role).limit(1))
            _token, raw = tokens.create(None, user, name="schema", read_only=False, days=1)
            app.tokens[role] = raw  # type: ignore[attr-defined]
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.no_db  # the module's own committed database
def test_every_operation_answers_as_documented(api_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        # Each operation's generated cases (valid input and not), each sent as every role.
        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,  # the same cases on every run: a failure is not luck
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case):
            for role in ROLES:
                token = api_app.tokens[role]
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"},
                    # The document says what each field is, not every rule of the operations
                    # (a known country, a unique name, a date in range): input it allows may
                    # still be refused, with a 422 naming the field.
                    excluded_checks=[checks.positive_data_acceptance],
                )

        answers_as_documented()
