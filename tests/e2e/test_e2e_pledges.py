"""A public pledge signed, confirmed by a lead, and a first progress report filed by the
organization's representative, who is invited by email."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def invitation_link(mail, address: str) -> str:
    """The link in the newest invitation mailed to `address`, once the worker has written it."""
    link = r"https?://\S*/invitation/\S+"
    body = mail(address, matching=link).get_body(preferencelist=("plain",)).get_content()
    return re.search(link, body).group(0)


def test_public_pledge_confirmed_then_first_report_filed(
    page, crm, mail, unique, screenshot, guide_screen
):
    suffix = unique()
    org = f"Harbour Textiles {suffix.capitalize()}"
    email = f"rashida.{suffix}@harbour.example.org"

    # The public: sign the pledge without an account.
    page.goto("/pledge/")
    page.get_by_label("Organization", exact=True).fill(org)
    page.get_by_label("Kind of organization").select_option(label="Supplier")
    page.get_by_label("Country (headquarters)").select_option(label="Bangladesh")
    page.get_by_label("First name").fill("Rashida")
    page.get_by_label("Last name").fill(f"Begum{suffix}")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("List our organization in the public directory of signatories").check()
    page.get_by_label("I am authorized to commit my organization").check()
    guide_screen("public-pledge-form")
    page.get_by_role("button", name="Sign the pledge").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your pledge is received")

    # A lead confirms it; the signatory is invited.
    page.goto("/login")
    crm.log_in()
    page.goto("/pledges/?standing=signed")
    page.get_by_role("link", name=org).click()
    guide_screen("lead-pledge-to-confirm")
    page.get_by_role("button", name="Confirm pledge").click()
    expect(page.get_by_role("alert").filter(has_text="now active")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="invited")).to_contain_text(email)
    screenshot("confirmed")

    # The representative accepts the invitation and files the first report.
    page.context.clear_cookies()
    page.goto(invitation_link(mail, email))
    password = f"harbour-loom-{suffix}"
    guide_screen("invitation")
    page.get_by_label("Choose a password").fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Save password and log in").click()
    expect(page).to_have_url(re.compile(r"/me/pledge/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(org)
    page.get_by_role("button", name="Start a progress report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Progress report")
    first = page.locator(".assessment").first
    first.get_by_label("Maturity").select_option(label="Implementing")
    first.get_by_label("Evidence links (one per line)").fill("https://harbour.example.org/helpline")
    first.get_by_label("Comment").fill("Helpline pilot in two factories")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert")).to_contain_text("Draft saved")
    expect(page.locator(".assessment").first.get_by_label("Comment")).to_have_value(
        "Helpline pilot in two factories"
    )
    guide_screen("rep-progress-report")
    page.get_by_role("button", name="Submit report").click()
    expect(page.get_by_role("alert")).to_contain_text("is submitted")
    expect(page.locator(".my-pledge .report-status").first).to_have_text("Submitted")
    screenshot("report-filed")
    guide_screen("rep-report-submitted")

    # The lead sees it on the pledge.
    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in()
    page.goto("/pledges/")
    page.get_by_role("link", name=org).click()
    expect(page.locator("#reports-table")).to_contain_text("Submitted")
