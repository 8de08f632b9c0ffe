"""Signed-in sessions kept in the database: signing out means it, everywhere it must."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from crm.auth.models import User, UserSession
from crm.core.db import utcnow

PASSWORD = "correct horse battery"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def sign_in(client, email, *, remember=False, agent=FIREFOX, address="10.0.0.1"):
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post(
        "/login", data=data, headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-500:]
    return response


def copy_of(app, client, *names):
    """Another browser holding copies of `client`'s cookies (a stolen cookie, say)."""
    other = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, f"no {name} cookie"
        other.set_cookie(name, cookie.value)
    return other


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def open_rows(db, user) -> list[UserSession]:
    return list(db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)))


def test_a_copied_session_cookie_is_refused_after_logout(app, client, make_user, db):
    user = make_user("lead", email="lena@example.org")
    sign_in(client, "lena@example.org")
    thief = copy_of(app, client, "session")
    assert signed_in(thief)  # before logout, a copy works: that is what a cookie is
    assert client.post("/logout").status_code == 302
    assert not signed_in(client)
    assert not signed_in(thief)
    assert open_rows(db, user) == []


def test_a_copied_remember_cookie_is_refused_after_logout(app, client, make_user):
    make_user("lead", email="rem@example.org")
    sign_in(client, "rem@example.org", remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    # Flask-Login's default is a year; here the setting's 30 days.
    assert cookie.expires is not None
    expires = cookie.expires if cookie.expires.tzinfo else cookie.expires.replace(tzinfo=UTC)
    days = (expires - utcnow()).days
    assert 28 <= days <= 30, cookie.expires
    thief = copy_of(app, client, "remember_token")  # the remember cookie alone
    assert signed_in(thief)
    client.post("/logout")
    assert not signed_in(thief)
    fresh_thief = app.test_client()
    fresh_thief.set_cookie("remember_token", cookie.value)
    assert not signed_in(fresh_thief)


def test_logging_out_ends_only_that_browser(app, make_user):
    make_user("lead", email="two@example.org")
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "two@example.org")
    sign_in(phone, "two@example.org", agent="Mozilla/5.0 (iPhone) Safari/604.1")
    laptop.post("/logout")
    assert not signed_in(laptop)
    assert signed_in(phone)


def test_the_account_page_lists_sessions_and_signs_out_the_others(app, make_user, db):
    user = make_user("volunteer", email="vol@example.org")
    laptop, phone, old = app.test_client(), app.test_client(), app.test_client()
    sign_in(laptop, "vol@example.org", address="10.0.0.1")
    sign_in(
        phone, "vol@example.org", agent="Mozilla/5.0 (Android 14) Chrome/131.0", address="10.0.0.2"
    )
    sign_in(old, "vol@example.org", agent="Mozilla/5.0 (Macintosh; Mac OS X 14_1) Safari/605.1")

    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert (
        "Firefox on Windows" in page and "Chrome on Android" in page and "Safari on macOS" in page
    )
    assert "10.0.0.2" in page
    assert page.count("This browser") == 1

    # One of them, from the list.
    phone_row = next(r for r in open_rows(db, user) if r.address == "10.0.0.2")
    assert laptop.post(f"/account/sessions/{phone_row.id}/end").status_code == 302
    assert not signed_in(phone)
    assert signed_in(old) and signed_in(laptop)

    # All the others.
    response = laptop.post("/account/sessions/end-others", follow_redirects=True)
    assert "Signed out everywhere else (1 session)" in response.get_data(as_text=True)
    assert not signed_in(old)
    assert signed_in(laptop)
    assert len(open_rows(db, user)) == 1


def test_nobody_ends_another_persons_session_by_its_number(app, make_user, db):
    victim = make_user("lead", email="victim@example.org")
    make_user("volunteer", email="curious@example.org")
    theirs, mine = app.test_client(), app.test_client()
    sign_in(theirs, "victim@example.org")
    sign_in(mine, "curious@example.org")
    row = open_rows(db, victim)[0]
    response = mine.post(f"/account/sessions/{row.id}/end", follow_redirects=True)
    assert "already ended" in response.get_data(as_text=True)
    assert signed_in(theirs)
    assert f"/account/sessions/{row.id}/end" not in mine.get("/account/sessions").get_data(
        as_text=True
    )


def test_a_role_change_signs_the_user_out_and_an_admin_can_end_sessions(app, client, make_user):
    make_user("admin", email="boss@example.org")
    user = make_user("lead", email="lead@example.org")
    browser = app.test_client()
    sign_in(client, "boss@example.org")
    sign_in(browser, "lead@example.org")

    page = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert "Signed in on 1 browser" in page
    client.post(
        f"/admin/users/{user.id}/edit",
        data={"name": user.name, "role": "volunteer", "email": user.email, "active": "y"},
    )
    assert not signed_in(browser)  # they sign in again with the role they have now

    sign_in(browser, "lead@example.org")
    assert signed_in(browser)
    response = client.post(f"/admin/users/{user.id}/sessions/end", follow_redirects=True)
    assert "signed out everywhere (1 session(s))" in response.get_data(as_text=True)
    assert not signed_in(browser)
    assert "Not signed in anywhere" in client.get(f"/admin/users/{user.id}/edit").get_data(
        as_text=True
    )


def test_only_admins_end_other_peoples_sessions(client, as_role, make_user):
    other = make_user("volunteer")
    as_role("lead")
    assert client.post(f"/admin/users/{other.id}/sessions/end").status_code == 403


def test_an_idle_session_ends_and_housekeeping_deletes_it(client, make_user, db, app, run_jobs):
    user = make_user("lead", email="idle@example.org")
    sign_in(client, "idle@example.org")
    assert signed_in(client)
    row = open_rows(db, user)[0]
    assert not row.remember
    idle = timedelta(hours=app.config["SESSION_IDLE_HOURS"])
    assert abs((row.expires_at - row.created_at) - idle) < timedelta(seconds=5)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert not signed_in(client)

    from crm.core.housekeeping import HOUSEKEEPING
    from crm.core.jobs import enqueue

    enqueue(HOUSEKEEPING)
    db.session.flush()
    run_jobs()
    assert open_rows(db, user) == []


def test_browsers_are_named_from_their_user_agent():
    from crm.auth.sessions import describe_browser

    assert describe_browser(FIREFOX) == "Firefox on Windows"
    edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0"
    assert describe_browser(edge) == "Edge on Windows"
    assert describe_browser("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0") == "Chrome on Linux"
    assert describe_browser("") == "Unknown browser"
    assert describe_browser("curl/8.5.0") == "curl/8.5.0"


# --- with sessions committed, as in production: the remember cookie's rotation ---------------


@pytest.fixture
def own_app(tmp_path, app):
    """An app and database of its own, whose sessions are committed: the rotation writes in a
    connection of its own, which the suite's shared transaction would hide rows from."""
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("committed rows in a database of its own: SQLite's file is enough")
    own = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'own.sqlite3'}")
    with own.app_context():
        upgrade()
        from crm.auth.models import Role
        from crm.extensions import db

        user = User(email="kept@example.org", name="Kept", role=Role.LEAD)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        db.session.remove()
    yield own
    with own.app_context():
        from crm.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.mark.no_db
def test_the_remember_cookie_gets_a_new_secret_each_time_it_brings_a_session_back(own_app):
    browser = own_app.test_client()
    sign_in(browser, "kept@example.org", remember=True)
    first = browser.get_cookie("remember_token").value

    # The browser is closed: its session cookie goes, the remember cookie stays.
    browser.delete_cookie("session")
    assert signed_in(browser)
    second = browser.get_cookie("remember_token").value
    assert second != first
    assert signed_in(browser)  # the new one works

    stale = own_app.test_client()
    stale.set_cookie("remember_token", first)
    assert not signed_in(stale)  # an old copy no longer does

    with own_app.app_context():
        from crm.extensions import db

        rows = db.session.scalars(sa.select(UserSession)).all()
        assert len(rows) == 1 and rows[0].remember  # the same session, not a new one
        db.session.remove()
