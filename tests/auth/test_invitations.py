from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa

from crm.auth.models import User
from crm.auth.sessions import start as start_session
from tests.conftest import first_link


def invite(client, **data):
    payload = {"email": "new.person@example.org", "name": "New Person", "role": "volunteer"}
    payload.update(data)
    return client.post("/admin/users/new", data=payload)


def test_admin_invites_and_the_person_sets_a_password(client, as_role, outbox, db, app):
    as_role("admin")
    response = invite(client)
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "new.person@example.org"))
    assert user is not None and not user.has_password

    [message] = outbox()
    assert message["To"] == "new.person@example.org"
    link = urlsplit(first_link(message, "/invitation/"))

    fresh = app.test_client()
    page = fresh.get(link.path)
    assert "Choose a password" in page.get_data(as_text=True)
    done = fresh.post(
        link.path, data={"password": "a fine kettle tune", "confirm": "a fine kettle tune"}
    )
    assert done.status_code == 302
    assert fresh.get("/").status_code == 200
    assert user.check_password("a fine kettle tune")

    # The link works once.
    again = app.test_client().get(link.path)
    assert again.status_code in (302, 400)


def test_tampered_and_expired_invitations_are_refused(client, as_role, outbox, app):
    as_role("admin")
    invite(client)
    link = urlsplit(first_link(outbox()[0], "/invitation/")).path
    tampered = app.test_client().get(link[:-3] + "abc")
    assert tampered.status_code == 400
    assert "not valid" in tampered.get_data(as_text=True)

    app.config["INVITATION_MAX_AGE_SECONDS"] = -1
    try:
        expired = app.test_client().get(link)
        assert expired.status_code == 400
        assert "expired" in expired.get_data(as_text=True)
    finally:
        app.config["INVITATION_MAX_AGE_SECONDS"] = 7 * 24 * 3600


def test_resending_an_invitation_voids_the_old_link(client, as_role, outbox, db, app):
    as_role("admin")
    invite(client)
    old = urlsplit(first_link(outbox()[0], "/invitation/")).path
    user = db.session.scalar(sa.select(User).where(User.email == "new.person@example.org"))
    assert client.post(f"/admin/users/{user.id}/invite").status_code == 302
    new = [m for m in outbox()]
    assert len(new) == 2
    assert app.test_client().get(old).status_code == 400
    newest = urlsplit(first_link(new[-1], "/invitation/")).path
    assert app.test_client().get(newest).status_code == 200


def test_invitation_form_errors_keep_input_and_save_nothing(client, as_role, make_user, db):
    as_role("admin")
    make_user(email="taken@example.org")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    for data, message in [
        ({"email": "not-an-email"}, "email address"),
        ({"email": "Taken@Example.org"}, "already an account"),
        ({"role": "champion"}, "must be linked to their contact"),
        ({"role": "org_rep", "organization": "Nowhere Org"}, "There is no organization named"),
        ({"role": "org_rep"}, "must be linked to an organization"),
        ({"role": "champion", "contact_email": "nobody@example.org"}, "no contact with this email"),
    ]:
        response = invite(client, **data)
        text = response.get_data(as_text=True)
        assert message in text, (data, text[:2000])
        assert 'value="New Person"' in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_admin_cannot_demote_or_deactivate_themselves(client, as_role):
    admin = as_role("admin")
    response = client.post(
        f"/admin/users/{admin.id}/edit",
        data={"name": admin.name, "role": "viewer", "active": "y", "email": admin.email},
        follow_redirects=True,
    )
    assert "cannot change your own role" in response.get_data(as_text=True)
    assert admin.role == "admin"


def test_deactivating_a_user_signs_them_out(client, as_role, make_user, app):
    victim = make_user("volunteer")
    other = app.test_client()
    with other.session_transaction() as s:
        s["_user_id"] = start_session(victim)
    assert other.get("/").status_code == 200
    as_role("admin")
    response = client.post(
        f"/admin/users/{victim.id}/edit",
        data={"name": victim.name, "role": "volunteer", "email": victim.email},
    )
    assert response.status_code == 302
    assert not victim.active
    assert other.get("/").status_code == 302


def test_create_user_cli(runner, db):
    result = runner.invoke(
        args=[
            "crm",
            "create-user",
            "--email",
            "Cli@Example.org",
            "--name",
            "Cli User",
            "--role",
            "lead",
            "--password",
            "long enough pw",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "cli@example.org"))
    assert user.check_password("long enough pw") and user.role == "lead"
    dup = runner.invoke(
        args=[
            "crm",
            "create-user",
            "--email",
            "cli@example.org",
            "--name",
            "X",
            "--password",
            "long enough pw",
        ]
    )
    assert dup.exit_code != 0 and "already an account" in dup.output


def test_create_user_cli_invite(runner, db, outbox):
    result = runner.invoke(
        args=["crm", "create-user", "--email", "inv@example.org", "--name", "Inv", "--invite"]
    )
    assert result.exit_code == 0, result.output
    assert outbox()[0]["To"] == "inv@example.org"


def test_linking_a_champion_and_a_representative(client, as_role, make_contact, make_org, db):
    as_role("admin")
    contact = make_contact("Chipo", "Moyo", email="chipo@example.org")
    org = make_org("Bluebird Apparel")
    assert (
        invite(
            client, email="c@example.org", role="champion", contact_email="Chipo@Example.org"
        ).status_code
        == 302
    )
    assert (
        invite(
            client, email="r@example.org", role="org_rep", organization="bluebird apparel"
        ).status_code
        == 302
    )
    champion = db.session.scalar(sa.select(User).where(User.email == "c@example.org"))
    rep = db.session.scalar(sa.select(User).where(User.email == "r@example.org"))
    assert champion.contact_id == contact.id and rep.organization_id == org.id
    page = client.get(f"/admin/users/{rep.id}/edit").get_data(as_text=True)
    assert 'value="Bluebird Apparel"' in page


def test_admin_sends_a_password_reset_that_lifts_a_lockout(client, as_role, make_user, outbox, app):
    locked = make_user("volunteer", email="locked@example.org")
    anonymous = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        anonymous.post("/login", data={"email": "locked@example.org", "password": "nope"})
    assert (
        anonymous.post(
            "/login", data={"email": "locked@example.org", "password": "correct horse battery"}
        ).status_code
        == 429
    )

    as_role("admin")
    assert client.post(f"/admin/users/{locked.id}/reset-password").status_code == 302
    [message] = outbox()
    assert message["Subject"] == "Choose a new password"
    link = urlsplit(first_link(message, "/invitation/")).path

    fresh = app.test_client()
    same = fresh.post(
        link, data={"password": "correct horse battery", "confirm": "correct horse battery"}
    )
    assert "different from your old one" in same.get_data(as_text=True)
    weak = fresh.post(link, data={"password": "password123456", "confirm": "password123456"})
    assert "too easy to guess" in weak.get_data(as_text=True)
    done = fresh.post(
        link, data={"password": "blue kettle morning", "confirm": "blue kettle morning"}
    )
    assert done.status_code == 302
    # The lockout is lifted and the new password works; the link is spent.
    again = app.test_client()
    assert (
        again.post(
            "/login", data={"email": "locked@example.org", "password": "blue kettle morning"}
        ).status_code
        == 302
    )
    assert app.test_client().get(link).status_code == 400


def test_invite_form_defaults_to_the_least_powerful_staff_role(client, as_role):
    as_role("admin")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert '<option selected value="volunteer">' in page
