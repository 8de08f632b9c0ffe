"""A person's account in the browser: signing out another browser of theirs, and a forgotten
password reset by the link it emails."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LINK = r"https?://\S*/invitation/\S+"


def link_in(mail, address: str, matching: str) -> str:
    body = mail(address, matching=matching).get_body(preferencelist=("plain",)).get_content()
    return re.search(LINK, body).group(0)


def choose_password(page, password: str) -> None:
    page.get_by_label("Choose a password").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Save password and log in").click()
    expect(page.get_by_role("button", name="Save password and log in")).to_have_count(0)


def test_signing_out_another_browser_and_resetting_a_forgotten_password(
    page, browser, live_server, crm, mail, unique
):
    suffix = unique()
    email = f"amara.{suffix}@example.org"

    # An admin invites a volunteer; she chooses a password in her own browser.
    crm.log_in()
    page.goto("/admin/users/new")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name").fill(f"Amara Njoku {suffix}")
    page.get_by_label("Role").select_option(label="Working-group volunteer")
    page.get_by_role("button", name="Create and send invitation").click()
    expect(page.get_by_role("alert").first).to_contain_text(email)

    desk = browser.new_context(base_url=live_server.url).new_page()
    desk.goto(link_in(mail, email, LINK))
    first_password = f"maple-lantern-{secrets.token_hex(3)}"  # not her name
    choose_password(desk, first_password)

    # She also signs in on her phone.
    phone_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
    phone = browser.new_context(base_url=live_server.url, user_agent=phone_agent).new_page()
    phone.goto("/login")
    phone.get_by_label("Email").fill(email)
    phone.get_by_label("Password", exact=True).fill(first_password)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("button", name="Log in")).to_have_count(0)

    # At her desk she sees both, and signs the phone out.
    desk.goto("/")
    desk.get_by_role("button", name=re.compile("Amara Njoku")).click()
    desk.get_by_role("link", name="Where you're signed in").click()
    sessions = desk.locator("#sessions tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="This browser")).to_have_count(1)
    expect(sessions.filter(has_text="Safari on iPhone")).to_have_count(1)
    sessions.filter(has_text="Safari on iPhone").get_by_role(
        "button", name=re.compile("Sign out")
    ).click()
    expect(desk.get_by_role("alert")).to_contain_text("That session is signed out")
    expect(desk.locator("#sessions tbody tr")).to_have_count(1)
    phone.goto("/contacts/")
    expect(phone).to_have_url(re.compile(r"/login"))

    # On the phone she has forgotten her password: a link by email sets a new one.
    phone.get_by_role("link", name="Forgot your password?").click()
    phone.get_by_label("Your email address").fill(email)
    phone.get_by_role("button", name="Send me a link").click()
    expect(phone.locator("#link-sent")).to_contain_text("works for 60 minutes")
    phone.goto(link_in(mail, email, "60 minutes"))
    choose_password(phone, f"copper-meadow-{secrets.token_hex(3)}")
    expect(phone.get_by_role("heading", level=1)).to_be_visible()

    # A new password ends every other session: the desk is signed out.
    desk.goto("/contacts/")
    expect(desk).to_have_url(re.compile(r"/login"))
    desk.context.close()
    phone.context.close()
