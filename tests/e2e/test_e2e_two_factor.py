"""Two-factor sign-in in the browser: setting up an authenticator app from the account page,
then signing in with a code from it, and with a recovery code."""

from __future__ import annotations

import re
import secrets
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

LINK = r"https?://\S*/invitation/\S+"


def link_in(mail, address: str) -> str:
    body = mail(address, matching=LINK).get_body(preferencelist=("plain",)).get_content()
    return re.search(LINK, body).group(0)


def log_out(page) -> None:
    page.goto("/")
    page.locator(".nav-user-name").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def password_step(page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/login/code$"))


def test_setting_up_two_factor_and_signing_in_with_a_code_and_a_recovery_code(
    page, browser, live_server, crm, mail, unique
):
    suffix = unique()
    email = f"kofi.{suffix}@example.org"
    password = f"harbour-violet-{secrets.token_hex(3)}"

    # An admin invites a volunteer, who chooses a password in a browser of his own.
    crm.log_in()
    page.goto("/admin/users/new")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Name").fill(f"Kofi Asante {suffix}")
    page.get_by_label("Role").select_option(label="Working-group volunteer")
    page.get_by_role("button", name="Create and send invitation").click()
    expect(page.get_by_role("alert").first).to_contain_text(email)

    me = browser.new_context(base_url=live_server.url).new_page()
    me.goto(link_in(mail, email))
    me.get_by_label("Choose a password").fill(password)
    me.get_by_label("Repeat the password").fill(password)
    me.get_by_role("button", name="Save password and log in").click()
    expect(me.get_by_role("button", name="Save password and log in")).to_have_count(0)

    # From the account menu he sets up his authenticator app with the key the page shows.
    me.locator(".nav-user-name").click()
    me.get_by_role("link", name="Two-factor sign-in").click()
    me.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(me.locator("svg.qr-code")).to_be_visible()
    secret = me.locator("#two-factor-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    me.get_by_label("Code from the app").fill(totp.now())
    me.screenshot(path=ARTIFACTS / "two-factor-setup.png", full_page=True)
    me.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(me.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    me.screenshot(path=ARTIFACTS / "two-factor-recovery-codes.png", full_page=True)
    codes = me.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    with me.expect_download() as download:
        me.get_by_role("link", name="Download as text").click()
    assert codes[0] in download.value.path().read_text()
    me.get_by_role("link", name="I have kept them").click()
    expect(me.locator("#two-factor-status")).to_contain_text("On")
    me.screenshot(path=ARTIFACTS / "two-factor-on.png", full_page=True)

    # Signing in now takes a code after the password. (The code used to turn it on works
    # only once: his app's next one, as it would show half a minute later.)
    log_out(me)
    password_step(me, email, password)
    me.screenshot(path=ARTIFACTS / "two-factor-code-step.png", full_page=True)
    me.get_by_label("Code").fill(totp.at(time.time() + 30))
    me.get_by_role("button", name="Sign in").click()
    expect(me.locator(".nav-user-name")).to_contain_text("Kofi Asante")

    # Without his phone, a recovery code signs him in once.
    log_out(me)
    password_step(me, email, password)
    me.get_by_label("Code").fill(codes[0])
    me.get_by_role("button", name="Sign in").click()
    expect(me.get_by_role("alert").first).to_contain_text("9 left")
    expect(me.locator(".nav-user-name")).to_contain_text("Kofi Asante")

    # The admin sees that he has two-factor sign-in on.
    page.goto("/admin/users/")
    expect(page.locator("tr", has_text=email)).to_contain_text("On")
    page.screenshot(path=ARTIFACTS / "two-factor-users.png", full_page=True)
    page.locator("tr", has_text=email).get_by_role("link", name="Edit").click()
    expect(page.get_by_role("button", name="Reset two-factor")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "two-factor-admin-user.png", full_page=True)
    me.context.close()
