"""The respondent's side of a consultation page: who they say they are on a personal link,
stable respondent numbers, answers typed on the public form for a known address, what the
messages say about the email, errors, and a post after closing."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from crm.consultations import operations, queries
from crm.consultations.models import Response


def tag(body: str, name: str) -> str:
    """The HTML tag of the input or select named so."""
    return re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', body).group(0)


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def invited(db, make_contact, make_org, make_segment, make_consultation, app):
    """An invitation consultation and one invited contact with their personal link path."""
    from crm.tags.operations import tags_from_names

    org = make_org("Team Recorded Org", kind="ngo", country="IN")
    contact = make_contact("Ina", "Recorded", email="ina@example.org", country="IN",
                           organization_id=org.id)  # fmt: skip
    contact.tags = tags_from_names(["advisory"])
    db.session.commit()
    consultation = make_consultation(access="invitation", segment=make_segment(["advisory"]))
    with app.test_request_context():
        token = operations.personal_token(consultation, contact)
    return consultation, contact, f"/c/{consultation.id}/r/{token}"


# --- 1. invited respondents say who they are ---------------------------------------------------


def test_an_invited_respondent_sees_about_you_prefilled_from_the_contact(client, invited):
    consultation, contact, path = invited
    body = client.get(path).get_data(as_text=True)
    assert "About you" in body
    assert 'value="Ina Recorded"' in body and 'value="Team Recorded Org"' in body
    assert '<option selected value="ngo">' in body and '<option selected value="IN">' in body
    assert "checked" not in tag(body, "named")  # not named unless they say so


def test_an_invited_respondent_corrects_their_details_and_consents_to_be_named(
    client, db, invited, answer_form, as_role
):
    consultation, contact, path = invited
    posted = client.post(
        path,
        data=answer_form(consultation, name="Ina Corrected", organization="Right Org",
                         organization_kind="worker_organization", country="BD", named="y",
                         email=None),
    )  # fmt: skip
    assert "result=submitted" in posted.headers["Location"]
    response = db.session.scalar(sa.select(Response))
    assert (response.name, response.organization, response.organization_kind.value,
            response.country, response.named) == (
        "Ina Corrected", "Right Org", "worker_organization", "BD", True)  # fmt: skip
    # The contact the team keeps is as it was.
    db.session.refresh(contact)
    assert (contact.full_name, contact.country, contact.organization.name) == (
        "Ina Recorded",
        "IN",
        "Team Recorded Org",
    )
    # Named in the export because they agreed, with the organization they gave.
    frame = queries.comments_frame(consultation)
    assert list(frame["Respondent"]) == ["Ina Corrected"]
    assert list(frame["Organization"]) == ["Right Org"]
    # The page, opened again, shows what they gave.
    body = client.get(path).get_data(as_text=True)
    assert 'value="Ina Corrected"' in body and 'value="Right Org"' in body
    assert "checked" in tag(body, "named")


def test_an_invited_respondent_who_does_not_consent_stays_anonymous(
    client, db, invited, answer_form
):
    consultation, contact, path = invited
    client.post(
        path,
        data=answer_form(
            consultation, name="Ina Recorded", organization="Team Recorded Org", email=None
        ),
    )
    frame = queries.comments_frame(consultation)
    assert list(frame["Respondent"]) == ["Respondent 1"] and list(frame["Organization"]) == [""]
    # Kind and country (not identifying on their own) count in the summary as given.
    summary = queries.summary(consultation)
    assert summary.by_kind == [("Worker organization / union", 1)]


def test_an_invited_respondent_must_give_a_name(client, db, invited, answer_form):
    consultation, contact, path = invited
    refused = client.post(path, data=answer_form(consultation, name="", email=None))
    assert refused.status_code == 422 and "Name is required" in refused.get_data(as_text=True)
    assert count(db, Response) == 0
