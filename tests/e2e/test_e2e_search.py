"""Finding a contact with the search box of the contact list."""

import re
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _search(page, text: str) -> None:
    box = page.get_by_role("searchbox", name="Search")
    box.fill(text)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/contacts/\?q=" + re.escape(quote_plus(text)) + "&"))
    expect(page.get_by_role("searchbox", name="Search")).to_have_value(text)


def test_find_a_contact_by_name_fragment_and_by_email(page, crm, unique, screenshot, guide_screen):
    suffix = unique()
    last = f"Adeyemi{suffix}"
    email = f"funmi.{suffix}@example.org"
    crm.log_in()
    contact_id = crm.create_contact("Funmilayo", last, email=email)
    link = page.locator("#contacts-table tbody a.fw-medium")

    page.goto("/contacts/")
    # A piece from the middle of the last name, typed in capitals.
    _search(page, f"YEMI{suffix[:5].upper()}")
    expect(link).to_have_count(1)
    expect(link).to_have_text(f"Funmilayo {last}")
    screenshot("by-name")
    guide_screen("contacts-search")

    _search(page, email)
    expect(link).to_have_count(1)
    expect(link).to_have_text(f"Funmilayo {last}")
    expect(page.locator("#contacts-table tbody")).to_contain_text(email)

    link.click()
    expect(page).to_have_url(f"/contacts/{contact_id}")
    page.go_back()

    _search(page, f"nobody-{suffix}")
    expect(link).to_have_count(0)
    expect(page.locator("#contacts-table tbody")).to_contain_text(
        "No contact matches these filters."
    )
    screenshot()
