"""A token's requests a minute, counted apart from the request in a database of its own
(committed, as in production): past the limit, 429 with Retry-After; every answer says where
the token stands."""

from __future__ import annotations

import pytest

from tests.conftest import own_database


@pytest.mark.no_db  # a database of its own, committed
def test_past_its_limit_a_token_waits_for_the_next_minute(tmp_path):
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.api import tokens
    from crm.auth.models import Role, User
    from crm.extensions import db

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=own_database(tmp_path, "rate"),
        INSTANCE_DIR=str(tmp_path / "instance"),
        API_REQUESTS_PER_MINUTE=3,
    )
    with app.app_context():
        upgrade()
        user = User(email="sync@example.org", name="Sync", role=Role.LEAD)
        db.session.add(user)
        db.session.flush()
        _token, raw = tokens.create(None, user, name="sync", read_only=True, days=1)
        _other, other_raw = tokens.create(None, user, name="other", read_only=True, days=1)
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {raw}"}
    answers = [client.get("/api/v1/me", headers=bearer) for _ in range(4)]
    # A minute may turn between the requests: then the count starts again.
    if [a.status_code for a in answers] != [200, 200, 200, 429]:
        answers = [client.get("/api/v1/me", headers=bearer) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == "3;w=60"
    assert answers[0].headers["RateLimit"].startswith("limit=3, remaining=2, reset=")
    refused = answers[3]
    assert refused.content_type == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "remaining=0" in refused.headers["RateLimit"]
    # Each token has its own count.
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {other_raw}"}).status_code
        == 200
    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
