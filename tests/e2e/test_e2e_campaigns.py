"""A campaign end to end: build a segment (its count updates as criteria change), compose,
preview, send; the worker started with the server sends it; the stats show it sent, and who it
went to (to the admin; a volunteer sees the figures only); a recipient unsubscribes from the
email they received, without logging in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def add_contact(page, first: str, last: str, email: str, tag: str) -> None:
    page.goto("/contacts/new")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Tags").fill(tag)
    page.get_by_label("Email consent").select_option(label="Agreed")
    page.get_by_label("Consent source").fill("signed up at the e2e workshop")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")


def test_segment_compose_send_stats_and_unsubscribe(
    page, crm, mail, unique, screenshot, guide_screen, accounts
):
    tag = unique("camp")
    first_email = f"ayesha.{tag}@example.org"
    crm.log_in()
    add_contact(page, "Ayesha", f"Rahman{tag}", first_email, tag)
    add_contact(page, "Tomas", f"Novak{tag}", f"tomas.{tag}@example.org", tag)

    # The builder: choosing the tag brings the count down to our two, without pressing a button.
    page.goto("/campaigns/segments/new")
    count = page.get_by_test_id("segment-count")
    expect(count).not_to_have_text("2")
    page.get_by_label("Tags").select_option(tag)
    expect(count).to_have_text("2")
    expect(page.locator("#segment-preview")).to_contain_text(f"Ayesha Rahman{tag}")
    page.get_by_label("Name", exact=True).fill(f"Workshop {tag}")
    guide_screen("lead-segment")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Workshop {tag}")

    # Compose: an unknown merge field is refused, then the right one saves.
    page.get_by_role("link", name="New campaign to it").click()
    page.get_by_label("Name", exact=True).fill(f"Invitation {tag}")
    page.get_by_label("Purpose").select_option(label="Awareness")
    page.get_by_label("Subject").fill("News for {{ first_name }}")
    page.get_by_label("Message").fill("Dear {{ frist_name }},\n\nThe principles are growing.\n")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("there is no merge field “frist_name”")).to_be_visible()
    page.get_by_label("Message").fill("Dear {{ first_name }},\n\nThe principles are growing.\n")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("is saved as a draft")).to_be_visible()
    expect(page.get_by_test_id("would-send")).to_have_text("2")
    guide_screen("lead-campaign-draft")

    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_test_id("preview-body")).to_contain_text("Dear ")
    expect(page.get_by_test_id("preview-subject")).to_contain_text("News for ")
    page.get_by_role("link", name="Back to the campaign").click()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("alert").filter(has_text="Queued for 2 recipients")).to_be_visible()

    # Nobody starts a worker: the one running beside the web server sends it.
    badge = page.locator("h1 .badge")
    crm.reload_until(lambda: badge.inner_text().strip() == "Sent", "the campaign sent")
    expect(page.get_by_test_id("stat-sent")).to_have_text("2")
    expect(page.locator("h1 .badge")).to_have_text("Sent")
    screenshot("sent")
    guide_screen("lead-campaign-sent")
    campaign_url = page.url

    # Who it went to is a page of its own, for leads and admins.
    page.get_by_test_id("recipients-link").click()
    expect(page.get_by_test_id("recipients")).to_contain_text(first_email)
    screenshot("recipients")

    # A volunteer sees how it went, not who it went to.
    page.context.clear_cookies()
    page.goto("/login")
    crm.log_in("volunteer@example.org", accounts.demo_password)
    page.goto(campaign_url)
    expect(page.get_by_test_id("stat-sent")).to_have_text("2")
    expect(page.get_by_test_id("recipients-hidden")).to_be_visible()
    expect(page.get_by_text(first_email)).to_have_count(0)
    screenshot("volunteer-campaign")
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_test_id("preview-blank")).to_be_visible()
    expect(page.get_by_text(f"Rahman{tag}")).to_have_count(0)
    screenshot("volunteer-preview")
    page.context.clear_cookies()

    # Ayesha unsubscribes from the email she received, without an account.
    message = mail(first_email)
    assert message["Subject"] == "News for Ayesha"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    page.context.clear_cookies()
    page.goto(urlsplit(link).path)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    screenshot("unsubscribed")
    guide_screen("public-unsubscribed")

    crm.log_in()
    page.goto(f"/contacts/?q=Rahman{tag}")
    page.get_by_role("link", name=f"Ayesha Rahman{tag}").first.click()
    expect(page.get_by_text("Withdrawn").first).to_be_visible()
