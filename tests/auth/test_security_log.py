"""The account-security log: what happened to an account and from where, for its owner and
for admins; refusals are logged though the answer is an error."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from crm.auth.models import SecurityEvent, SecurityEventKind
from crm.core.db import utcnow

PASSWORD = "correct horse battery"


def sign_in(client, email, password=PASSWORD, address="10.0.0.7"):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"},
    )


def kinds(db, **where) -> list[str]:
    stmt = sa.select(SecurityEvent.kind).order_by(SecurityEvent.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(SecurityEvent, name) == value)
    return [k.value for k in db.session.scalars(stmt)]


def test_sign_ins_failures_refusals_and_sign_outs_are_logged(app, client, make_user, db):
    user = make_user("volunteer", email="vol@example.org")
    assert sign_in(client, "vol@example.org", "wrong").status_code == 200
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        sign_in(client, "vol@example.org", "wrong")
    refused = sign_in(client, "vol@example.org")
    assert refused.status_code == 429  # an error answer, and still in the log
    sign_in(client, "vol@example.org", address="10.0.0.8")
    client.post("/logout")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    assert kinds(db, user_id=user.id) == [
        *["sign_in_failed"] * limit,
        "sign_in_refused",
        "signed_in",
        "signed_out",
    ]
    signed_in = db.session.scalar(
        sa.select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.SIGNED_IN)
    )
    assert (signed_in.address, signed_in.browser) == ("10.0.0.8", "Firefox on Linux")


def test_a_failure_for_an_address_with_no_account_is_logged_by_address(client, db):
    sign_in(client, "Nobody@Example.org", "guess")
    assert kinds(db, email="nobody@example.org") == ["sign_in_failed"]


def test_each_person_sees_their_own_log_and_admins_see_everyones(app, make_user, db):
    make_user("lead", email="lead@example.org")
    make_user("volunteer", email="vol@example.org")
    make_user("admin", email="boss@example.org")
    lead, vol, boss = app.test_client(), app.test_client(), app.test_client()
    sign_in(lead, "lead@example.org", address="10.1.1.1")
    sign_in(vol, "vol@example.org", address="10.2.2.2")
    sign_in(boss, "boss@example.org")

    own = lead.get("/account/security").get_data(as_text=True)
    assert "10.1.1.1" in own and "10.2.2.2" not in own
    assert lead.get("/admin/users/security").status_code == 403

    everyone = boss.get("/admin/users/security").get_data(as_text=True)
    assert "lead@example.org" in everyone and "vol@example.org" in everyone
    only_vol = boss.get("/admin/users/security?email=vol@example.org").get_data(as_text=True)
    assert "10.2.2.2" in only_vol and "10.1.1.1" not in only_vol


def test_password_changes_links_and_ended_sessions_are_logged(app, make_user, db, login, run_jobs):
    user = make_user("volunteer", email="vol@example.org")
    admin = make_user("admin", email="boss@example.org")
    login_admin = app.test_client()
    from crm.auth.sessions import start

    with login_admin.session_transaction() as session:
        session["_user_id"] = start(admin)
    login_admin.post(f"/admin/users/{user.id}/sessions/end")
    login_admin.post(f"/admin/users/{user.id}/reset-password")
    app.test_client().post("/forgot-password", data={"email": "vol@example.org"})
    run_jobs()  # the forgotten-password job looks the address up
    assert kinds(db, user_id=user.id) == [
        "sessions_ended",
        "password_link_sent",
        "password_link_asked",
    ]
    page = login_admin.get(f"/admin/users/{user.id}/security").get_data(as_text=True)
    assert "Password link sent by an admin" in page and "by " + admin.name in page


def test_old_entries_go_with_the_housekeeping(app, make_user, db, run_jobs):
    user = make_user("lead")
    db.session.add(
        SecurityEvent(
            user_id=user.id,
            email=user.email,
            kind=SecurityEventKind.SIGNED_IN,
            at=utcnow() - timedelta(days=app.config["SECURITY_LOG_KEEP_DAYS"] + 1),
        )
    )
    db.session.add(
        SecurityEvent(user_id=user.id, email=user.email, kind=SecurityEventKind.SIGNED_OUT)
    )
    db.session.flush()
    from crm.core.housekeeping import HOUSEKEEPING
    from crm.core.jobs import enqueue

    enqueue(HOUSEKEEPING)
    db.session.flush()
    run_jobs()
    assert kinds(db, user_id=user.id) == ["signed_out"]
