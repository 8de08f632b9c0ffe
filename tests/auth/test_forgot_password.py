"""'Forgot your password?': a link for an hour, once, the same answer for every address."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from crm.auth.sessions import start as start_session
from crm.core.db import utcnow
from tests.conftest import first_link

NEW = "blue kettle morning"


def ask(client, email, address="10.0.0.1"):
    return client.post(
        "/forgot-password", data={"email": email}, environ_base={"REMOTE_ADDR": address}
    )


def answer_of(response) -> str:
    """The page's answer, without the address it repeats."""
    page = response.get_data(as_text=True)
    start = page.index('id="link-sent"')
    return page[start : page.index("</div>", start)]


def test_a_known_address_gets_a_link_and_an_unknown_one_the_same_answer(client, make_user, outbox):
    make_user("lead", email="known@example.org")
    known = ask(client, "Known@Example.org ")
    unknown = ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert answer_of(known).replace("Known@Example.org", "X") == answer_of(unknown).replace(
        "nobody@example.org", "X"
    )
    [message] = outbox()  # only the account's owner gets mail
    assert message["To"] == "known@example.org"
    assert message["Subject"] == "Choose a new password"
    assert "works for 60 minutes, once" in message.get_payload(decode=True).decode()


def test_the_link_sets_a_new_password_once(app, client, make_user, outbox):
    make_user("volunteer", email="vol@example.org")
    ask(client, "vol@example.org")
    [message] = outbox()
    link = urlsplit(first_link(message, "/invitation/")).path
    browser = app.test_client()
    done = browser.post(link, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 302
    assert browser.get("/").status_code == 200  # signed in
    assert app.test_client().get(link).status_code == 400  # spent
    login = app.test_client().post("/login", data={"email": "vol@example.org", "password": NEW})
    assert login.status_code == 302


def test_asking_signs_nobody_out_and_a_newer_link_voids_the_older(app, client, make_user, outbox):
    user = make_user("lead", email="lead@example.org")
    signed_in = app.test_client()
    with signed_in.session_transaction() as session:
        session["_user_id"] = start_session(user)
    ask(client, "lead@example.org")
    ask(client, "lead@example.org")
    first, second = outbox()
    assert signed_in.get("/").status_code == 200  # anyone may ask: it must not sign you out
    old = urlsplit(first_link(first, "/invitation/")).path
    new = urlsplit(first_link(second, "/invitation/")).path
    assert app.test_client().get(old).status_code == 400
    assert app.test_client().get(new).status_code == 200


@pytest.mark.parametrize(
    ("how", "minutes_later", "works"),
    [
        ("forgot", 59, True),
        ("forgot", 61, False),
        ("admin", 23 * 60, True),
        ("admin", 25 * 60, False),
    ],
)
def test_links_expire_an_hour_or_a_day_after_they_are_sent(
    app, client, as_role, make_user, outbox, monkeypatch, how, minutes_later, works
):
    user = make_user("volunteer", email="late@example.org")
    if how == "forgot":
        ask(app.test_client(), "late@example.org")
    else:
        as_role("admin")
        client.post(f"/admin/users/{user.id}/reset-password")
    [message] = outbox()
    link = urlsplit(first_link(message, "/invitation/")).path
    later = utcnow() + timedelta(minutes=minutes_later)
    monkeypatch.setattr("crm.auth.invitations.utcnow", lambda: later)
    page = app.test_client().get(link)
    assert (page.status_code == 200) is works
    if not works:
        assert "This link has expired" in page.get_data(as_text=True)


def test_one_address_gets_at_most_a_few_links_an_hour(app, make_user, outbox):
    make_user("lead", email="spammed@example.org")
    limit = app.config["FORGOT_PER_ADDRESS_HOUR"]
    for i in range(limit + 2):  # from different networks: the cap is the mailbox's
        assert ask(app.test_client(), "spammed@example.org", f"10.0.1.{i}").status_code == 200
    assert len(outbox()) == limit


def test_one_network_address_is_refused_after_a_few_asks(app, client):
    from crm.auth.operations import FORGOT_PER_NETWORK_HOUR

    for i in range(FORGOT_PER_NETWORK_HOUR):
        assert ask(client, f"someone{i}@example.org").status_code == 200
    refused = ask(client, "one-more@example.org")
    assert refused.status_code == 429
    assert "Too many submissions from your network" in refused.get_data(as_text=True)
    assert ask(client, "one-more@example.org", "10.9.9.9").status_code == 200
