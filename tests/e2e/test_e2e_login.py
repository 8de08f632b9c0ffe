"""Logging in through the browser."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_login_rejects_a_wrong_password_then_returns_to_the_page_asked_for(
    page, accounts, screenshot, guide_screen
):
    page.goto("/contacts/")
    expect(page).to_have_url("/login?next=%2Fcontacts%2F")
    expect(page.get_by_role("alert")).to_contain_text("Please log in to see that page.")

    page.get_by_label("Email").fill(accounts.admin_email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That email and password do not match an active account."
    )
    expect(page.get_by_label("Email")).to_have_value(accounts.admin_email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    screenshot("wrong-password")
    guide_screen("login")

    page.get_by_label("Password", exact=True).fill(accounts.admin_password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url("/contacts/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(page.locator("nav.navbar")).to_contain_text(accounts.admin_name)
    screenshot()
