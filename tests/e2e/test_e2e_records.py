"""Creating an organization, a person there, and logging an engagement with them."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_create_an_organization_then_a_contact_there(page, crm, unique, screenshot, guide_screen):
    suffix = unique()
    org_name = f"Harbour Textiles {suffix.capitalize()}"
    crm.log_in()

    crm.create_organization(org_name, kind="Supplier")
    expect(page.locator(".kind")).to_have_text("Supplier")

    # The organization field is free text with suggestions; typing the exact name is enough.
    contact_id = crm.create_contact(
        "Amara", f"Okoye{suffix}", email=f"amara.{suffix}@example.org", organization=org_name
    )
    expect(page.get_by_role("alert")).to_contain_text(f"Amara Okoye{suffix} is saved.")
    expect(page.get_by_role("link", name=org_name)).to_be_visible()
    expect(page.get_by_role("link", name=f"amara.{suffix}@example.org")).to_be_visible()
    guide_screen("contact-saved")

    # The organization's page lists its new person.
    page.get_by_role("link", name=org_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(org_name)
    expect(page.locator(f'a[href="/contacts/{contact_id}"]')).to_have_text(f"Amara Okoye{suffix}")
    screenshot()
    guide_screen("organization-page")


def test_log_an_engagement_from_the_contact_page(page, crm, unique, screenshot, guide_screen):
    suffix = unique()
    org_name = f"Riverside Apparel {suffix.capitalize()}"
    summary = f"Introduced the WEST principles to the sourcing team {suffix}"
    crm.log_in()
    crm.create_organization(org_name)
    contact_id = crm.create_contact("Tomas", f"Reyes{suffix}", organization=org_name)
    timeline = page.locator(".card", has=page.locator(".card-header", has_text="Timeline"))
    expect(timeline).to_contain_text("Nothing yet.")

    page.get_by_role("link", name="Log engagement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log an engagement")
    # Prefilled from the contact: the person (a checked chip), their organization, today.
    chip = page.locator("#contact-chips input[name=contact_ids]")
    expect(chip).to_have_count(1)
    expect(chip).to_be_checked()
    expect(chip).to_have_value(str(contact_id))
    expect(page.locator("#contact-chips")).to_contain_text(f"Tomas Reyes{suffix}")
    expect(page.get_by_label("Organization")).to_have_value(org_name)
    expect(page.get_by_label("Date", exact=True)).to_have_value(date.today().isoformat())

    page.get_by_label("Kind").select_option(label="Listening session")
    page.get_by_label("Summary").fill(summary)
    page.get_by_label("What we heard").fill("Workers want payslips they can read on a phone.")
    guide_screen("engagement-form")
    page.get_by_role("button", name="Save engagement").click()

    expect(page.get_by_role("alert")).to_contain_text("The engagement is logged.")
    expect(page.get_by_role("heading", level=1)).to_have_text(summary)

    # Back on the contact's page, the engagement is on the timeline.
    page.get_by_role("link", name=f"Tomas Reyes{suffix}").click()
    expect(page).to_have_url(f"/contacts/{contact_id}")
    item = timeline.locator(".timeline-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Listening session")
    expect(item.get_by_role("link", name=summary)).to_be_visible()
    expect(item).to_contain_text("Workers want payslips they can read on a phone.")
    screenshot()
    guide_screen("contact-timeline")


def test_a_form_with_an_error_keeps_what_was_typed(page, crm, unique, screenshot, guide_screen):
    suffix = unique()
    crm.log_in()
    page.goto("/contacts/new")
    page.get_by_label("First name").fill("Keziah")
    page.get_by_label("Last name").fill(f"Mwangi{suffix}")
    page.get_by_label("Email", exact=True).fill("keziah-at-example.org")
    page.get_by_label("Job title").fill("Organizer")
    page.get_by_role("button", name="Save contact").click()

    expect(page.get_by_role("alert")).to_contain_text("Please correct the highlighted fields.")
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#email ~ .invalid-feedback")).to_contain_text("@")
    expect(page.get_by_label("First name")).to_have_value("Keziah")
    expect(page.get_by_label("Last name")).to_have_value(f"Mwangi{suffix}")
    expect(email).to_have_value("keziah-at-example.org")
    expect(page.get_by_label("Job title")).to_have_value("Organizer")
    screenshot("error")
    guide_screen("form-error")

    # Correcting only the email is enough to save.
    email.fill(f"keziah.{suffix}@example.org")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Keziah Mwangi{suffix}")
    expect(page.get_by_role("alert")).to_contain_text("is saved.")
    screenshot()
