"""Pledges a person signed: in their data export; they keep a contact from being deleted."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.personal_data import deletion_blocker, exporter
from crm.extensions import db
from crm.pledges.models import Pledge


def _signed_by(contact) -> list[Pledge]:
    return list(db.session.scalars(sa.select(Pledge).where(Pledge.signatory_id == contact.id)))


@exporter
def pledges_export(contact) -> dict:
    return {
        "pledges_signed": [
            {
                "organization": p.organization.name,
                "standard_version": p.standard.version,
                "signed_on": p.signed_on.isoformat() if p.signed_on else None,
                "status": p.status.value,
            }
            for p in _signed_by(contact)
        ]
    }


@deletion_blocker
def signatory_blocker(contact) -> str | None:
    count = len(_signed_by(contact))
    if not count:
        return None
    return f"they signed {count} pledge{'s' if count != 1 else ''}"
