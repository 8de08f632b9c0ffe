"""The respondent's side of a consultation page: who they say they are on a personal link,
stable respondent numbers, answers typed on the public form for a known address, what the
messages say about the email, errors, and a post after closing."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
import sqlalchemy as sa

from crm.consultations import queries
from crm.consultations.models import Response
from crm.consultations.operations import consultations as consultation_ops
from crm.consultations.operations import drafts as draft_ops
from crm.consultations.operations import personal_links as link_ops
from crm.consultations.operations import responses as response_ops


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
        token = link_ops.personal_token(consultation, contact)
    return consultation, contact, f"/c/{consultation.id}/r/{token}"


# --- 1. invited respondents say who they are ---------------------------------------------------


def test_an_invited_respondent_sees_about_you_prefilled_from_the_contact(client, invited):
    consultation, contact, path = invited
    body = client.get(path).get_data(as_text=True)
    assert "About you" in body and "As we have it on file." in body
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
    assert "As you gave it last time." in body
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
    assert refused.status_code == 422 and "Give your name." in refused.get_data(as_text=True)
    assert count(db, Response) == 0


# --- 2. respondent numbers ---------------------------------------------------------------------


def _submit(consultation, contact, comment, *, submit=True):
    p1 = consultation.standard.principles[0].id
    answers = [response_ops.AnswerFields(principle_id=p1, mark="weakness", comment=comment)]
    return response_ops.respond(consultation, contact, answers, submit=submit)


def test_respondent_numbers_follow_first_submission_and_never_move(
    client, db, make_consultation, make_contact, as_role
):
    import openpyxl

    consultation = make_consultation()
    early = make_contact("Early", email="early@example.org")
    late = make_contact("Late", email="late@example.org")
    draft, _ = _submit(consultation, early, "Drafted first", submit=False)
    first, _ = _submit(consultation, late, "Submitted first")
    db.session.commit()
    assert draft.id < first.id and (draft.number, first.number) == (None, 1)
    as_role("lead")
    before = client.get(f"/consultations/{consultation.id}/comments").get_data(as_text=True)
    assert "Respondent 1" in before and "Respondent 2" not in before
    # The older draft is submitted later: it is Respondent 2, and Respondent 1 stays who it was.
    _submit(consultation, early, "Drafted first")
    _submit(consultation, late, "Submitted first, changed")  # a new submission keeps its number
    db.session.commit()
    db.session.refresh(draft), db.session.refresh(first)
    assert (first.number, draft.number) == (1, 2) and first.submissions == 2
    labels = queries.respondent_labels(queries.submitted(consultation))
    assert labels == {first.id: "Respondent 1", draft.id: "Respondent 2"}
    page = client.get(f"/consultations/{consultation.id}/comments").get_data(as_text=True)
    cards = {
        comment: label
        for label, comment in re.findall(
            r'<span>(Respondent \d+)[^<]*</span>.*?preserve-lines mt-1">([^<]*)<', page, re.S
        )
    }
    assert cards == {"Submitted first, changed": "Respondent 1", "Drafted first": "Respondent 2"}
    rows = client.get(f"/consultations/{consultation.id}/comments.csv").data.decode("utf-8-sig")
    by_comment = {r["Comment"]: r["Respondent"] for r in csv.DictReader(io.StringIO(rows))}
    assert by_comment == {"Submitted first, changed": "Respondent 1",
                          "Drafted first": "Respondent 2"}  # fmt: skip
    book = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/consultations/{consultation.id}/comments.xlsx").data)
    )
    header, *values = [[c.value for c in row] for row in book.active.iter_rows()]
    xlsx = {row[header.index("Comment")]: row[header.index("Respondent")] for row in values}
    assert xlsx == by_comment


def test_a_saved_draft_has_no_number_and_a_save_after_submitting_keeps_it(
    db, make_consultation, make_contact
):
    consultation = make_consultation()
    contact = make_contact(email="keeps@example.org")
    response, _ = _submit(consultation, contact, "Draft", submit=False)
    assert response.number is None
    _submit(consultation, contact, "Now submitted")
    _submit(consultation, contact, "Saved again", submit=False)  # counts as a new submission
    assert response.number == 1 and response.submissions == 2
    other = make_consultation(title="Another")
    elsewhere, _ = _submit(other, contact, "Numbers count per consultation")
    assert elsewhere.number == 1


def test_the_same_number_cannot_be_given_twice(db, make_consultation, make_contact):
    consultation = make_consultation()
    one, _ = _submit(consultation, make_contact(email="one@example.org"), "One")
    two, _ = _submit(consultation, make_contact(email="two@example.org"), "Two")
    db.session.commit()
    two.number = one.number
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.no_db
def test_two_first_submissions_at_once_get_different_numbers(app):
    """The second submission counts while the first has taken its number but not committed:
    it must wait for it and take the next, not take the same number and fail."""
    import threading
    import uuid
    from datetime import date, timedelta

    from crm.audit.models import AuditEntry
    from crm.consultations.models import Consultation
    from crm.contacts.models import Contact
    from crm.extensions import db
    from crm.standards.models import Standard, StandardStatus

    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgres"):
        pytest.skip("SQLite write requests run one at a time (BEGIN IMMEDIATE)")
    tag = uuid.uuid4().hex[:10]
    with app.app_context():
        standard = db.session.scalar(
            sa.select(Standard).where(Standard.status == StandardStatus.CURRENT)
        )
        consultation = consultation_ops.create_consultation(
            None,
            consultation_ops.ConsultationFields(
                standard_id=standard.id, title=f"Race {tag}", access="public",
                opens_on=date.today(), closes_on=date.today() + timedelta(days=5),
            ),
        )  # fmt: skip
        people = [Contact(first_name=f"R{n}", last_name=tag, email=f"r{n}-{tag}@example.org")
                  for n in range(2)]  # fmt: skip
        for person in people:
            person.set_search_fields()
        db.session.add_all(people)
        db.session.commit()
        ids = consultation.id, [p.id for p in people]
    first_numbered, numbers, errors = threading.Event(), {}, []

    def answer(n: int, hold: bool) -> None:
        if not hold:
            first_numbered.wait(5)
        with app.app_context():
            try:
                c = db.session.get(Consultation, ids[0])
                response, _ = _submit(c, db.session.get(Contact, ids[1][n]), f"From {n}")
                numbers[n] = response.number
                if hold:
                    first_numbered.set()
                    threading.Event().wait(0.5)  # the second is at its count meanwhile
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 — reported by the assertion below
                errors.append(repr(exc))
                db.session.rollback()
                first_numbered.set()

    threads = [threading.Thread(target=answer, args=(0, True)),
               threading.Thread(target=answer, args=(1, False))]  # fmt: skip
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors == [] and sorted(numbers.values()) == [1, 2]
    finally:
        with app.app_context():
            db.session.execute(sa.delete(Consultation).where(Consultation.id == ids[0]))
            db.session.execute(sa.delete(Contact).where(Contact.id.in_(ids[1])))
            db.session.execute(
                sa.delete(AuditEntry).where(
                    AuditEntry.object_type == "consultation", AuditEntry.object_id == ids[0]
                )
            )
            db.session.commit()


def test_the_migration_numbers_submitted_responses_in_the_order_first_submitted(db):
    """0018 backfills numbers: the audit trail's first "submitted" entry orders them (a
    response submitted again keeps its place), the last submission time where there is none."""
    import importlib.util
    from datetime import datetime, timedelta
    from pathlib import Path

    from crm.audit.models import AuditAction, AuditEntry
    from crm.consultations.models import Consultation
    from crm.standards.models import Standard

    path = Path(__file__).parents[2] / "migrations/versions/0018_response_number_pending.py"
    spec = importlib.util.spec_from_file_location("m0018", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    standard = db.session.scalar(sa.select(Standard).limit(1))
    today = datetime.now().date()
    consultation = Consultation(standard_id=standard.id, title="Old", access="public",
                                opens_on=today, closes_on=today)  # fmt: skip
    db.session.add(consultation)
    db.session.flush()
    base = datetime(2026, 10, 1, 9, 0)
    # id order: a, b, c, d (a draft). First submitted: c, then a (submitted again last), b has
    # no audit entry and was submitted between them.
    a, b, c, d = (Response(consultation_id=consultation.id, source="public", name=n,
                           submissions=1) for n in "abcd")  # fmt: skip
    db.session.add_all([a, b, c, d])
    db.session.flush()
    a.submitted_at, b.submitted_at, c.submitted_at = (
        base + timedelta(days=9), base + timedelta(days=3), base + timedelta(days=1))  # fmt: skip
    for response, day in [(c, 1), (a, 2)]:
        db.session.add(AuditEntry(at=base + timedelta(days=day), action=AuditAction.UPDATE,
                                  object_type="consultation", object_id=consultation.id,
                                  summary=f"Public response submitted (response {response.id})"))  # fmt: skip
    db.session.add(AuditEntry(at=base + timedelta(days=9), action=AuditAction.UPDATE,
                              object_type="consultation", object_id=consultation.id,
                              summary=f"Response updated (response {a.id})"))  # fmt: skip
    db.session.flush()

    class Op:
        @staticmethod
        def get_bind():
            return db.session.connection()

    migration.op = Op
    migration.backfill()
    for response in (a, b, c, d):
        db.session.refresh(response)
    assert (c.number, a.number, b.number, d.number) == (1, 2, 3, None)


# --- 3. the public form with an address we know -------------------------------------------------


def _link_path(outbox, consultation, index=-1) -> str:
    from tests.conftest import first_link

    return first_link(outbox()[index], f"/c/{consultation.id}/r/").split("localhost", 1)[-1]


def test_typed_answers_for_a_submitted_address_wait_as_a_draft_the_link_opens(
    client, db, make_consultation, answer_form, outbox
):
    from crm.consultations.models import Answer

    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))  # Rina submits
    response = db.session.scalar(sa.select(Response))
    typed = answer_form(
        consultation,
        {f"p{p1.id}": ("strength", "Typed later"), f"p{p2.id}": ("opportunity", "Add SMS")},
        name="Rina A.", organization="Another Org", named="y",
    )  # fmt: skip
    kept = client.post(f"/c/{consultation.id}", data=typed)
    assert "result=public" in kept.headers["Location"]
    message = client.get(kept.headers["Location"]).get_data(as_text=True)
    assert "Thank you. A link is on its way to rina@example.org: open it to check" in message
    # The email, read only by the address's owner, says what happened.
    assert (
        "Nothing in your response has changed"
        in outbox()[-1].get_body(preferencelist=("plain",)).get_content()
    )
    # Nothing of the submitted response changed: answers, details, number.
    db.session.refresh(response)
    assert [(a.principle_id, a.comment) for a in response.answers] == [(p1.id, "Too vague")]
    assert (response.name, response.named, response.number) == ("Rina Akter", False, 1)
    assert response.pending["answers"][0]["comment"] == "Typed later"
    assert list(queries.comments_frame(consultation)["Comment"]) == ["Too vague"]

    # The emailed link opens what was typed, over their answers, and shows their own.
    path = _link_path(outbox, consultation)
    page = client.get(path).get_data(as_text=True)
    assert 'id="pending-message"' in page and "your submitted response has not changed" in page
    assert "Typed later" in page and "Add SMS" in page
    assert "In your submitted response: Weakness — “Too vague”" in page
    assert "Not answered in your submitted response." in page
    assert 'value="Rina A."' in page and "checked" in tag(page, "named")
    assert "As typed on the public page." in page
    # They check it and update their response: now it counts, under the same number.
    update = {k: v for k, v in typed.items() if k != "email"}
    done = client.post(path, data=update)
    assert "result=updated" in done.headers["Location"]
    db.session.refresh(response)
    assert response.pending is None and response.number == 1 and response.named
    assert sorted(a.comment for a in response.answers) == ["Add SMS", "Typed later"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 2
    assert 'id="pending-message"' not in client.get(path).get_data(as_text=True)


def test_a_stranger_typing_again_only_replaces_what_was_kept_aside(
    client, db, make_consultation, answer_form, outbox
):
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    for comment in ("First try", "Second try"):
        client.post(
            f"/c/{consultation.id}",
            data=answer_form(consultation, {f"p{p1.id}": ("strength", comment)}),
        )
    response = db.session.scalar(sa.select(Response))
    assert [a.comment for a in response.answers] == ["Too vague"] and response.submissions == 1
    assert [a["comment"] for a in response.pending["answers"]] == ["Second try"]


def test_a_known_contact_without_a_response_gets_a_draft_with_the_teams_details(
    client, db, make_consultation, answer_form, make_contact, outbox
):
    contact = make_contact("Rina", "Begum", email="rina@example.org", country="IN")
    consultation = make_consultation()
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, name="Forged Name"))
    response = db.session.scalar(sa.select(Response))
    assert response.contact_id == contact.id and response.submitted_at is None
    assert (response.name, response.country, response.answers) == ("Rina Begum", "IN", [])
    assert response.number is None
    assert queries.summary(consultation).responses == 0  # nothing counts until they submit
    path = _link_path(outbox, consultation)
    page = client.get(path).get_data(as_text=True)
    assert "nothing in your response has changed yet" in page and "Too vague" in page
    assert "Not answered in your saved draft." in page
    assert "Submit my response" in page
    submitted = client.post(path, data=answer_form(consultation, email=None))
    assert "result=submitted" in submitted.headers["Location"]
    db.session.refresh(response)
    assert response.pending is None and response.number == 1
    assert [a.comment for a in response.answers] == ["Too vague"]


def test_what_a_stranger_typed_is_no_saved_draft_until_the_person_saves_it(
    client, db, make_consultation, answer_form, make_contact, outbox
):
    """Typing a known person's address on the public page makes a draft in their name only to
    hold the answers: the summary does not count it as their saved draft."""
    make_contact("Rina", "Begum", email="rina@example.org")
    consultation = make_consultation()
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, action="save"))
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    summary = queries.summary(consultation)
    assert (summary.responses, summary.drafts, summary.unconfirmed) == (0, 0, 1)
    # Once they open their link and save, it is their draft.
    path = _link_path(outbox, consultation)
    client.post(path, data=answer_form(consultation, email=None, action="save"))
    summary = queries.summary(consultation)
    assert (summary.responses, summary.drafts, summary.unconfirmed) == (0, 1, 0)
    # Their own draft with a stranger's text waiting on it is still their draft.
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, name="Someone"))
    assert db.session.scalar(sa.select(Response)).pending
    summary = queries.summary(consultation)
    assert (summary.responses, summary.drafts, summary.unconfirmed) == (0, 1, 0)


def test_the_person_can_discard_what_was_typed_and_keep_their_response(
    client, db, make_consultation, answer_form, make_contact, outbox, app
):
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, {f"p{p1.id}": ("strength", "X")})
    )
    path = _link_path(outbox, consultation)
    discarded = client.post(f"{path}/discard")
    assert "result=discarded" in discarded.headers["Location"]
    assert "your response is as it was" in client.get(discarded.headers["Location"]).get_data(
        as_text=True
    )
    response = db.session.scalar(sa.select(Response))
    assert response.pending is None and [a.comment for a in response.answers] == ["Too vague"]
    assert response.submissions == 1
    # A draft made only to hold what was typed goes with it.
    make_contact("Known", "Person", email="known@example.org")
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, email="known@example.org"))
    assert count(db, Response) == 2
    client.post(f"{_link_path(outbox, consultation)}/discard")
    assert count(db, Response) == 1
    # Without a valid token or CSRF token nothing happens.
    assert client.post(f"/c/{consultation.id}/r/forged/discard").status_code == 404
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"{path}/discard").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_a_known_address_with_nothing_typed_only_gets_its_link(
    client, db, make_consultation, answer_form, make_contact, outbox
):
    make_contact("Rina", "Begum", email="rina@example.org")
    consultation = make_consultation()
    data = {k: v for k, v in answer_form(consultation, action="save").items()
            if not k.startswith(("mark-", "comment-"))}  # fmt: skip
    sent = client.post(f"/c/{consultation.id}", data=data)
    assert "result=public" in sent.headers["Location"]
    assert "A link is on its way to rina@example.org" in client.get(
        sent.headers["Location"]
    ).get_data(as_text=True)
    assert count(db, Response) == 0 and len(outbox()) == 1


def test_what_was_typed_is_in_the_data_export_and_goes_on_erasure(
    client, db, make_consultation, answer_form
):
    from crm.contacts.models import Contact
    from crm.contacts.operations import erase_contact, export_personal_data

    consultation = make_consultation()
    client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    client.post(f"/c/{consultation.id}", data=answer_form(consultation, name="Typed Name"))
    response = db.session.scalar(sa.select(Response))
    contact = db.session.get(Contact, response.contact_id)
    exported = export_personal_data(None, contact)["consultation_responses"][0]
    assert exported["typed_on_public_page_unconfirmed"]["respondent"]["name"] == "Typed Name"
    erase_contact(None, contact)
    db.session.refresh(response)
    assert response.pending is None


# --- 4. what the page says about the email ------------------------------------------------------


def _message(client, posted) -> str:
    page = client.get(posted.headers["Location"]).get_data(as_text=True)
    return re.search(r'id="result-message">([^<]*)<', page).group(1)


def test_the_page_says_a_link_is_on_its_way_only_when_one_was_queued(
    client, db, make_consultation, answer_form, outbox
):
    consultation = make_consultation()
    messages = [
        _message(client, client.post(f"/c/{consultation.id}", data=answer_form(consultation)))
        for _ in range(4)
    ]
    assert len(outbox()) == 3  # at most three links an hour to one address
    closes = f"{consultation.closes_on:%-d %B %Y}"
    assert (
        messages[0]
        == messages[1]
        == messages[2]
        == (
            "Thank you. A link is on its way to rina@example.org: open it to check your answers, "
            f"and to submit or change them until {closes}."
        )
    )
    assert messages[3] == (
        "Thank you. We did not email a link this time: we already sent several to this address "
        "in the last hour. Use the latest one, or try again later."
    )
    # A first draft from another address, over its limit too: said the same way.
    from crm.core.flood import check_and_record

    for _ in range(3):
        check_and_record("consultation-link-mail", _mail_key("ana@example.org"), 3)
    db.session.commit()
    saved = client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, email="ana@example.org",
                                                  action="save")
    )  # fmt: skip
    assert "mail=limited" in saved.headers["Location"]
    assert _message(client, saved) == messages[3]
    assert len(outbox()) == 3


def _mail_key(email: str) -> str:
    import hashlib

    return "mail:" + hashlib.sha256(email.lower().encode()).hexdigest()[:40]


@pytest.fixture
def failing_sendgrid(app):
    """SendGrid answering 500 to the first email, then 202."""
    from tests.campaigns.fake_sendgrid import Answer, FakeSendGrid

    fake = FakeSendGrid().start()
    saved = {k: app.config.get(k) for k in ("MAIL_PROVIDER", "SENDGRID_API_KEY",
                                             "SENDGRID_API_HOST")}  # fmt: skip
    app.config.update(
        MAIL_PROVIDER="sendgrid", SENDGRID_API_KEY="SG.test", SENDGRID_API_HOST=fake.url
    )
    fake.script.append(Answer(500, body={"errors": [{"message": "down"}]}))
    yield fake
    app.config.update(saved)
    fake.stop()


def test_a_failing_mail_provider_does_not_touch_the_page_and_the_link_goes_later(
    client, db, make_consultation, answer_form, failing_sendgrid, run_jobs
):
    """The page only queues the email; the worker meets SendGrid's 500, tries again later,
    and the link goes out once."""
    from crm.core.db import utcnow
    from crm.core.jobs import Job, JobStatus

    consultation = make_consultation()
    posted = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert "mail=" not in posted.headers["Location"]
    assert _message(client, posted).startswith("Thank you. A link is on its way to rina@")
    assert failing_sendgrid.requests == []  # nothing was sent by the request itself
    assert db.session.scalar(sa.select(Response)).submitted_at is not None

    assert run_jobs() == 1
    job = db.session.scalar(sa.select(Job).where(Job.kind == "mail.send"))
    assert job.status is JobStatus.QUEUED and "500" in job.last_error  # to be tried again
    job.run_at = utcnow()  # its backoff is over
    db.session.commit()
    assert run_jobs() == 1
    db.session.refresh(job)
    assert job.status is JobStatus.DONE and job.attempts == 2
    assert [p["to"][0]["email"] for p in failing_sendgrid.personalizations] == [
        "rina@example.org",
        "rina@example.org",
    ]  # the refused try, then the one SendGrid took
    assert run_jobs() == 0


# --- 5. errors name their item, are highlighted, and say nothing was saved ---------------------


def _summary(page: str) -> list[str]:
    block = re.search(r'id="error-summary">(.*?)</div>', page, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", block, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", li)).strip() for li in items]


def test_every_problem_is_listed_with_its_principle_linked_and_highlighted(
    client, db, make_consultation, answer_form, make_user
):
    consultation = make_consultation()
    p1, p2, p3 = consultation.standard.principles[:3]
    rec = draft_ops.add_recommendation(
        make_user("lead"), consultation,
        draft_ops.RecommendationFields(text="Say who", principle_id=p1.id),
    )  # fmt: skip
    db.session.commit()
    marks = {
        f"p{p1.id}": ("", "No mark given"),
        f"p{p2.id}": ("weakness", "x" * 10_001),
        f"p{p3.id}": ("strength", "Fine"),
        f"r{rec.id}": ("excellent", "Forged mark"),
    }
    refused = client.post(f"/c/{consultation.id}", data=answer_form(consultation, marks, name=""))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Nothing was saved yet — fix the items below and submit again." in page
    assert _summary(page) == [
        "Your name: Give your name.",
        f"{p1.label}: Say whether this is a strength, weakness, opportunity or recommendation.",
        f"Draft recommendation on {p1.code}: “excellent” is not strength, weakness, opportunity "
        "or recommendation.",
        f"{p2.label}: Comment is too long (10001 characters; at most 10000).",
    ]
    assert f'href="#mark-p{p1.id}-strength"' in page and f'href="#comment-p{p2.id}"' in page
    assert 'href="#name"' in page
    # Highlighted where they are, with the message next to them.
    radio = tag(page, f"mark-p{p1.id}")
    assert "is-invalid" in radio and 'aria-invalid="true"' in radio
    assert f'aria-describedby="error-mark-p{p1.id}"' in radio
    assert f'id="error-mark-p{p1.id}"' in page and f'id="error-comment-p{p2.id}"' in page
    area = tag(page, f"comment-p{p2.id}")
    assert "is-invalid" in area and 'aria-invalid="true"' in area
    name = tag(page, "name")
    assert "is-invalid" in name and 'aria-invalid="true"' in name
    assert "is-invalid" not in tag(page, f"mark-p{p3.id}")
    assert "is-invalid" not in tag(page, f"comment-p{p3.id}")
    # What was typed is still there; nothing was stored.
    assert "No mark given" in page and "Fine" in page and "Forged mark" in page
    assert 'value="strength" checked' in page
    assert count(db, Response) == 0


def test_the_forms_own_errors_and_the_answers_problems_show_together(
    client, db, make_consultation, answer_form
):
    consultation = make_consultation()
    p1 = consultation.standard.principles[0]
    refused = client.post(
        f"/c/{consultation.id}",
        data=answer_form(
            consultation, {f"p{p1.id}": ("", "Unmarked")}, country="Atlantis", name=""
        ),
    )
    page = refused.get_data(as_text=True)
    assert _summary(page) == [
        "Your name: Give your name.",
        "Country: “Atlantis” is not a country we know (ISO 3166-1).",
        f"{p1.label}: Say whether this is a strength, weakness, opportunity or recommendation.",
    ]


def test_a_problem_not_about_one_field_is_listed_too(client, db, make_consultation, answer_form):
    consultation = make_consultation()
    data = {k: v for k, v in answer_form(consultation).items()
            if not k.startswith(("mark-", "comment-"))}  # fmt: skip
    page = client.post(f"/c/{consultation.id}", data=data).get_data(as_text=True)
    assert _summary(page) == ["Answer at least one principle or recommendation before you submit."]
    assert "Nothing was saved yet" in page


def test_errors_on_a_personal_link_name_their_principle_too(client, db, invited, answer_form):
    consultation, contact, path = invited
    p2 = consultation.standard.principles[1]
    refused = client.post(
        path, data=answer_form(consultation, {f"p{p2.id}": ("", "Unmarked")}, email=None)
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert _summary(page) == [
        f"{p2.label}: Say whether this is a strength, weakness, opportunity or recommendation."
    ]
    assert "Unmarked" in page and count(db, Response) == 0


# --- 6. after submitting, one button --------------------------------------------------------------


def _buttons(page: str) -> list[str]:
    form = re.search(r'<form method="post" novalidate id="response-form">.*?</form>', page, re.S)
    return re.findall(r'<button[^>]*name="action"[^>]*>([^<]*)</button>', form.group(0))


def test_after_submitting_the_page_offers_only_update_my_response(client, db, invited, answer_form):
    consultation, contact, path = invited
    assert _buttons(client.get(path).get_data(as_text=True)) == [
        "Submit my response",
        "Save and finish later",
    ]
    client.post(path, data=answer_form(consultation, action="save", email=None))
    assert _buttons(client.get(path).get_data(as_text=True)) == [
        "Submit my response",
        "Save and finish later",
    ]  # a saved draft is not submitted yet
    client.post(path, data=answer_form(consultation, email=None))
    page = client.get(path).get_data(as_text=True)
    assert _buttons(page) == ["Update my response"]
    assert "You submitted your response on" in page and "Updating it replaces it" in page
    updated = client.post(path, data=answer_form(consultation, email=None))
    assert "result=updated" in updated.headers["Location"]
    # Refused with errors, it still offers only the update.
    p1 = consultation.standard.principles[0]
    refused = client.post(
        path, data=answer_form(consultation, {f"p{p1.id}": ("", "x")}, email=None)
    ).get_data(as_text=True)
    assert _buttons(refused) == ["Update my response"]


# --- 7. a post after closing ------------------------------------------------------------------------


def test_a_late_post_says_closed_once_and_shows_what_was_typed_to_copy(
    client, db, make_consultation, answer_form, invited
):
    from datetime import date, timedelta

    consultation = make_consultation()
    p1, p2 = consultation.standard.principles[:2]
    marks = {f"p{p1.id}": ("weakness", "My long <careful> comment"), f"p{p2.id}": ("", "Unmarked")}
    consultation.opens_on = date.today() - timedelta(days=5)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()
    late = client.post(f"/c/{consultation.id}", data=answer_form(consultation, marks))
    assert late.status_code == 409
    page = late.get_data(as_text=True)
    assert page.count("answers are no longer taken") == 1
    assert "What you sent was not saved." in page and 'id="response-form"' not in page
    first = re.search(rf'<textarea[^>]*id="late-p{p1.id}"[^>]*>', page).group(0)
    assert "readonly" in first and "name=" not in first  # shown, never posted again
    assert "My long &lt;careful&gt; comment</textarea>" in page
    assert re.search(rf'{re.escape(html.escape(p1.label))} <span class="badge[^>]*>Weakness<', page)
    assert "Unmarked</textarea>" in page
    assert count(db, Response) == 0
    # The same through a personal link.
    invited_consultation, _contact, path = invited
    invited_consultation.closes_on = date.today() - timedelta(days=1)
    invited_consultation.opens_on = date.today() - timedelta(days=5)
    db.session.commit()
    late = client.post(path, data=answer_form(invited_consultation, email=None))
    page = late.get_data(as_text=True)
    assert late.status_code == 409 and page.count("answers are no longer taken") == 1
    assert "Too vague</textarea>" in page
    # Simply opening the page shows no "What you typed".
    assert 'id="late-answers"' not in client.get(path).get_data(as_text=True)


# --- 8. the email field's error, once -------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-address", "That is not an email address."),
        ("a@b", "That is not an email address."),
        ("", "Give your email address."),
    ],
)
def test_the_email_field_shows_its_error_once(
    client, db, make_consultation, answer_form, email, message
):
    consultation = make_consultation()
    page = client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, email=email)
    ).get_data(as_text=True)
    field = re.search(r'<input[^>]*name="email".*?(?=<div class="col-md)', page, re.S).group(0)
    assert re.findall(r'class="invalid-feedback[^"]*"[^>]*>([^<]*)<', field) == [message]
    assert _summary(page) == [f"Email: {message}"]
    assert count(db, Response) == 0
    # With other problems, each is said once too.
    page = client.post(
        f"/c/{consultation.id}", data=answer_form(consultation, email=email, name="")
    ).get_data(as_text=True)
    assert _summary(page) == ["Your name: Give your name.", f"Email: {message}"]


@pytest.mark.parametrize("action", ["submit", "save"])
def test_the_public_page_says_the_same_for_a_known_address_and_a_new_one(
    client, db, make_consultation, answer_form, make_contact, outbox, action
):
    """Anyone can type anyone's address: the page after the form must not tell whether the
    address is in the CRM. Only the email, read by the address's owner, says what happened."""
    make_contact("Rina", "Begum", email="rina@example.org")
    consultation = make_consultation()
    pages = []
    for email in ("rina@example.org", "someone.new@example.org"):
        posted = client.post(
            f"/c/{consultation.id}", data=answer_form(consultation, email=email, action=action)
        )
        location = posted.headers["Location"]
        page = client.get(location).get_data(as_text=True)
        pages.append((posted.status_code, location, page.replace(email, "ADDRESS")))
    assert pages[0] == pages[1]
    assert "A link is on its way to ADDRESS" in pages[0][2]
    known, new = (m.get_body(preferencelist=("plain",)).get_content() for m in outbox())
    assert "Nothing in your response has changed" in known
    assert ("Your response is submitted" if action == "submit" else "saved as a draft") in new
