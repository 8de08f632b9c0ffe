"""Champions and events in the browser: an endorsement from record to verification; a public
registration for a full event that is waitlisted, then promoted; check-in at the door."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CHAMPION_EMAIL = "champion@example.org"  # demo champion account, linked to an active champion
LEAD_EMAIL = "lead@example.org"


def switch_user(page, crm, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in(email, password)


def test_a_champion_records_an_endorsement_and_a_lead_verifies_it(
    page, crm, accounts, unique, screenshot, guide_screen
):
    title = f"Keynote on worker voice {unique()}"
    switch_user(page, crm, CHAMPION_EMAIL, accounts.demo_password)
    # A champion lands on their own page.
    expect(page).to_have_url(re.compile(r"/me/champion/$"))
    page.get_by_role("link", name="Record an endorsement").first.click()
    page.get_by_label("Kind").select_option(label="Talk")
    page.get_by_label("What it was").fill(title)
    page.get_by_label("Link").fill("https://forum.example.org/keynote")
    page.get_by_label("Audience reach").fill("350")
    page.get_by_label("P3 · Build Trust with Workers").check()
    guide_screen("champion-endorsement-form")
    page.get_by_role("button", name="Save endorsement").click()
    expect(page.get_by_role("alert")).to_contain_text("the team will review it")
    mine = page.locator(".endorsement-item", has_text=title)
    expect(mine).to_contain_text("Awaiting review")

    switch_user(page, crm, LEAD_EMAIL, accounts.demo_password)
    page.goto("/champions/endorsements/review")
    card = page.locator(".review-card", has_text=title)
    expect(card).to_contain_text("P3")
    guide_screen("lead-endorsement-review")
    card.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Verified: {title}.")
    expect(page.locator(".review-card", has_text=title)).to_have_count(0)

    switch_user(page, crm, CHAMPION_EMAIL, accounts.demo_password)
    expect(page.locator(".endorsement-item", has_text=title)).to_contain_text("Verified")
    screenshot()
    guide_screen("champion-profile")


def create_public_event(page, name: str, capacity: int) -> str:
    """Creates a public event through the form; returns its staff page URL."""
    start = date.today() + timedelta(days=21)
    page.goto("/events/new")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Kind").select_option(label="Workshop")
    page.get_by_label("Capacity").fill(str(capacity))
    page.get_by_label("Starts").fill(f"{start.isoformat()}T10:00")
    page.get_by_label("Ends").fill(f"{start.isoformat()}T12:00")
    page.get_by_label("Time zone").fill("Asia/Dhaka")
    page.get_by_label("Public: anyone can register on its public page").check()
    page.get_by_role("button", name="Save event").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url


def register_publicly(page, public_url: str, first: str, last: str, email: str) -> None:
    page.goto(public_url)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Organization").fill("Sunrise Knitwear")
    page.get_by_role("button", name="Register").click()


def test_the_public_is_waitlisted_for_a_full_event_then_promoted(
    page, crm, unique, screenshot, guide_screen
):
    suffix = unique()
    name = f"Secure grievance channels workshop {suffix}"
    crm.log_in()
    staff_url = create_public_event(page, name, capacity=1)
    public_url = page.locator("#public-link").get_attribute("href")

    page.context.clear_cookies()  # the public has no account
    register_publicly(page, public_url, "Rahima", f"First{suffix}", f"first.{suffix}@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are registered")
    register_publicly(page, public_url, "Karim", f"Second{suffix}", f"second.{suffix}@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are on the waitlist")
    screenshot("waitlisted")
    guide_screen("public-event-waitlisted")

    page.goto("/login")
    crm.log_in()
    page.goto(staff_url)
    expect(page.locator("#waitlist")).to_contain_text(f"Karim Second{suffix}")
    page.get_by_role("button", name=f"Cancel Rahima First{suffix}").click()
    expect(page.get_by_role("alert").filter(has_text="Promoted")).to_contain_text(
        f"Promoted from the waitlist: Karim Second{suffix}"
    )
    row = page.locator("#participants-table tr", has_text=f"Karim Second{suffix}")
    expect(row.locator(".participation")).to_have_text("Registered")
    expect(page.locator("#waitlist")).to_have_count(0)
    screenshot("promoted")
    guide_screen("lead-event-promoted")


def test_check_in_an_attendee_at_the_door(page, crm, accounts, unique, screenshot, guide_screen):
    suffix = unique()
    name = f"Dhaka roundtable {suffix}"
    crm.log_in()
    staff_url = create_public_event(page, name, capacity=20)
    public_url = page.locator("#public-link").get_attribute("href")
    page.context.clear_cookies()
    register_publicly(page, public_url, "Nusrat", f"Akter{suffix}", f"nusrat.{suffix}@example.org")
    register_publicly(page, public_url, "Imran", f"Hossain{suffix}", f"imran.{suffix}@example.org")

    # A working-group volunteer runs the door.
    page.goto("/login")
    crm.log_in("volunteer@example.org", accounts.demo_password)
    page.goto(staff_url)
    page.get_by_role("link", name="Check-in").click()
    page.wait_for_load_state()  # the page's script filters as you type
    expect(page.locator("#attended-count")).to_have_text("0")
    page.get_by_label("Find a participant").fill(f"nusrat akter{suffix}")
    expect(page.locator(".check-in-row:visible")).to_have_count(1)
    page.get_by_role("button", name=f"Check in Nusrat Akter{suffix}").click()
    row = page.locator(".check-in-row", has_text=f"Nusrat Akter{suffix}")
    expect(row.locator(".participation")).to_have_text("Attended")
    expect(page.locator("#attended-count")).to_have_text("1")
    # The search is cleared for the next person, and the check-in is saved.
    expect(page.get_by_label("Find a participant")).to_have_value("")
    page.reload()
    expect(
        page.locator(".check-in-row", has_text=f"Nusrat Akter{suffix}").locator(".participation")
    ).to_have_text("Attended")
    expect(
        page.locator(".check-in-row", has_text=f"Imran Hossain{suffix}").locator(".participation")
    ).to_have_text("Registered")
    screenshot()
    guide_screen("volunteer-check-in")
