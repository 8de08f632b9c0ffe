"""Consultation responses in a contact's data export, and anonymized on erasure."""

from __future__ import annotations

import sqlalchemy as sa

from crm.consultations.models import Answer, Response
from crm.core.personal_data import deletion_blocker, eraser, exporter
from crm.extensions import db


def _of(contact) -> list[Response]:
    return list(db.session.scalars(sa.select(Response).where(Response.contact_id == contact.id)))


def _about(answer: Answer) -> str:
    """What an answer is about: a principle, or else a draft recommendation."""
    about = answer.principle or answer.recommendation
    assert about is not None, f"answer #{answer.id} is about neither"
    return about.label


@exporter
def consultation_export(contact) -> dict:
    return {
        "consultation_responses": [
            {
                "consultation": r.consultation.title,
                "name_given": r.name,
                "organization_given": r.organization,
                "organization_kind": r.organization_kind.value if r.organization_kind else None,
                "country": r.country,
                "consent_to_be_named": r.named,
                "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
                "answers": [
                    {
                        "about": _about(a),
                        "mark": a.mark.value if a.mark else None,
                        "comment": a.comment,
                    }
                    for a in r.answers
                ],
                # Typed on the public page with their address, not yet checked by them.
                "typed_on_public_page_unconfirmed": r.pending,
            }
            for r in _of(contact)
        ]
    }


@eraser
def consultation_erase(contact, identifying: list[str]) -> None:
    """The answers still count in the summary; who gave them, and any consent to be named,
    go."""
    for response in _of(contact):
        response.name = "(erased)"
        response.organization = None
        response.named = False
        response.pending = None


@deletion_blocker
def consultation_blocker(contact) -> str | None:
    """Submitted answers keep a contact; a draft (which anyone could start) does not."""
    count = sum(1 for r in _of(contact) if r.submitted_at is not None)
    if not count:
        return None
    return f"they answered {count} consultation{'s' if count != 1 else ''}"
