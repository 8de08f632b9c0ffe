"""The Jobs page in a browser: an admin finds it in the Admin menu and filters by kind."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_an_admin_opens_the_jobs_page_and_filters_by_kind(
    page, crm, accounts, screenshot, guide_screen
):
    crm.log_in(accounts.admin_email, accounts.admin_password)
    page.locator("#admin-menu").click()
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    guide_screen("admin-jobs")
    tabs = page.locator("#status-tabs")
    for name in ("Overview", "Running", "Waiting", "Failed", "Done in the last day"):
        expect(tabs.get_by_role("link", name=re.compile(name))).to_be_visible()

    page.get_by_label("Kind").select_option(label="Email")  # applies at once
    expect(page).to_have_url(re.compile(r"/jobs/\?kind=mail\.send$"))
    tabs.get_by_role("link", name=re.compile("Failed")).click()
    expect(page).to_have_url(re.compile(r"status=failed&kind=mail\.send"))
    expect(page.get_by_label("Kind")).to_have_value("mail.send")
    screenshot()
