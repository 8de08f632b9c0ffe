"""Answering a consultation: the public page, personal links, save and come back, one
response per person, closed consultations, forged posts, bots and floods."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.consultations.models import Answer, Response
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import responses as response_ops
from crm.contacts.models import ConsentStatus, Contact
from crm.core.errors import OperationError
from crm.core.flood import PublicSubmission
from tests.conftest import first_link


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_member_of_the_public_answers_and_gets_a_personal_link(
    client, db, make_consultation, answer_form, outbox
):
    consultation = make_consultation()
    page = client.get(f"/c/{consultation.id}")
    assert page.status_code == 200 and "P1" in page.get_data(as_text=True)
    response = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert response.status_code == 302 and "result=public" in response.headers["Location"]
    stored = db.session.scalar(sa.select(Response))
    assert stored.submitted_at is not None and stored.source == "public"
    assert stored.organization_kind.value == "worker_organization" and stored.country == "BD"
    assert stored.named is False
    assert [a.mark.value for a in stored.answers] == ["weakness"]
    contact = db.session.get(Contact, stored.contact_id)
    assert contact.email == "rina@example.org" and contact.first_name == "Rina"
    assert contact.consent_status is ConsentStatus.UNKNOWN  # answering is not consent to news
    (mail,) = outbox()
    assert mail["To"] == "rina@example.org"
    assert f"/c/{consultation.id}/r/" in first_link(mail, f"/c/{consultation.id}/r/")


def test_save_and_come_back_to_finish_then_a_second_submission_updates(
    client, db, make_consultation, answer_form, outbox
):
    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]
    saved = client.post(
        f"/c/{consultation.id}",
        data=answer_form(consultation, {f"p{p1.id}": ("strength", "Clear")}, action="save"),
    )
    assert "result=public" in saved.headers["Location"]
    response = db.session.scalar(sa.select(Response))
    assert response.submitted_at is None
    link = first_link(outbox()[0], f"/c/{consultation.id}/r/")
    path = link.split("localhost", 1)[-1]
    again = client.get(path)
    assert again.status_code == 200
    body = again.get_data(as_text=True)
    assert "Clear" in body and 'value="strength" checked' in body
    finished = client.post(
        path,
        data=answer_form(
            consultation,
            {f"p{p1.id}": ("strength", "Clear"), f"p{p2.id}": ("opportunity", "Add SMS")},
            email=None,
        ),
    )
    assert "result=submitted" in finished.headers["Location"]
    db.session.refresh(response)
    assert response.submitted_at is not None and len(response.answers) == 2
    # A second submission replaces the first and says so.
    second = client.post(
        path,
        data=answer_form(consultation, {f"p{p2.id}": ("weakness", "Changed my mind")}, email=None),
    )
    assert "result=updated" in second.headers["Location"]
    assert "replaced your earlier one" in client.get(second.headers["Location"]).get_data(
        as_text=True
    )
    db.session.refresh(response)
    assert count(db, Response) == 1 and response.submissions == 2
    assert [(a.principle_id, a.mark.value) for a in response.answers] == [(p2.id, "weakness")]


def test_a_second_public_response_for_an_address_changes_nothing_and_mails_the_link(
    client, db, make_consultation, answer_form, outbox
):
    """What was typed is kept aside for the address's owner to check (see
    test_respond_page.py); their submitted answers stay as they were."""
    consultation = make_consultation()
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    p2 = consultation.standard.principles[1]
    again = client.post(
        f"/c/{consultation.id}",
        data=answer_form(consultation, {f"p{p2.id}": ("strength", "Someone else typing")},
                         email="RINA@example.org"),
    )  # fmt: skip
    assert "result=public" in again.headers["Location"]
    assert count(db, Response) == 1
    assert count(db, Answer) == 1 and db.session.scalar(sa.select(Answer)).comment == "Too vague"
    assert len(outbox()) == 2 and outbox()[1]["To"] == "rina@example.org"


def test_a_known_address_on_the_public_form_answers_only_through_its_emailed_link(
    client, db, make_consultation, answer_form, make_contact, make_org, outbox
):
    """Anyone can type anyone's address: nothing is stored as a known person's answers from
    the public form, and what the team recorded stays as it was; the person gets their link."""
    org = make_org("Team Recorded Org")
    contact = make_contact("Rina", "Begum", email="rina@example.org", country="IN",
                           organization_id=org.id)  # fmt: skip
    consultation = make_consultation()
    response = client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, name="Forged Name", named="y")
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Thank you. A link is on its way to rina@example.org: open it to check" in page
    db.session.refresh(contact)
    assert (contact.last_name, contact.country, contact.organization_id) == ("Begum", "IN", org.id)
    assert count(db, Contact) == 1 and count(db, Answer) == 0
    stored = db.session.scalar(sa.select(Response))
    assert stored.submitted_at is None and stored.name == "Rina Begum" and not stored.named
    (mail,) = outbox()
    assert mail["To"] == "rina@example.org" and f"/c/{consultation.id}/r/" in mail.get_content()


@pytest.mark.parametrize(("opens", "closes", "word"), [(-10, -1, "closed"), (2, 10, "opens")])
def test_closed_and_not_yet_open_consultations_refuse(
    client, db, make_consultation, answer_form, opens, closes, word
):
    consultation = make_consultation(opens=opens, closes=closes)
    page = client.get(f"/c/{consultation.id}").get_data(as_text=True)
    assert word in page and "response-form" not in page
    refused = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert refused.status_code == 409
    assert count(db, Response) == 0 and count(db, Contact) == 0
    with pytest.raises(OperationError, match=word):
        response_ops.check_open(consultation)


def test_a_personal_link_stops_working_when_the_consultation_closes(
    client, db, make_consultation, answer_form, make_contact
):
    from datetime import date, timedelta

    contact = make_contact(email="late@example.org")
    consultation = make_consultation()
    with client.application.test_request_context():
        token = link_ops.personal_token(consultation, contact)
    consultation.closes_on = date.today() - timedelta(days=1)
    consultation.opens_on = date.today() - timedelta(days=5)
    db.session.commit()
    refused = client.post(f"/c/{consultation.id}/r/{token}", data=answer_form(consultation))
    assert refused.status_code == 409 and count(db, Response) == 0


def test_forged_posts_without_a_csrf_token_are_refused(
    app, client, db, make_consultation, answer_form
):
    consultation = make_consultation()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert count(db, Response) == 0 and count(db, Contact) == 0


def test_bots_filling_the_honeypot_store_nothing(client, db, make_consultation, answer_form):
    consultation = make_consultation()
    response = client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, website="http://spam.example")
    )
    assert response.status_code == 302
    assert count(db, Response) == 0 and count(db, Contact) == 0


def test_floods_from_one_address_are_refused(app, client, db, make_consultation, answer_form):
    consultation = make_consultation()
    app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 2
    try:
        for n in range(2):
            ok = client.post(
                f"/c/{consultation.id}", data=answer_form(consultation, email=f"p{n}@example.org")
            )
            assert ok.status_code == 302
        refused = client.post(
            f"/c/{consultation.id}", data=answer_form(consultation, email="p9@example.org")
        )
        assert refused.status_code == 422
        assert "Too many submissions" in refused.get_data(as_text=True)
    finally:
        app.config["PUBLIC_FORM_HOURLY_LIMIT"] = 20
    assert count(db, Response) == 2
    # Two from the network, and one per address the link was mailed to.
    forms = db.session.scalars(sa.select(PublicSubmission.form)).all()
    assert sorted(forms) == ["consultation-link-mail"] * 2 + ["consultation-response"] * 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "Give your name."),
        ({"email": ""}, "Give your email address"),
        ({"email": "not-an-address"}, "not an email address"),
        ({"country": "Atlantis"}, "not a country we know"),
        ({"organization_kind": "pirates"}, "kind of organization"),
        ({"mark": "excellent"}, "is not strength, weakness"),
        ({"mark": ""}, "Say whether this is a strength"),
        ({"comment": "x" * 10_001, "mark": "weakness"}, "too long"),
        ({"nothing": True}, "Answer at least one"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client, db, make_consultation, answer_form, overrides, message
):
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    mark = overrides.pop("mark", "weakness")
    comment = overrides.pop("comment", "Too vague")
    marks = {} if overrides.pop("nothing", False) else {f"p{p1.id}": (mark, comment)}
    data = answer_form(consultation, marks or {}, **overrides)
    if not marks:
        data = {k: v for k, v in data.items() if not k.startswith(("mark-", "comment-"))}
    response = client.post(f"/c/{consultation.id}", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(db, Response) == 0 and count(db, Contact) == 0
    assert count(db, PublicSubmission) <= 1


def test_answers_about_something_outside_the_consultation_are_refused(
    make_consultation, make_contact, db
):
    consultation = make_consultation()
    contact = make_contact(email="x@example.org")
    with pytest.raises(OperationError, match="not in this consultation"):
        response_ops.respond(
            consultation,
            contact,
            [response_ops.AnswerFields(principle_id=987654, mark="strength")],
            submit=True,
        )
    assert count(db, Response) == 0


def test_invited_people_answer_through_their_personal_link_only(
    app, client, db, make_consultation, make_segment, make_contact, answer_form
):
    from crm.tags.operations import tags_from_names

    invited = make_contact("Ina", email="ina@example.org")
    invited.tags = tags_from_names(["advisory"])
    stranger = make_contact("Sam", email="sam@example.org")
    db.session.commit()
    consultation = make_consultation(access="invitation", segment=make_segment(["advisory"]))
    assert client.get(f"/c/{consultation.id}").status_code == 404
    with app.test_request_context():
        good = link_ops.personal_token(consultation, invited)
        foreign = link_ops.personal_token(consultation, stranger)
    page = client.get(f"/c/{consultation.id}/r/{good}").get_data(as_text=True)
    assert "Answering as Ina" in page and "About you" in page
    ok = client.post(f"/c/{consultation.id}/r/{good}", data=answer_form(consultation))
    assert "result=submitted" in ok.headers["Location"]
    response = db.session.scalar(sa.select(Response))
    assert response.contact_id == invited.id and response.source == "invitation"
    refused = client.post(f"/c/{consultation.id}/r/{foreign}", data=answer_form(consultation))
    assert refused.status_code == 422 and "not for this consultation" in refused.get_data(
        as_text=True
    )
    assert client.get(f"/c/{consultation.id}/r/{good}x").status_code == 404
    other = make_consultation(title="Other")
    assert client.get(f"/c/{other.id}/r/{good}").status_code == 404
    assert count(db, Response) == 1


def test_a_respondent_is_in_their_data_export_and_anonymized_on_erasure(
    client, db, make_consultation, answer_form
):
    from crm.contacts.operations import delete_contact, erase_contact, export_personal_data

    consultation = make_consultation()
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, named="y"))
    response = db.session.scalar(sa.select(Response))
    contact = db.session.get(Contact, response.contact_id)
    exported = export_personal_data(None, contact)["consultation_responses"]
    assert exported[0]["name_given"] == "Rina Akter"
    assert exported[0]["answers"][0]["comment"] == "Too vague"
    with pytest.raises(OperationError, match="answered 1 consultation"):
        delete_contact(None, contact)
    erase_contact(None, contact)
    db.session.refresh(response)
    assert (response.name, response.organization, response.named) == ("(erased)", None, False)
    assert len(response.answers) == 1  # the answers still count


def test_a_save_after_submitting_counts_as_a_new_submission(db, make_consultation, make_contact):
    consultation = make_consultation()
    contact = make_contact(email="again@example.org")
    p1 = consultation.standard.principles[0].id
    first = [response_ops.AnswerFields(principle_id=p1, mark="strength", comment="Good")]
    response, outcome = response_ops.respond(consultation, contact, first, submit=True)
    assert outcome is response_ops.Outcome.SUBMITTED
    later = [response_ops.AnswerFields(principle_id=p1, mark="weakness", comment="Second thoughts")]
    response, outcome = response_ops.respond(consultation, contact, later, submit=False)
    assert outcome is response_ops.Outcome.UPDATED  # the team reads it: it is said so
    assert response.submissions == 2 and response.answers[0].comment == "Second thoughts"


def test_one_address_gets_at_most_three_link_emails_an_hour_from_the_public_form(
    client, db, make_consultation, answer_form, outbox
):
    """Someone typing a stranger's address over and over cannot flood their inbox."""
    consultation = make_consultation()
    for _ in range(5):
        response = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
        assert response.status_code == 302
    assert count(db, Response) == 1
    assert len(outbox()) == 3
    assert {message["To"] for message in outbox()} == {"rina@example.org"}
