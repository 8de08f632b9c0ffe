"""What a viewer (board member, funder) sees: the adoption report, and nothing else."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_viewer_cannot_reach_contacts(page, crm, accounts, screenshot):
    crm.log_in(accounts.viewer_email, accounts.demo_password)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Adoption report")
    nav = page.locator("#mainnav")
    expect(nav.get_by_role("link", name="Report")).to_be_visible()
    expect(nav.get_by_role("link", name="Contacts")).to_have_count(0)
    expect(nav.get_by_role("link", name="Organizations")).to_have_count(0)

    for path in ("/contacts/", "/contacts/new", "/organizations/"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
        expect(page.locator("main")).to_contain_text(
            "Your account does not have access to this page."
        )
    screenshot()
