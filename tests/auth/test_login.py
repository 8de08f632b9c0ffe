from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.auth.models import LoginAttempt, User
from crm.auth.sessions import start as start_session

PASSWORD = "correct horse battery"


def post_login(client, email, password=PASSWORD, **kw):
    return client.post("/login", data={"email": email, "password": password}, **kw)


def test_login_then_home_then_logout(client, make_user):
    user = make_user("lead", email="lena@example.org", name="Lena Okafor")
    response = post_login(client, "Lena@Example.org ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Good to see you, Lena" in client.get("/").get_data(as_text=True)
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert user.last_login_at is not None


def test_wrong_password_is_refused_with_a_message(client, make_user):
    make_user(email="a@example.org")
    response = post_login(client, "a@example.org", "wrong password")
    assert response.status_code == 200
    assert "do not match an active account" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous


def test_inactive_account_cannot_log_in(client, make_user):
    make_user(email="gone@example.org", active=False)
    assert "do not match" in post_login(client, "gone@example.org").get_data(as_text=True)


def test_logout_only_by_post(client, as_role):
    as_role("lead")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_failed_logins_for_an_account_are_throttled(client, make_user, app):
    make_user(email="target@example.org")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert post_login(client, "target@example.org", "guess").status_code == 200
    # Even the right password is refused now from that address, with a clear message...
    response = post_login(client, "target@example.org")
    assert response.status_code == 429
    assert "Too many failed logins for this account" in response.get_data(as_text=True)
    # ...but the guesser has not locked the owner out: from their own address it works.
    owner = app.test_client()
    ok = post_login(owner, "target@example.org", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 302


def test_an_unknown_address_costs_a_password_check_as_a_known_one_does(
    client, make_user, monkeypatch
):
    # Answering at once for an address with no account would tell which addresses have one.
    import werkzeug.security

    import crm.auth.models

    checks: list[str] = []
    real = werkzeug.security.check_password_hash

    def counted(hashed: str, password: str) -> bool:
        checks.append(password)
        return real(hashed, password)

    monkeypatch.setattr(werkzeug.security, "check_password_hash", counted)
    monkeypatch.setattr(crm.auth.models, "check_password_hash", counted)
    make_user(email="known@example.org")
    make_user(email="idle@example.org", password="")
    post_login(client, "known@example.org", "wrong one")
    post_login(client, "nobody@example.org", "wrong two")
    post_login(client, "idle@example.org", "wrong three")  # invited, no password yet
    assert checks == ["wrong one", "wrong two", "wrong three"]


def test_failed_logins_from_an_address_are_throttled(client, make_user, app, db):
    make_user(email="someone@example.org")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        post_login(client, f"nobody{i}@example.org", "guess")
    response = post_login(client, "someone@example.org")
    assert response.status_code == 429
    assert "from your network address" in response.get_data(as_text=True)
    # Another address is not affected.
    ok = post_login(client, "someone@example.org", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert ok.status_code == 302


def test_attempts_are_recorded(client, make_user, db):
    make_user(email="rec@example.org")
    post_login(client, "rec@example.org", "nope")
    post_login(client, "rec@example.org")
    rows = db.session.scalars(
        sa.select(LoginAttempt.succeeded).where(LoginAttempt.email == "rec@example.org")
    ).all()
    assert sorted(rows) == [False, True]


def test_old_attempts_are_deleted_by_the_hourly_housekeeping(client, make_user, db, app, run_jobs):
    # They name a person and a network address: kept for the throttle and a month of
    # hindsight (CRM_LOGIN_ATTEMPT_KEEP_DAYS), not for ever. A login no longer prunes them.
    from datetime import timedelta

    from crm.core.db import utcnow
    from crm.core.jobs import enqueue

    make_user(email="old@example.org")
    keep = app.config["LOGIN_ATTEMPT_KEEP_DAYS"]
    for age in (keep + 1, keep - 1):
        db.session.add(
            LoginAttempt(email="old@example.org", address="10.1.1.1", succeeded=False,
                         at=utcnow() - timedelta(days=age))
        )  # fmt: skip
    db.session.commit()
    post_login(client, "old@example.org")

    def ages() -> list[int]:
        return sorted(
            (utcnow() - at).days
            for at in db.session.scalars(
                sa.select(LoginAttempt.at).where(LoginAttempt.email == "old@example.org")
            )
        )

    assert ages() == [0, keep - 1, keep + 1]
    with app.app_context():
        enqueue("housekeeping")
        db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert ages() == [0, keep - 1]


def test_next_parameter_cannot_redirect_off_site(client, make_user):
    make_user(email="n@example.org")
    response = post_login(client, "n@example.org", query_string={"next": "https://evil.example/x"})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = post_login(client, "n@example.org", query_string={"next": "//evil.example"})
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = post_login(client, "n@example.org", query_string={"next": "/contacts/"})
    assert response.headers["Location"] == "/contacts/"


def test_anonymous_is_sent_to_login_with_next(client):
    response = client.get("/contacts/?q=abc")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_passwords_are_hashed(make_user, db):
    user = make_user(email="h@example.org")
    stored = db.session.scalar(sa.select(User.password_hash).where(User.id == user.id))
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_change_password(client, make_user, login, app):
    user = make_user(email="c@example.org")
    login(user)
    other_browser = app.test_client()
    with other_browser.session_transaction() as s:
        s["_user_id"] = start_session(user)

    bad = client.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "password": "new kettle tune 1",
            "confirm": "new kettle tune 1",
        },
    )
    assert "current password is not right" in bad.get_data(as_text=True)
    short = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "short", "confirm": "short"},
    )
    assert "at least" in short.get_data(as_text=True)
    mismatch = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "new kettle tune 1",
            "confirm": "other one",
        },
    )
    assert "The two passwords differ" in mismatch.get_data(as_text=True)
    assert user.check_password(PASSWORD)

    ok = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "new kettle tune 1",
            "confirm": "new kettle tune 1",
        },
    )
    assert ok.status_code == 302
    assert user.check_password("new kettle tune 1")
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other_browser.get("/").status_code == 302  # the other one is signed out


def test_csrf_is_enforced_on_forms(app, client, make_user):
    make_user(email="csrf@example.org")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = post_login(client, "csrf@example.org")
        assert response.status_code == 400
        assert "The form has expired" in response.get_data(as_text=True)
        page = client.get("/login").get_data(as_text=True)
        assert 'name="csrf_token"' in page
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_csrf_protects_logout_and_other_posts(app, client, as_role):
    as_role("lead")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/logout").status_code == 400
        assert client.post("/contacts/1/delete").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_forms_carry_a_working_csrf_token(app, client, as_role, db):
    import re

    as_role("lead")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get("/organizations/new").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        ok = client.post(
            "/organizations/new",
            data={
                "csrf_token": token,
                "name": "Token Org",
                "kind": "ngo",
            },
        )
        assert ok.status_code == 302
        forged = client.post(
            "/organizations/new",
            data={
                "csrf_token": "forged",
                "name": "Forged Org",
                "kind": "ngo",
            },
        )
        assert forged.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize(
    ("password", "refused_because"),
    [
        ("lena.okafor@example.org", "must not contain your email address or your name"),
        ("LenaOkafor2024!", "must not contain your email address or your name"),
        ("Okafor-is-my-name", "must not contain your email address or your name"),
        ("iloveyou1234", "too easy to guess"),  # among the passwords most seen in breaches
        ("qazwsxedcrfv", "too easy to guess"),  # a keyboard pattern
        ("password123456", "too easy to guess"),
        ("1234567890", "too easy to guess"),
        ("short1!", "at least"),
    ],
)
def test_a_password_about_the_person_or_common_is_refused(
    client, make_user, login, password, refused_because
):
    user = make_user(email="lena.okafor@example.org", name="Lena Okafor")
    login(user)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": password, "confirm": password},
    )
    assert refused_because in response.get_data(as_text=True)
    assert user.check_password(PASSWORD)  # unchanged


def test_a_few_unrelated_words_make_a_password(client, make_user, login):
    user = make_user(email="lena.okafor@example.org", name="Lena Okafor")
    login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "violet harbour kettle",
            "confirm": "violet harbour kettle",
        },
    )
    assert response.status_code == 302
    assert user.check_password("violet harbour kettle")
