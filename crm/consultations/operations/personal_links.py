"""A person's own link to their response: a signed token naming the consultation and the
contact, and the absolute address it opens (the same in a request, the CLI and the worker)."""

from __future__ import annotations

from collections.abc import Callable

from crm.consultations.models import Consultation
from crm.consultations.queries import invited_now, response_of
from crm.contacts.models import Contact
from crm.core.errors import OperationError
from crm.core.http import external_url
from crm.core.tokens import TokenError, make_token, read_token
from crm.extensions import db

TOKEN_PURPOSE = "consultation-response"


def personal_token(consultation: Consultation, contact: Contact) -> str:
    return _token(consultation.id, contact.id)


def _token(consultation_id: int, contact_id: int) -> str:
    return make_token(TOKEN_PURPOSE, {"c": consultation_id, "p": contact_id})


def personal_link(consultation: Consultation, contact: Contact) -> str:
    """The absolute address of a person's own response page: the same in a request, the CLI
    and the outbox worker (crm.core.http.external_url)."""
    return personal_link_maker(consultation.id)(contact.id)


def personal_link_maker(consultation_id: int) -> Callable[[int], str]:
    """Personal links for many people at once (a campaign batch): the address is built once,
    the signed token per contact id."""
    base = external_url(
        "public_consultations.personal", consultation_id=consultation_id, token="TOKEN"
    )
    head, tail = base.rsplit("TOKEN", 1)
    return lambda contact_id: f"{head}{_token(consultation_id, contact_id)}{tail}"


def read_personal_token(consultation: Consultation, token: str) -> Contact:
    """The contact a personal link was made for; refuses links to another consultation."""
    try:
        payload = read_token(TOKEN_PURPOSE, token, max_age=None)
    except TokenError as exc:
        raise OperationError(str(exc)) from None
    if not isinstance(payload, dict) or payload.get("c") != consultation.id:
        raise OperationError("This link is for another consultation.")
    contact = db.session.get(Contact, payload.get("p"))
    if contact is None or contact.erased_at is not None:
        raise OperationError("This link is no longer valid.")
    return contact


def is_invited(consultation: Consultation, contact: Contact) -> bool:
    # Whoever has started answering keeps their link, even if the segment changed since
    # (a lead narrowing it, or a tag removed): their draft or response stays theirs to finish.
    return response_of(consultation, contact) is not None or invited_now(consultation, contact)
