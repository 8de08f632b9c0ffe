"""A consultation in the browser: a lead opens a public consultation; a member of the public
answers part of it, saves, comes back through the emailed personal link and finishes; the lead
reads the summary and downloads the comments, the respondent anonymized."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LEAD_EMAIL = "lead@example.org"


def switch_user(page, crm, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in(email, password)


def personal_link(mail, address: str) -> str:
    link = r"https?://\S+/c/\d+/r/\S+"
    body = mail(address, matching=link).get_body(preferencelist=("plain",)).get_content()
    return re.search(link, body).group(0)


def test_the_public_answers_comes_back_to_finish_and_a_lead_downloads_the_summary(
    page, crm, accounts, unique, screenshot, mail, guide_screen
):
    title = f"1.0 review {unique()}"
    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)
    page.goto("/consultations/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Version consulted on").select_option(index=0)
    page.get_by_label("Opens on").fill(date.today().isoformat())
    page.get_by_label("Closes on").fill((date.today() + timedelta(days=14)).isoformat())
    page.get_by_label("Who answers").select_option(label="Public")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    consultation_id = re.search(r"/consultations/(\d+)$", page.url).group(1)

    # A member of the public, not logged in, answers one principle and saves for later.
    page.context.clear_cookies()
    email = f"{unique('rina')}@example.org".lower()
    page.goto(f"/c/{consultation_id}")
    page.get_by_label("Your name").fill("Rina Akter")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Organization", exact=True).fill("Gazipur Workers Union")
    page.get_by_label("Kind of organization").select_option(label="Worker organization / union")
    page.get_by_label("Country").select_option(label="Bangladesh")
    first = page.locator(".consultation-item").nth(0)
    first.get_by_label("Weakness").check()
    first.locator("textarea").fill("Too vague about who answers workers.")
    guide_screen("public-consultation")
    page.get_by_role("button", name="Save and finish later").click()
    expect(page.locator("#result-message")).to_contain_text(f"A link is on its way to {email}")

    # They come back through the emailed link, see their answer, and finish.
    link = personal_link(mail, email)
    page.goto(link)
    first = page.locator(".consultation-item").nth(0)
    expect(first.locator("textarea")).to_have_value("Too vague about who answers workers.")
    expect(first.get_by_label("Weakness")).to_be_checked()
    second = page.locator(".consultation-item").nth(1)
    second.get_by_label("Strength").check()
    second.locator("textarea").fill("Inclusive design is right.")
    page.get_by_role("button", name="Submit my response").click()
    expect(page.locator("#result-message")).to_contain_text("your response is submitted")

    # The lead reads the summary and downloads the comments.
    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)
    page.goto(f"/consultations/{consultation_id}")
    expect(page.locator("#response-count")).to_have_text("1")
    expect(
        page.locator('#summary .consultation-split[aria-label^="0 strength, 1 weakness"]')
    ).to_have_count(1)
    expect(page.locator("body")).to_contain_text("Worker organization / union")
    guide_screen("lead-consultation-summary")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="XLSX").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    cells = [c.value for row in sheet.iter_rows() for c in row if c.value]
    assert "Too vague about who answers workers." in cells
    assert "Respondent 1" in cells and "Rina Akter" not in cells
    assert "Gazipur Workers Union" not in cells
    screenshot()
