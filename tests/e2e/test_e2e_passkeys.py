"""Passkeys in the browser: Chromium's virtual authenticator (through the DevTools protocol)
plays a phone with a fingerprint reader. A person adds a passkey on their account page, signs
out, and signs in again from the login page without typing a password.

The server's base URL is http://127.0.0.1:PORT, and browsers refuse an IP address as a passkey's
site, so passkeys belong to http://localhost:PORT (crm.auth.passkeys.relying_party): the test
uses the app there, and checks that at 127.0.0.1 the page points there instead.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def virtual_authenticator(page) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_adding_a_passkey_and_signing_in_with_it_without_a_password(
    page, live_server, crm, accounts, screenshot, unique
):
    local = live_server.url.replace("127.0.0.1", "localhost")
    cdp, authenticator = virtual_authenticator(page)

    # At the address passkeys do not belong to, the login and account pages say where they work.
    page.goto(f"{live_server.url}/login")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()
    expect(page.get_by_role("link", name=local)).to_be_visible()
    crm.log_in(accounts.viewer_email, accounts.demo_password)
    page.goto(f"{live_server.url}/account/passkeys")
    expect(page.locator(".passkey-elsewhere")).to_be_visible()
    expect(page.get_by_role("button", name="Add a passkey")).to_be_hidden()

    # At localhost she adds one, named for her laptop.
    page.goto(f"{local}/login")
    crm.log_in(accounts.viewer_email, accounts.demo_password)
    page.goto(f"{local}/account/passkeys")
    name = unique("Laptop ")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Your password").fill(accounts.demo_password)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"Your passkey “{name}” is added.")
    row = page.locator("#passkeys tbody tr", has_text=name)
    expect(row).to_contain_text("Never")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"]
    shots = screenshot("account").parent

    # She renames it from the row's menu.
    row.get_by_text("Rename or remove").click()
    screenshot("rename")
    name = unique("Work laptop ")
    row.get_by_label("New name").fill(name)
    row.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"renamed “{name}”")

    # She signs out, and back in with the passkey: no email, no password.
    page.locator("a.dropdown-toggle[title]").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    passkey_button = page.get_by_role("button", name="Sign in with a passkey")
    expect(passkey_button).to_be_visible()
    screenshot("login")
    passkey_button.click()
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"/login"))

    # The account page shows the passkey used, and her security log the sign-in.
    page.goto(f"{local}/account/passkeys")
    expect(page.locator("#passkeys tbody tr", has_text=name)).not_to_contain_text("Never")
    page.goto(f"{local}/account/security")
    expect(page.locator("body")).to_contain_text("Signed in with a passkey")
    expect(page.locator("body")).to_contain_text("Passkey added")

    # An admin sees her passkey on her account's page, and removes it (a lost laptop).
    admin = page.context.browser.new_context(base_url=live_server.url).new_page()
    type(crm)(admin).log_in()  # the same steps, in the admin's browser
    admin.goto("/admin/users/")
    admin.locator("tr", has_text=accounts.viewer_email).get_by_role("link", name="Edit").click()
    expect(admin.locator("#passkey-count")).to_contain_text("1 passkey")
    admin.screenshot(path=shots / "passkeys-admin-user.png", full_page=True)
    admin.get_by_role("button", name=re.compile("passkeys$")).click()
    expect(admin.get_by_role("alert").first).to_contain_text("passkeys are removed (1)")
    expect(admin.locator("#passkey-count")).to_have_text("No passkeys.")
    admin.context.close()
