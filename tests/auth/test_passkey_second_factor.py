"""A passkey as the second factor: after the password, the code step takes the user's passkey
(beside or instead of an authenticator app); a passkey fulfils a role's two-factor requirement."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.auth import two_factor
from crm.auth.models import SecurityEvent
from crm.auth.two_factor_views import PENDING
from tests.auth.test_passkeys import Authenticator, add_passkey
from tests.auth.test_two_factor import HERE, PASSWORD, code_at, enrol, password_step

pytestmark = pytest.mark.usefixtures("app")


def passkey_step(client, device: Authenticator, **answer):
    options = client.post("/login/code/passkey/options", json={})
    assert options.status_code == 200, options.get_json()
    credential = device.get(options.get_json(), **answer)
    return client.post(
        "/login/code/passkey", json={"credential": credential}, environ_base={"REMOTE_ADDR": HERE}
    )


@pytest.fixture
def user_with_passkey(client, make_user, login):
    """A user with a passkey (added while signed in), then signed out."""

    def make(role="volunteer", email="keyholder@example.org"):
        user = login(make_user(role, email=email))
        device = Authenticator()
        assert add_passkey(client, device).status_code == 200
        client.post("/logout")
        return user, device

    return make


def details(db, user) -> list[tuple[str, str]]:
    stmt = sa.select(SecurityEvent.kind, SecurityEvent.detail).where(
        SecurityEvent.user_id == user.id
    )
    return [(k.value, d) for k, d in db.session.execute(stmt.order_by(SecurityEvent.id))]


def test_a_passkey_counts_as_a_second_factor(db, user_with_passkey):
    user, _device = user_with_passkey()
    assert two_factor.has_second_factor(user)
    assert two_factor.users_with_second_factor([user.id]) == {user.id}


def test_after_the_password_the_passkey_completes_the_sign_in(client, db, user_with_passkey):
    user, device = user_with_passkey()
    first = password_step(client, "keyholder@example.org", next_url="/contacts/")
    assert first.location.endswith("/login/code")
    assert client.get("/").status_code == 302  # not signed in yet
    page = client.get("/login/code").get_data(as_text=True)
    assert 'id="passkey-second-step"' in page
    assert 'name="code"' not in page  # no app to take a code from
    assert client.post("/login/code", data={"code": "123456"}).status_code == 400
    done = passkey_step(client, device)
    assert done.status_code == 200 and done.get_json()["redirect"].endswith("/contacts/")
    assert client.get("/contacts/").status_code == 200
    assert ("signed_in", "with a passkey") in details(db, user)


def test_with_an_app_too_the_page_offers_both(client, db, user_with_passkey):
    user, device = user_with_passkey()
    secret, _codes = enrol(db, user)
    password_step(client, "keyholder@example.org")
    page = client.get("/login/code").get_data(as_text=True)
    assert 'name="code"' in page and 'id="passkey-second-step"' in page
    assert client.post("/login/code", data={"code": code_at(secret)}).status_code == 302
    assert client.get("/").status_code == 200


def test_the_passkey_step_needs_a_pending_sign_in_and_the_users_own_passkey(
    client, db, make_user, user_with_passkey
):
    _user, device = user_with_passkey()
    assert client.post("/login/code/passkey/options", json={}).status_code == 400  # no password
    other = Authenticator()  # a passkey that is nobody's here
    password_step(client, "keyholder@example.org")
    refused = passkey_step(client, other)
    assert refused.status_code == 400
    assert client.get("/").status_code == 302  # still not signed in
    unverified = passkey_step(client, device, verified=False)  # no PIN or fingerprint
    assert unverified.status_code == 400
    assert passkey_step(client, device).status_code == 200


def test_wrong_passkey_answers_count_as_wrong_codes(app, client, db, user_with_passkey):
    user, device = user_with_passkey()
    password_step(client, "keyholder@example.org")
    other = Authenticator()
    for _ in range(4):
        assert passkey_step(client, other).status_code == 400
    last = passkey_step(client, other)
    assert last.get_json()["redirect"].endswith("/login")  # five: back to the password
    with client.session_transaction() as session:
        assert PENDING not in session
    assert [k for k, _d in details(db, user)].count("two_factor_wrong_code") == 5


def test_a_passkey_fulfils_a_roles_requirement(app, client, db, monkeypatch, user_with_passkey):
    monkeypatch.setitem(app.config, "REQUIRE_2FA_ROLES", ("admin", "lead"))
    user, device = user_with_passkey(role="lead", email="lead-key@example.org")
    password_step(client, "lead-key@example.org")
    assert passkey_step(client, device).status_code == 200
    assert client.get("/contacts/").status_code == 200  # not held on the set-up page
    # With an app as well, the app may be turned off: the passkey stays the second factor.
    secret, _codes = enrol(db, user)
    off = client.post(
        "/account/two-factor/off",
        data={"off-password": PASSWORD, "off-code": code_at(secret)},
    )
    assert off.status_code == 302
    assert two_factor.active_app(user) is None and two_factor.has_second_factor(user)


def test_a_required_role_may_add_a_passkey_while_held_on_the_set_up_page(
    app, client, db, make_user, login, monkeypatch
):
    monkeypatch.setitem(app.config, "REQUIRE_2FA_ROLES", ("admin", "lead"))
    login(make_user("lead", email="new-lead@example.org"))
    assert client.get("/contacts/").location.endswith("/account/two-factor")
    assert client.get("/account/passkeys").status_code == 200
    assert add_passkey(client, Authenticator()).status_code == 200
    assert client.get("/contacts/").status_code == 200
