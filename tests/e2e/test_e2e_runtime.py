"""`make run` as a new user meets it: a lead sends a campaign from its page, and the worker that
`make run` started beside the web server sends it, with nothing started by hand. The emails'
links point at the port the server really listens on (a free one here, never 5000)."""

from __future__ import annotations

from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LEAD_EMAIL = "lead@example.org"


def add_consenting_contact(page, first: str, last: str, email: str, tag: str) -> None:
    page.goto("/contacts/new")
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Tags").fill(tag)
    page.get_by_label("Email consent").select_option(label="Agreed")
    page.get_by_label("Consent source").fill("asked at the runtime workshop")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")


def test_a_lead_sends_a_campaign_and_the_worker_make_run_started_delivers_it(
    page, crm, mail, accounts, live_server, unique, screenshot
):
    tag = unique("run")
    people = {
        f"noor.{tag}@example.org": ("Noor", f"Haddad{tag}"),
        f"ines.{tag}@example.org": ("Ines", f"Moreau{tag}"),
        f"kofi.{tag}@example.org": ("Kofi", f"Mensah{tag}"),
    }
    crm.log_in(LEAD_EMAIL, accounts.demo_password)
    for address, (first, last) in people.items():
        add_consenting_contact(page, first, last, address, tag)

    page.goto("/campaigns/segments/new")
    page.get_by_label("Tags").select_option(tag)
    expect(page.get_by_test_id("segment-count")).to_have_text("3")
    page.get_by_label("Name", exact=True).fill(f"Runtime {tag}")
    page.get_by_role("button", name="Save segment").click()
    page.get_by_role("link", name="New campaign to it").click()
    page.get_by_label("Name", exact=True).fill(f"Hello {tag}")
    page.get_by_label("Purpose").select_option(label="Awareness")
    page.get_by_label("Subject").fill("Hello {{ first_name }}")
    page.get_by_label("Message").fill("Dear {{ first_name }},\n\nWelcome to the community.\n")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_test_id("would-send")).to_have_text("3")

    files_before = set(live_server.mail_dir.glob("*.eml"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("alert").filter(has_text="Queued for 3 recipients")).to_be_visible()

    # Nothing started by hand: the page soon shows the campaign sent.
    badge = page.locator("h1 .badge")
    crm.reload_until(lambda: badge.inner_text().strip() == "Sent", "the campaign sent")
    expect(page.get_by_test_id("stat-sent")).to_have_text("3")
    screenshot("sent")

    for address, (first, _last) in people.items():
        message = mail(address)
        assert message["Subject"] == f"Hello {first}"
        assert f"Dear {first}," in message.get_body(preferencelist=("plain",)).get_content()
        # Rendered by the worker, outside any request: the link still names this server.
        link = urlsplit(message["List-Unsubscribe"].strip("<>"))
        assert f"{link.scheme}://{link.netloc}" == live_server.url
    # One .eml file each under the instance's mail folder, nobody mailed twice.
    written = set(live_server.mail_dir.glob("*.eml")) - files_before
    recipients = [
        message_from_bytes(path.read_bytes(), policy=policy.default)["To"] for path in written
    ]
    assert sorted(r for r in recipients if r in people) == sorted(people)
