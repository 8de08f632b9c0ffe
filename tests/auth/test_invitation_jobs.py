"""Invitations and password links are jobs queued with the change that causes them: a refused
or failed request leaves no job and sends nothing; a committed one leaves exactly its email,
which the worker sends. The page says only what it can know."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.auth.models import User


def _user(db, email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.email == email))


def _invite(client, **data):
    payload = {"email": "new.person@example.org", "name": "New Person", "role": "volunteer"}
    payload.update(data)
    return client.post("/admin/users/new", data=payload, follow_redirects=True)


def test_an_invitation_is_queued_with_the_account_and_sent_by_the_worker(
    client, as_role, db, queued_mail, outbox
):
    as_role("admin")
    page = _invite(client).get_data(as_text=True)
    assert "An invitation is on its way to new.person@example.org." in page
    assert queued_mail() == [("new.person@example.org", "Your WEST Advocacy CRM account")]
    [message] = outbox()
    assert message["To"] == "new.person@example.org"
    assert (
        "has invited you to WEST Advocacy CRM as working-group volunteer" in message.get_content()
    )


def test_a_refused_invitation_queues_nothing(client, as_role, make_user, db, queued_mail, outbox):
    as_role("admin")
    make_user(email="taken@example.org")
    response = _invite(client, email="Taken@Example.org")
    assert "already an account" in response.get_data(as_text=True)
    assert queued_mail() == [] and outbox() == []


def test_an_invitation_whose_request_fails_queues_nothing(
    client, as_role, db, queued_mail, outbox, monkeypatch
):
    """The account and its invitation were written, then the page broke before answering: the
    request rolls back, and with it the account and the email."""
    from crm.auth import admin as views

    def broken(user):
        raise RuntimeError("the page broke after the operation")

    monkeypatch.setattr(views, "_invitation_on_its_way", broken)
    as_role("admin")
    with pytest.raises(RuntimeError):
        _invite(client)
    assert _user(db, "new.person@example.org") is None
    assert queued_mail() == [] and outbox() == []


def test_inviting_again_queues_one_more_and_a_refusal_none(
    client, as_role, make_user, db, queued_mail
):
    as_role("admin")
    _invite(client)
    user = _user(db, "new.person@example.org")
    page = client.post(f"/admin/users/{user.id}/invite", follow_redirects=True)
    assert "An invitation is on its way to new.person@example.org." in page.get_data(as_text=True)
    assert len(queued_mail()) == 2
    has_password = make_user(email="set@example.org")
    page = client.post(f"/admin/users/{has_password.id}/invite", follow_redirects=True)
    assert "has already set a password" in page.get_data(as_text=True)
    assert len(queued_mail()) == 2


def test_a_password_reset_is_queued_and_a_refused_one_is_not(
    client, as_role, make_user, db, queued_mail, outbox
):
    as_role("admin")
    inactive = make_user("volunteer", email="gone@example.org", active=False)
    page = client.post(f"/admin/users/{inactive.id}/reset-password", follow_redirects=True)
    assert "is deactivated" in page.get_data(as_text=True)
    token_before = _user(db, "gone@example.org").session_token
    assert queued_mail() == []

    active = make_user("volunteer", email="here@example.org")
    page = client.post(f"/admin/users/{active.id}/reset-password", follow_redirects=True)
    assert "A password reset link is on its way to here@example.org." in page.get_data(as_text=True)
    assert queued_mail() == [("here@example.org", "Choose a new password")]
    assert [m["To"] for m in outbox()] == ["here@example.org"]
    assert _user(db, "gone@example.org").session_token == token_before  # nothing changed


def test_the_command_line_queues_the_invitation_with_the_account(runner, db, queued_mail, outbox):
    refused = runner.invoke(
        args=["crm", "create-user", "--email", "not-an-email", "--name", "X", "--invite"]
    )
    assert refused.exit_code != 0 and queued_mail() == []

    result = runner.invoke(
        args=["crm", "create-user", "--email", "cli@example.org", "--name", "Cli", "--invite"]
    )
    assert result.exit_code == 0, result.output
    assert "the invitation is queued and goes out as soon as a worker runs" in result.output
    assert queued_mail() == [("cli@example.org", "Your WEST Advocacy CRM account")]
    [message] = outbox()
    assert "You are invited to WEST Advocacy CRM as advocacy lead" in message.get_content()
