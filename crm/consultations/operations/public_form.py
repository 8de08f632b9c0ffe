"""The public form and the email with a person's own link that it sends.

The email is a job queued in the form's transaction (`crm.core.mail.queue_mail`): a refused or
failed form sends nothing, and the worker sends it once the form is saved. Anyone can type anyone's
address into a public form, so one address gets at most `LINK_MAILS_PER_ADDRESS_HOURLY` of these
an hour, however many networks the forms come from; that count is kept in the same transaction
as the email it allows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from crm.consultations.models import Consultation, Response
from crm.consultations.operations import responses
from crm.consultations.operations.personal_links import personal_link
from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.core.flood import check_and_record
from crm.core.mail import MailMessage, queue_mail
from crm.extensions import db

LINK_MAILS_PER_ADDRESS_HOURLY = 3

# What the email after the public form says happened: only the address's owner reads it.
NEWS = {
    responses.Outcome.SUBMITTED: "Your response is submitted. Your personal link, to change it "
    "until {closes}:",
    responses.Outcome.SAVED: "Your answers are saved as a draft: they count once you submit "
    "them. Your personal link, to finish and submit them until {closes}:",
    responses.Outcome.KEPT: "Someone gave this address with answers on the consultation's "
    "public page. Nothing in your response has changed: open your personal link to check those "
    "answers, then submit them or discard them, until {closes}. If it was not you, you can "
    "ignore this email.",
    responses.Outcome.LINK: "Your personal link, to answer or come back and change your answers "
    "until {closes}:",
}


@dataclass
class PublicAnswer:
    response: Response | None
    contact: Contact
    outcome: responses.Outcome
    mailed: bool  # False: the address had its emails for this hour, none was queued


def answer_publicly(
    consultation: Consultation,
    respondent: responses.Respondent,
    answers: list[responses.AnswerFields],
    *,
    submit: bool,
    today: date | None = None,
) -> PublicAnswer:
    """The public form (`responses.respond_public`) and the email with the personal link that
    opens what was kept, in one transaction."""
    response, contact, outcome = responses.respond_public(
        consultation, respondent, answers, submit=submit, today=today
    )
    return PublicAnswer(response, contact, outcome, mail_link(consultation, contact, outcome))


def mail_link(consultation: Consultation, contact: Contact, outcome=responses.Outcome.LINK) -> bool:
    """Queue the email with `contact`'s personal link, unless their address had its
    `LINK_MAILS_PER_ADDRESS_HOURLY` in the last hour (then False, and nothing is counted)."""
    if not contact.email:
        return False
    key = "mail:" + hashlib.sha256(contact.email.lower().encode()).hexdigest()[:40]
    try:
        with db.session.begin_nested():
            check_and_record("consultation-link-mail", key, LINK_MAILS_PER_ADDRESS_HOURLY)
    except OperationError:
        return False
    queue_mail(_message(consultation, contact, outcome))
    return True


def _message(consultation: Consultation, contact: Contact, outcome) -> MailMessage:
    assert contact.email, "mail_link sends only to an address"
    link = personal_link(consultation, contact)
    news = NEWS.get(outcome, NEWS[responses.Outcome.LINK])
    news = news.format(closes=f"{consultation.closes_on:%-d %B %Y}")
    if not news.endswith(":"):
        news += "\n\nYour personal link:"
    return MailMessage(
        to=contact.email,
        subject=f"Your personal link: {consultation.title}",
        text=f"Dear {contact.first_name},\n\n"
        f"Thank you for taking part in the consultation {consultation.title}.\n\n"
        f"{news}\n{link}\n\nPlease keep it to yourself: anyone with this link can "
        "change your response.\n\n— The WEST Principles community\n",
    )
