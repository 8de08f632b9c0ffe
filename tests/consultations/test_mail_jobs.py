"""The email with a personal link after the public form is a job queued with the response:
a refused or failed form queues nothing and does not count towards the address's hourly
emails; a saved one queues exactly its email, which the worker sends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm.consultations.models import Response
from crm.consultations.operations.public_form import LINK_MAILS_PER_ADDRESS_HOURLY


def _responses(db) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Response))


def test_a_saved_response_queues_its_link_and_a_refused_one_nothing(
    client, db, make_consultation, answer_form, queued_mail, outbox
):
    consultation = make_consultation()
    refused = client.post(f"/c/{consultation.id}", data=answer_form(consultation, name=""))
    assert refused.status_code == 422
    assert queued_mail() == [] and _responses(db) == 0
    saved = client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert saved.status_code == 302
    assert queued_mail() == [("rina@example.org", f"Your personal link: {consultation.title}")]
    [message] = outbox()
    assert f"/c/{consultation.id}/r/" in message.get_content()


def test_a_form_that_fails_after_it_was_saved_queues_nothing_and_counts_nothing(
    client, db, make_consultation, answer_form, queued_mail, outbox, monkeypatch
):
    """The hourly count of link emails is written with the email: a request rolled back
    takes both away, so it does not use up the address's emails for the hour."""
    from crm.consultations import public

    consultation = make_consultation()
    real_redirect = public.redirect

    def broken(*args, **kwargs):
        raise RuntimeError("the page broke after the response was saved")

    monkeypatch.setattr(public, "redirect", broken)
    for _ in range(LINK_MAILS_PER_ADDRESS_HOURLY + 1):
        with pytest.raises(RuntimeError):
            client.post(f"/c/{consultation.id}", data=answer_form(consultation))
    assert queued_mail() == [] and _responses(db) == 0

    monkeypatch.setattr(public, "redirect", real_redirect)
    locations = [
        client.post(f"/c/{consultation.id}", data=answer_form(consultation)).headers["Location"]
        for _ in range(LINK_MAILS_PER_ADDRESS_HOURLY + 1)
    ]
    assert ["mail=limited" in where for where in locations] == [
        False
    ] * LINK_MAILS_PER_ADDRESS_HOURLY + [True]
    assert len(queued_mail()) == LINK_MAILS_PER_ADDRESS_HOURLY
    assert len(outbox()) == LINK_MAILS_PER_ADDRESS_HOURLY
