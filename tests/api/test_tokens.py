"""Personal access tokens: made on the account page or by a command, shown once, stored as a
hash, acting as their user on /api/v1 (never the session cookie), revoked by their owner or an
admin, and every making and revoking in the security log."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import sqlalchemy as sa

from crm.api import tokens
from crm.api.models import ApiToken
from crm.audit.models import AuditEntry
from crm.auth.models import SecurityEvent, SecurityEventKind
from crm.core.db import utcnow


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def shown_token(html: str) -> str:
    found = re.search(r'id="new-token-value"[^>]*value="([^"]+)"', html)
    assert found, "the new token is not on the page"
    return found.group(1)


def test_a_token_made_on_the_account_page_is_shown_once_and_stored_as_a_hash(
    client, make_user, login, db
):
    user = login(make_user("volunteer", email="vol@example.org"))
    made = client.post(
        "/account/api-tokens", data={"name": "Warehouse sync", "access": "read", "days": "30"}
    )
    assert made.status_code == 200
    raw = shown_token(made.get_data(as_text=True))
    assert raw.startswith("west_") and len(raw) > 40
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.name == "Warehouse sync" and row.read_only
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {row.key_hash, row.shown_start}  # the token itself is nowhere kept
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    listed = client.get("/account/api-tokens").get_data(as_text=True)
    assert "Warehouse sync" in listed and raw not in listed  # never shown again
    event = db.session.scalar(sa.select(SecurityEvent).where(SecurityEvent.user_id == user.id))
    assert event.kind == SecurityEventKind.API_TOKEN_CREATED and "Warehouse sync" in event.detail
    assert (
        db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.object_type == "api_token")
        ).summary
        == "API token Warehouse sync created"
    )


def test_a_refused_token_form_keeps_what_was_typed_and_makes_nothing(client, make_user, login, db):
    login(make_user("lead"))
    too_long = client.post(
        "/account/api-tokens", data={"name": "x" * 81, "access": "write", "days": "90"}
    )
    assert too_long.status_code == 200 and 'id="new-token-value"' not in too_long.text
    odd_days = client.post(
        "/account/api-tokens", data={"name": "Forms", "access": "write", "days": "9999"}
    )
    assert "Not a valid choice" in odd_days.text and 'value="Forms"' in odd_days.text
    odd_access = client.post(
        "/account/api-tokens", data={"name": "Forms", "access": "root", "days": "30"}
    )
    assert odd_access.status_code == 200 and 'id="new-token-value"' not in odd_access.text
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


def test_a_token_acts_as_its_user_on_the_api(client, make_user, db):
    user = make_user("champion", email="champ@example.org", name="Amina Champion")
    _token, raw = tokens.create(None, user, name="Website", read_only=False, days=90)
    answer = client.get("/api/v1/me", headers=bearer(raw))
    assert answer.status_code == 200
    assert answer.json["email"] == "champ@example.org"
    assert answer.json["role"] == "champion"
    assert answer.json["token_name"] == "Website"
    assert answer.json["token_access"] == "read and write"


def test_the_api_asks_for_a_token_and_refuses_bad_ones_as_problems(client, make_user, db):
    user = make_user("lead")
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        answer = client.get("/api/v1/me", headers=headers)
        assert answer.status_code == 401
        assert answer.content_type == "application/problem+json"
        assert answer.json["status"] == 401 and answer.json["title"] == "A token is needed"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    for raw in ("west_not-a-real-token", "x" * 5000, "west_" + "é" * 40):
        answer = client.get("/api/v1/me", headers=bearer(raw))
        assert answer.status_code == 401 and "invalid_token" in answer.headers["WWW-Authenticate"]
    token, raw = tokens.create(None, user, name="Old", read_only=True, days=1)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_the_session_cookie_does_not_open_the_api(client, make_user, login):
    """The API takes no CSRF token, so a signed-in browser's cookies must not work there."""
    login(make_user("admin"))
    assert client.get("/account/api-tokens").status_code == 200  # signed in for the pages
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401 and answer.content_type == "application/problem+json"


def test_a_deactivated_users_tokens_stop_working(client, make_user, db):
    user = make_user("volunteer")
    _token, raw = tokens.create(None, user, name="Script", read_only=True, days=30)
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    user.active = False
    db.session.flush()
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_the_owner_revokes_their_token_but_not_someone_elses(client, make_user, login, db):
    owner = make_user("volunteer")
    other = make_user("volunteer")
    theirs, their_raw = tokens.create(None, other, name="Theirs", read_only=True, days=30)
    mine, raw = tokens.create(None, owner, name="Mine", read_only=True, days=30)
    mine_id = mine.id
    login(owner)
    client.post(f"/account/api-tokens/{theirs.id}/revoke")
    assert client.get("/api/v1/me", headers=bearer(their_raw)).status_code == 200  # untouched
    revoked = client.post(f"/account/api-tokens/{mine_id}/revoke", follow_redirects=True)
    assert "is revoked" in revoked.text
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401
    assert db.session.get(ApiToken, mine_id) is None
    kinds = db.session.scalars(
        sa.select(SecurityEvent.kind).where(SecurityEvent.user_id == owner.id)
    ).all()
    assert SecurityEventKind.API_TOKEN_REVOKED in kinds


def test_an_admin_sees_and_revokes_every_token(client, make_user, login, db):
    user = make_user("lead", name="Lena Lead")
    token, raw = tokens.create(None, user, name="Warehouse", read_only=False, days=30)
    login(make_user("admin", name="Ada Admin"))
    page = client.get("/admin/api-tokens").text
    assert "Lena Lead" in page and "Warehouse" in page and raw not in page
    client.post(f"/admin/api-tokens/{token.id}/revoke")
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401
    event = db.session.scalar(
        sa.select(SecurityEvent).where(
            SecurityEvent.user_id == user.id,
            SecurityEvent.kind == SecurityEventKind.API_TOKEN_REVOKED,
        )
    )
    assert "by Ada Admin" in event.detail  # the owner reads who did it in their log


def test_the_command_prints_a_token_that_works(app, runner, client, make_user, db):
    make_user("lead", email="ops@example.org")
    result = runner.invoke(
        args=["crm", "api-token", "create", "--email", "ops@example.org", "--name", "Nightly",
              "--read-only"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = result.output.strip()
    answer = client.get("/api/v1/me", headers=bearer(raw))
    assert answer.status_code == 200 and answer.json["token_access"] == "read-only"
    unknown = runner.invoke(
        args=["crm", "api-token", "create", "--email", "nobody@example.org", "--name", "X"]
    )
    assert unknown.exit_code != 0 and "No account has the address" in unknown.output
    too_long = runner.invoke(
        args=["crm", "api-token", "create", "--email", "ops@example.org", "--name", "X",
              "--days", "4000"]
    )  # fmt: skip
    assert too_long.exit_code != 0 and "from 1 to 365 days" in too_long.output


def test_the_openapi_document_is_public_and_describes_the_api(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/me" in document["paths"]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert document["security"] == [{"token": []}]
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail"} <= set(problem)


def test_unknown_api_addresses_and_methods_answer_problems(client, make_user):
    _token, raw = tokens.create(None, make_user("lead"), name="X", read_only=False, days=1)
    missing = client.get("/api/v1/no-such-thing", headers=bearer(raw))
    assert missing.status_code == 404 and missing.content_type == "application/problem+json"
    wrong_method = client.delete("/api/v1/me", headers=bearer(raw))
    assert wrong_method.status_code == 405
    assert wrong_method.content_type == "application/problem+json"
    page = client.get("/no-such-page")  # the pages keep their own error page
    assert page.status_code == 404 and page.content_type.startswith("text/html")


def test_housekeeping_forgets_tokens_a_month_past_their_end(make_user, db):
    user = make_user("lead")
    old, _ = tokens.create(None, user, name="Old", read_only=True, days=1)
    recent, _ = tokens.create(None, user, name="Recent", read_only=True, days=1)
    now = utcnow()
    old.expires_at = now - timedelta(days=31)
    recent.expires_at = now - timedelta(days=2)
    db.session.flush()
    assert tokens.forget_expired(now) == 1
    assert [t.name for t in tokens.tokens_of(user)] == ["Recent"]
