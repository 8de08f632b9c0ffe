"""A volunteer submits a case study; a lead publishes it; the public can read it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_volunteer_submits_a_case_study_and_a_lead_publishes_it(
    page, crm, accounts, unique, screenshot, guide_screen
):
    title = f"SMS grievance line {unique()}"
    crm.log_in("volunteer@example.org", accounts.demo_password)
    page.goto("/library/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Technology").select_option(label="SMS survey")
    page.get_by_label("Outcome").select_option(label="Mixed")
    page.get_by_label("Countries").fill("Bangladesh")
    page.get_by_label("P3 · Build Trust with Workers").check()
    page.get_by_label("What happened").fill("Workers used it, but replies came late.")
    page.get_by_label("Lessons").fill("Answer within a week or trust drops.")
    page.get_by_label("May be shared publicly").check()
    guide_screen("volunteer-case-study-form")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("alert")).to_contain_text("A lead will review your case study")
    expect(page.locator(".review-status")).to_have_text("Awaiting review")
    case_url = page.url

    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in("lead@example.org", accounts.demo_password)
    page.goto("/library/review")
    page.get_by_role("link", name=title).click()
    guide_screen("lead-case-study-review")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Published: {title}.")
    expect(page.locator(".review-status")).to_have_text("Published")
    screenshot("published")

    # The public page lists it, without an account.
    page.context.clear_cookies()
    case_id = re.search(r"/library/(\d+)", case_url).group(1)
    page.goto("/learn/")
    page.get_by_role("link", name=re.compile(re.escape(title))).click()
    expect(page).to_have_url(re.compile(rf"/learn/{case_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("main")).to_contain_text("Answer within a week or trust drops.")
