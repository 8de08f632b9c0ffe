"""The pages the role guides in docs/guides/ walk through, reached as each guide says: from where
each role lands after logging in, through the menus. Other browser tests take the guides' other
pictures at the moments they show (a form filled in, a report submitted)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LEAD_EMAIL = "lead@example.org"  # the demo accounts `flask crm bootstrap` creates
VOLUNTEER_EMAIL = "volunteer@example.org"
REP_EMAIL = "rep@example.org"


def heading(page):
    return page.get_by_role("heading", level=1)


def nav_link(page, name: str):
    return page.locator("#mainnav").get_by_role("link", name=name, exact=True)


def test_a_lead_reaches_the_pages_of_the_lead_guide(page, crm, accounts, guide_screen):
    crm.log_in(LEAD_EMAIL, accounts.demo_password)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(heading(page)).to_have_text("Good to see you, Lena")
    guide_screen("lead-dashboard")

    nav_link(page, "Champions").click()
    expect(heading(page)).to_have_text("Champions")
    expect(page.locator("main")).to_contain_text("Identified")
    guide_screen("lead-champion-board")
    page.get_by_role("link", name="Conversion & leaderboard").click()
    expect(page).to_have_url(re.compile(r"/champions/figures"))
    guide_screen("lead-champion-figures")

    nav_link(page, "Events").click()
    expect(heading(page)).to_have_text("Events")
    guide_screen("lead-events")

    nav_link(page, "Pledges").click()
    expect(heading(page)).to_have_text("Adoption pledges")
    guide_screen("lead-pledges")
    page.get_by_role("link", name="Progress by principle").click()
    expect(heading(page)).to_contain_text("Progress by principle")
    guide_screen("lead-pledge-progress")

    nav_link(page, "Consultations").click()
    expect(heading(page)).to_have_text("Consultations")
    guide_screen("lead-consultations")

    page.locator("#data-menu").click()
    page.get_by_role("link", name="Duplicates").click()
    expect(heading(page)).to_have_text("Likely duplicates")
    guide_screen("lead-duplicates")


def test_a_volunteer_reaches_their_tasks_and_has_no_data_menu(page, crm, accounts, guide_screen):
    crm.log_in(VOLUNTEER_EMAIL, accounts.demo_password)
    expect(heading(page)).to_have_text("Good to see you, Victor")
    expect(page.locator("#data-menu")).to_have_count(0)
    nav_link(page, "My tasks").click()
    expect(heading(page)).to_have_text("My tasks")
    guide_screen("volunteer-my-tasks")


def test_a_representative_lands_on_their_pledge(page, crm, accounts, guide_screen):
    crm.log_in(REP_EMAIL, accounts.demo_password)
    expect(page).to_have_url(re.compile(r"/me/pledge/$"))
    expect(page.get_by_role("button", name="Start a progress report")).to_be_visible()
    guide_screen("rep-pledge")
    nav_link(page, "Case studies").click()
    expect(heading(page)).to_have_text("My case studies")


def test_an_admin_reaches_users_standards_and_the_audit_trail(page, crm, accounts, guide_screen):
    crm.log_in(accounts.admin_email, accounts.admin_password)
    admin_menu = page.locator("#admin-menu")

    admin_menu.click()
    page.get_by_role("link", name="Users and invitations").click()
    expect(heading(page)).to_have_text("Users and invitations")
    expect(page.locator("main")).to_contain_text(LEAD_EMAIL)
    guide_screen("admin-users")
    page.get_by_role("link", name="Invite a user").click()
    expect(heading(page)).to_have_text("Invite a user")
    guide_screen("admin-invite")

    admin_menu.click()
    page.get_by_role("link", name="Standards and principles").click()
    expect(heading(page)).to_have_text("Standards and principles")
    guide_screen("admin-standards")

    admin_menu.click()
    page.get_by_role("link", name="Audit trail").click()
    expect(heading(page)).to_have_text("Audit trail")
    guide_screen("admin-audit")


def test_the_public_reads_the_directory_and_the_lessons_without_an_account(page, guide_screen):
    page.goto("/pledge/directory")
    expect(heading(page)).to_have_text("Signatories of the WEST Principles")
    guide_screen("public-directory")
    page.goto("/learn/")
    expect(heading(page)).to_have_text("Lessons from the community")
    guide_screen("public-lessons")
