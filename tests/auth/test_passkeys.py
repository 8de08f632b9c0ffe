"""Passkeys, checked against real WebAuthn answers: a small software authenticator below makes
them as a browser and a device would (an EC P-256 key, clientDataJSON, authenticator data, a
"none" attestation in CBOR, an ECDSA signature), so py_webauthn verifies them for real."""

from __future__ import annotations

import hashlib
import json
import os
import re
from base64 import urlsafe_b64encode

import cbor2
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from crm.auth import passkeys
from crm.auth.models import SecurityEvent, SecurityEventKind
from crm.auth.passkey_models import Passkey

PASSWORD = "correct horse battery"  # make_user's
ORIGIN = "http://localhost"  # the test configuration's CRM_BASE_URL

UP, UV, AT = 0x01, 0x04, 0x40  # authenticator data flags: user present, verified, key attached


def b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class Authenticator:
    """A passkey on a device: makes one for a site and signs its challenges."""

    def __init__(self, rp_id: str = "localhost", origin: str = ORIGIN) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.rp_id, self.origin = rp_id, origin
        self.sign_count = 0
        self.user_handle: str | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _auth_data(self, flags: int, attested: bool = False) -> bytes:
        data = hashlib.sha256(self.rp_id.encode()).digest()
        data += bytes([flags]) + self.sign_count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self._cose_key()
        return data

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def create(self, options: dict, *, origin: str | None = None, challenge: str | None = None,
               verified: bool = True) -> dict:  # fmt: skip
        """navigator.credentials.create(): the answer to registration options."""
        self.user_handle = options["user"]["id"]
        client_data = self._client_data(
            "webauthn.create", challenge or options["challenge"], origin
        )
        flags = UP | AT | (UV if verified else 0)
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._auth_data(flags, attested=True)}
        )
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(self, options: dict, *, origin: str | None = None, challenge: str | None = None,
            verified: bool = True, count: int | None = None) -> dict:  # fmt: skip
        """navigator.credentials.get(): a signed answer to authentication options."""
        self.sign_count = self.sign_count + 1 if count is None else count
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        auth_data = self._auth_data(UP | (UV if verified else 0))
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": self.user_handle,
            },
        }


# --------------------------------------------------------------------------- helpers


def add_passkey(client, device: Authenticator, name: str = "Work laptop", **answer):
    options = client.post("/account/passkeys/options", json={"password": PASSWORD}).get_json()
    return client.post(
        "/account/passkeys/add",
        json={"name": name, "credential": device.create(options, **answer)},
    )


def sign_in(client, device: Authenticator, **answer):
    options = client.post("/login/passkey/options", json={}).get_json()
    return client.post("/login/passkey", json={"credential": device.get(options, **answer)})


@pytest.fixture
def with_passkey(client, make_user, login):
    """A user signed in on `client` with a passkey added, and a second browser, anonymous."""

    def make(**kw):
        user = login(make_user(**kw))
        device = Authenticator()
        assert add_passkey(client, device).status_code == 200
        return user, device

    return make


def events(db, user, kind: SecurityEventKind) -> list[SecurityEvent]:
    return list(
        db.session.scalars(
            sa.select(SecurityEvent).where(
                SecurityEvent.user_id == user.id, SecurityEvent.kind == kind
            )
        )
    )


# --------------------------------------------------------------------------- adding


def test_a_passkey_is_added_from_the_account_page_and_listed(client, with_passkey, db):
    user, device = with_passkey(email="pia@example.org", name="Pia Lind")
    row = db.session.scalar(sa.select(Passkey).where(Passkey.user_id == user.id))
    assert row.name == "Work laptop" and row.credential_id == b64(device.credential_id)
    assert row.transports == "internal,hybrid" and row.last_used_at is None
    page = client.get("/account/passkeys").get_data(as_text=True)
    assert "Work laptop" in page and "Never" in page
    assert "Your passkey “Work laptop” is added." in page
    assert [e.detail for e in events(db, user, SecurityEventKind.PASSKEY_ADDED)] == ["Work laptop"]


def test_the_registration_options_ask_for_a_discoverable_verified_passkey(client, as_role):
    user = as_role("volunteer", email="opt@example.org", name="Opt Person")
    options = client.post("/account/passkeys/options", json={"password": PASSWORD}).get_json()
    assert options["rp"] == {"id": "localhost", "name": "WEST Advocacy CRM"}
    assert options["user"]["name"] == user.email and options["user"]["displayName"] == "Opt Person"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    handle = passkeys.base64url_to_bytes(options["user"]["id"])
    assert len(handle) == 32 and str(user.id).encode() != handle  # random, naming no one


def test_adding_a_passkey_needs_the_password(client, as_role):
    # A passkey outlives a password change: a signed-in browser alone must not add one.
    user = as_role()
    for body in ({}, {"password": "not it"}, {"password": ["x"]}):
        refused = client.post("/account/passkeys/options", json=body)
        assert refused.status_code == 400
        assert refused.get_json() == {"error": "Your password is not right."}
    # Without the options (and so the password), an answer has no ceremony to belong to.
    answer = Authenticator().create(
        {"user": {"id": b64(os.urandom(32))}, "challenge": b64(os.urandom(32))}
    )
    refused = client.post("/account/passkeys/add", json={"name": "Mine", "credential": answer})
    assert refused.status_code == 400 and passkeys.count_for(user) == 0


def test_a_second_passkey_shares_the_user_handle_and_excludes_the_first(client, with_passkey, db):
    user, device = with_passkey()
    options = client.post("/account/passkeys/options", json={"password": PASSWORD}).get_json()
    assert options["user"]["id"] == device.user_handle
    assert [c["id"] for c in options["excludeCredentials"]] == [b64(device.credential_id)]
    again = client.post(
        "/account/passkeys/add", json={"name": "Again", "credential": device.create(options)}
    )
    assert again.status_code == 400 and "already registered" in again.get_json()["error"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"origin": "http://evil.example"}, "origin"),
        ({"challenge": b64(b"not the challenge the server sent")}, "challenge"),
        ({"verified": False}, "verif"),
    ],
)
def test_a_registration_with_a_wrong_origin_or_challenge_or_unverified_is_refused(
    client, as_role, db, answer, why
):
    user = as_role()
    response = add_passkey(client, Authenticator(), **answer)
    assert response.status_code == 400
    assert why in response.get_json()["error"].lower()
    assert passkeys.count_for(user) == 0


def test_a_registration_answer_is_used_once(client, as_role):
    as_role()
    device = Authenticator()
    options = client.post("/account/passkeys/options", json={"password": PASSWORD}).get_json()
    answer = device.create(options)
    assert (
        client.post("/account/passkeys/add", json={"name": "A", "credential": answer}).status_code
        == 200
    )
    again = client.post("/account/passkeys/add", json={"name": "B", "credential": answer})
    assert again.status_code == 400 and "Start again" in again.get_json()["error"]


def test_a_passkey_needs_a_name_and_the_typed_name_is_kept_on_a_refused_rename(
    client, with_passkey, db
):
    user, _ = with_passkey()
    options = client.post("/account/passkeys/options", json={"password": PASSWORD}).get_json()
    nameless = client.post(
        "/account/passkeys/add", json={"name": "  ", "credential": Authenticator().create(options)}
    )
    assert nameless.status_code == 400 and "Give the passkey a name" in nameless.get_json()["error"]
    row = passkeys.passkeys_of(user)[0]
    too_long = client.post(f"/account/passkeys/{row.id}/rename", data={"name": "x" * 81})
    assert too_long.status_code == 422
    assert "x" * 81 in too_long.get_data(as_text=True)
    ok = client.post(f"/account/passkeys/{row.id}/rename", data={"name": "Old phone"})
    assert ok.status_code == 302 and row.name == "Old phone"


# --------------------------------------------------------------------------- signing in


def test_a_passkey_signs_in_without_a_password(app, client, with_passkey, db):
    user, device = with_passkey(email="kim@example.org")
    browser = app.test_client()
    assert browser.get("/").status_code == 302  # anonymous
    page = browser.get("/login").get_data(as_text=True)
    assert "Sign in with a passkey" in page and "js/passkeys.js" in page
    options = browser.post("/login/passkey/options", json={}).get_json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    response = browser.post(
        "/login/passkey",
        json={"credential": device.get(options), "next": "/contacts/"},
    )
    assert response.status_code == 200 and response.get_json() == {"redirect": "/contacts/"}
    assert browser.get("/").status_code == 200
    row = passkeys.passkeys_of(user)[0]
    assert row.sign_count == 1 and row.last_used_at is not None and user.last_login_at is not None
    assert [e.detail for e in events(db, user, SecurityEventKind.SIGNED_IN_WITH_PASSKEY)] == [
        "Work laptop"
    ]
    # A server-side session like the password's: logging out ends it for every copy.
    assert len(passkeys_sessions(user)) == 2
    browser.post("/logout")
    assert len(passkeys_sessions(user)) == 1


def passkeys_sessions(user):
    from crm.auth.sessions import open_sessions

    return open_sessions(user)


def test_a_passkey_sign_in_is_not_remembered_unless_asked(app, with_passkey):
    _, device = with_passkey()
    browser = app.test_client()
    assert sign_in(browser, device).status_code == 200
    assert browser.get_cookie("remember_token") is None
    kept = app.test_client()
    options = kept.post("/login/passkey/options", json={}).get_json()
    kept.post("/login/passkey", json={"credential": device.get(options), "remember": True})
    assert kept.get_cookie("remember_token") is not None


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"origin": "http://evil.example"}, "origin"),
        ({"challenge": b64(os.urandom(32))}, "challenge"),
        ({"verified": False}, "verif"),
    ],
)
def test_a_sign_in_with_a_wrong_origin_or_challenge_or_unverified_is_refused(
    app, with_passkey, db, answer, why
):
    user, device = with_passkey()
    browser = app.test_client()
    response = sign_in(browser, device, **answer)
    assert response.status_code == 400 and why in response.get_json()["error"].lower()
    assert browser.get("/").status_code == 302
    assert events(db, user, SecurityEventKind.PASSKEY_SIGN_IN_FAILED)


def test_a_replayed_sign_in_is_refused_even_from_a_copy_of_the_cookie(app, with_passkey):
    _, device = with_passkey()
    browser = app.test_client()
    options = browser.post("/login/passkey/options", json={}).get_json()
    cookie = browser.get_cookie("session").value  # holds the challenge
    answer = device.get(options)
    assert browser.post("/login/passkey", json={"credential": answer}).status_code == 200
    # The same answer again in that browser: the challenge was taken out of its session.
    browser.post("/logout")
    again = browser.post("/login/passkey", json={"credential": answer})
    assert again.status_code == 400 and "Start again" in again.get_json()["error"]
    # From a copy of the cookie that still holds the challenge: it was spent.
    thief = app.test_client()
    thief.set_cookie("session", cookie, domain="localhost")
    stolen = thief.post("/login/passkey", json={"credential": answer})
    assert stolen.status_code == 400
    assert thief.get("/").status_code == 302


def test_a_challenge_expires(app, with_passkey, monkeypatch):
    _, device = with_passkey()
    browser = app.test_client()
    options = browser.post("/login/passkey/options", json={}).get_json()
    later = passkeys.time.time() + passkeys.CHALLENGE_LIFETIME.total_seconds() + 1
    monkeypatch.setattr(passkeys.time, "time", lambda: later)
    late = browser.post("/login/passkey", json={"credential": device.get(options)})
    assert late.status_code == 400 and "too long" in late.get_json()["error"]


def test_a_sign_count_going_backwards_is_refused(app, with_passkey):
    _, device = with_passkey()
    assert sign_in(app.test_client(), device, count=5).status_code == 200
    cloned = sign_in(app.test_client(), device, count=3)
    assert cloned.status_code == 400 and "sign count" in cloned.get_json()["error"].lower()


def test_an_unknown_passkey_is_refused(app, with_passkey, db):
    with_passkey()
    stranger = Authenticator()
    stranger.user_handle = b64(os.urandom(32))
    response = sign_in(app.test_client(), stranger)
    assert response.status_code == 400
    assert "not registered here" in response.get_json()["error"]
    logged = db.session.scalars(
        sa.select(SecurityEvent).where(
            SecurityEvent.kind == SecurityEventKind.PASSKEY_SIGN_IN_FAILED
        )
    ).all()
    assert logged and logged[-1].user_id is None


def test_a_passkey_answering_with_another_accounts_handle_is_refused(app, with_passkey):
    _, device = with_passkey()
    device.user_handle = b64(os.urandom(32))
    response = sign_in(app.test_client(), device)
    assert response.status_code == 400 and "another account" in response.get_json()["error"]


def test_a_deactivated_user_cannot_sign_in_with_a_passkey(app, with_passkey, db):
    user, device = with_passkey()
    user.active = False
    db.session.flush()
    response = sign_in(app.test_client(), device)
    assert response.status_code == 400 and "active account" in response.get_json()["error"]
    assert passkeys.passkeys_of(user)[0].sign_count == 0  # nothing was taken as a use


def test_failed_passkey_sign_ins_are_throttled_per_address(app, with_passkey):
    _, device = with_passkey()
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 2
    try:
        browser = app.test_client()
        for _ in range(2):
            assert sign_in(browser, device, origin="http://evil.example").status_code == 400
        refused = sign_in(browser, device)  # right, but from an address past its limit
        assert refused.status_code == 429 and "Too many" in refused.get_json()["error"]
        # The owner, from their own address, still signs in.
        owner = app.test_client()
        options = owner.post(
            "/login/passkey/options", json={}, environ_base={"REMOTE_ADDR": "10.9.8.7"}
        ).get_json()
        ok = owner.post(
            "/login/passkey",
            json={"credential": device.get(options)},
            environ_base={"REMOTE_ADDR": "10.9.8.7"},
        )
        assert ok.status_code == 200
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 20


def test_verify_assertion_for_a_given_user_refuses_anothers_passkey(app, ctx, make_user, db):
    """What a second-factor step calls: the passkey must be the signed-in-by-password user's."""
    owner, other = make_user(), make_user()
    rp = passkeys.relying_party()
    device = Authenticator()
    text, state = passkeys.registration_options(owner, rp, PASSWORD)
    passkeys.add_passkey(owner, device.create(json.loads(text)), state=state, name="Key", rp=rp)
    text, state = passkeys.authentication_options(rp, other)
    assert json.loads(text)["allowCredentials"] == []  # other has none
    with pytest.raises(passkeys.PasskeyRefused):
        passkeys.verify_assertion(device.get(json.loads(text)), state=state, rp=rp, user=other)
    text, state = passkeys.authentication_options(rp, owner)
    allowed = json.loads(text)["allowCredentials"]
    assert [c["id"] for c in allowed] == [b64(device.credential_id)]
    answer = device.get(json.loads(text))
    assert passkeys.verify_assertion(answer, state=state, rp=rp, user=owner) is owner
    assert passkeys.has_passkey(owner) and not passkeys.has_passkey(other)


# --------------------------------------------------------------------------- removing


def test_removing_a_passkey_needs_the_password(app, client, with_passkey, db):
    user, device = with_passkey()
    row = passkeys.passkeys_of(user)[0]
    wrong = client.post(f"/account/passkeys/{row.id}/remove", data={"password": "not it"})
    assert wrong.status_code == 422 and "password is not right" in wrong.get_data(as_text=True)
    assert passkeys.count_for(user) == 1
    ok = client.post(f"/account/passkeys/{row.id}/remove", data={"password": PASSWORD})
    assert ok.status_code == 302 and passkeys.count_for(user) == 0
    assert events(db, user, SecurityEventKind.PASSKEY_REMOVED)
    # A removed passkey signs no one in.
    assert sign_in(app.test_client(), device).status_code == 400


def test_a_user_cannot_rename_or_remove_anothers_passkey(
    app, client, with_passkey, make_user, login
):
    owner, _ = with_passkey()
    row = passkeys.passkeys_of(owner)[0]
    login(make_user())
    assert (
        client.post(f"/account/passkeys/{row.id}/remove", data={"password": PASSWORD}).status_code
        == 404
    )
    assert (
        client.post(f"/account/passkeys/{row.id}/rename", data={"name": "Mine"}).status_code == 404
    )
    assert passkeys.count_for(owner) == 1 and row.name == "Work laptop"
    assert "You have no passkeys yet." in client.get("/account/passkeys").get_data(as_text=True)


def test_an_admin_sees_and_removes_a_users_passkeys(
    app, client, with_passkey, make_user, login, db
):
    user, device = with_passkey(name="Sam Ode")
    admin = login(make_user("admin", name="Ada Admin"))
    page = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert re.search(r'id="passkey-count">1 passkey:', page)
    done = client.post(f"/admin/users/{user.id}/passkeys/remove")
    assert done.status_code == 302 and passkeys.count_for(user) == 0
    assert "No passkeys." in client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    [event] = events(db, user, SecurityEventKind.PASSKEY_REMOVED)
    assert "by Ada Admin" in event.detail
    from crm.audit.models import AuditEntry

    assert db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.actor_id == admin.id, AuditEntry.summary.like("Removed 1 passkey%")
        )
    )
    assert sign_in(app.test_client(), device).status_code == 400


def test_only_admins_remove_a_users_passkeys(client, with_passkey, make_user, login):
    user, _ = with_passkey()
    login(make_user("lead"))
    assert client.post(f"/admin/users/{user.id}/passkeys/remove").status_code == 403
    assert passkeys.count_for(user) == 1


# --------------------------------------------------------------------------- odd input, CSRF


@pytest.mark.parametrize(
    "body",
    [
        {"data": "not json", "content_type": "application/json"},
        {"data": "[1, 2]", "content_type": "application/json"},
        {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"},
        {"data": json.dumps({"credential": "x" * 70_000}), "content_type": "application/json"},
        {"json": {"credential": "a string"}},
        {"json": {"credential": {"id": 5, "rawId": None, "response": []}}},
        {
            "json": {
                "credential": {
                    "id": "!!",
                    "rawId": "!!",
                    "type": "public-key",
                    "response": {
                        "clientDataJSON": "%%",
                        "authenticatorData": "",
                        "signature": "",
                        "userHandle": 7,
                    },
                }
            }
        },  # fmt: skip
        {"json": {"credential": None, "next": ["/"], "remember": "yes"}},
        {"data": "name=x", "content_type": "application/x-www-form-urlencoded"},
    ],
)
def test_odd_bodies_are_answered_400_not_500(app, client, with_passkey, body):
    with_passkey()
    browser = app.test_client()
    browser.post("/login/passkey/options", json={})
    assert browser.post("/login/passkey", **body).status_code == 400
    client.post("/account/passkeys/options", json={"password": PASSWORD})
    assert client.post("/account/passkeys/add", **body).status_code == 400


def test_a_passkey_with_a_real_credential_but_odd_fields_is_refused(app, with_passkey):
    _, device = with_passkey()
    browser = app.test_client()
    options = browser.post("/login/passkey/options", json={}).get_json()
    answer = device.get(options)
    answer["response"]["signature"] = b64(b"\x30\x02\x01\x00")  # not a signature
    assert browser.post("/login/passkey", json={"credential": answer}).status_code == 400


def test_csrf_is_enforced_on_the_passkey_endpoints(app, client, with_passkey):
    user, device = with_passkey()
    row = passkeys.passkeys_of(user)[0]
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        browser = app.test_client()
        forged = [
            client.post("/account/passkeys/options", json={"password": PASSWORD}),
            client.post("/account/passkeys/add", json={"name": "X", "credential": {}}),
            client.post(f"/account/passkeys/{row.id}/remove", data={"password": PASSWORD}),
            client.post(f"/account/passkeys/{row.id}/rename", data={"name": "Forged"}),
            browser.post("/login/passkey/options", json={}),
            browser.post("/login/passkey", json={"credential": {}}),
        ]
        for response in forged:
            assert response.status_code == 400
            assert "The form has expired" in response.get_data(as_text=True)
        assert passkeys.count_for(user) == 1 and row.name == "Work laptop"
        # The page's token, sent in the header as static/js/passkeys.js sends it, works.
        page = browser.get("/login").get_data(as_text=True)
        token = re.search(r'data-csrf="([^"]+)"', page).group(1)
        headers = {"X-CSRFToken": token}
        options = browser.post("/login/passkey/options", json={}, headers=headers).get_json()
        ok = browser.post(
            "/login/passkey", json={"credential": device.get(options)}, headers=headers
        )
        assert ok.status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# --------------------------------------------------------------------------- the relying party


@pytest.mark.parametrize(
    ("base_url", "rp_id", "origin"),
    [
        ("https://crm.example.org", "crm.example.org", "https://crm.example.org"),
        ("https://crm.example.org:8443/", "crm.example.org", "https://crm.example.org:8443"),
        ("http://127.0.0.1:5000", "localhost", "http://localhost:5000"),
        ("http://[::1]:8000", "localhost", "http://localhost:8000"),
        ("http://10.1.2.3:5000", None, None),
    ],
)
def test_the_relying_party_comes_from_the_base_url_never_the_host_header(
    app, base_url, rp_id, origin
):
    saved = app.config["SERVER_NAME_FOR_LINKS"]
    app.config["SERVER_NAME_FOR_LINKS"] = base_url
    try:
        with app.test_request_context(headers={"Host": "evil.example"}):
            rp = passkeys.relying_party()
            found = (rp.id, rp.origin) if rp else (None, None)
        assert found == (rp_id, origin)
    finally:
        app.config["SERVER_NAME_FOR_LINKS"] = saved


def test_without_a_host_name_the_pages_say_passkeys_cannot_be_used(app, client, as_role):
    as_role()
    saved = app.config["SERVER_NAME_FOR_LINKS"]
    app.config["SERVER_NAME_FOR_LINKS"] = "http://10.1.2.3:5000"
    try:
        page = client.get("/account/passkeys").get_data(as_text=True)
        assert "Passkeys cannot be used at this site's address" in page
        assert "Sign in with a passkey" not in app.test_client().get("/login").get_data(
            as_text=True
        )
        assert client.post("/account/passkeys/options", json={}).status_code == 400
    finally:
        app.config["SERVER_NAME_FOR_LINKS"] = saved
