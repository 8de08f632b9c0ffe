"""Creating, changing, deleting contacts; their consent; exporting and erasing personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crm.audit import operations as audit
from crm.audit.models import AuditAction, AuditEntry
from crm.audit.operations import trail_for
from crm.auth.models import User
from crm.contacts import queries
from crm.contacts.models import ConsentStatus, Contact
from crm.core import deletion
from crm.core.countries import normalize_language
from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.personal_data import deletion_blockers, erase_everywhere, export_sections
from crm.core.timeline import timeline_for
from crm.core.validation import clean_choice, clean_country, clean_text, normalize_email
from crm.extensions import db
from crm.organizations.models import Organization
from crm.tags.operations import tags_from_names


@dataclass
class ContactFields:
    first_name: str
    last_name: str = ""
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    organization_id: int | None = None
    country: str | None = None
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owner_id: int | None = None
    notes: str | None = None
    consent_status: ConsentStatus | str = ConsentStatus.UNKNOWN
    consent_source: str | None = None


def clean_languages(values: list[str]) -> str | None:
    """Language names or codes ('English', 'bn') as ISO 639-1 codes, comma separated."""
    cleaned: list[str] = []
    for value in values:
        if not value.strip():
            continue
        code = normalize_language(value)
        if code is None:
            raise OperationError(
                f"“{value.strip()}” is not a language we know (a name like Bengali or a code "
                "like bn).",
                field="languages",
            )
        if code not in cleaned:
            cleaned.append(code)
    return ",".join(cleaned) or None


def _apply(contact: Contact, fields: ContactFields) -> None:
    contact.first_name = clean_text(
        fields.first_name, "first_name", "First name", 100, required=True
    )
    contact.last_name = clean_text(fields.last_name, "last_name", "Last name", 100) or ""
    email = clean_text(fields.email, "email", "Email", 254)
    contact.email = normalize_email(email) if email else None
    contact.phone = clean_text(fields.phone, "phone", "Phone", 50)
    contact.title = clean_text(fields.title, "title", "Title", 150)
    contact.country = clean_country(fields.country)
    contact.languages = clean_languages(fields.languages)
    contact.notes = clean_text(fields.notes, "notes", "Notes", 10_000)
    if (
        fields.organization_id is not None
        and db.session.get(Organization, fields.organization_id) is None
    ):
        raise OperationError("That organization does not exist.", field="organization")
    contact.organization_id = fields.organization_id
    if fields.owner_id is not None and db.session.get(User, fields.owner_id) is None:
        raise OperationError("That owner is not one of the CRM's users.", field="owner_id")
    contact.owner_id = fields.owner_id
    contact.set_search_fields()
    if contact.email:
        taken = db.session.scalar(
            sa.select(Contact.id).where(
                Contact.email == contact.email, Contact.id != (contact.id or 0)
            )
        )
        if taken:
            raise OperationError(
                f"Another contact already has the email {contact.email}.", field="email"
            )


def _apply_consent(contact: Contact, status: ConsentStatus | str, source: str | None) -> None:
    """Record a consent change, or a new source for the same consent, with the time."""
    status = clean_choice(ConsentStatus, status, "a consent status", field="consent_status")
    source = clean_text(source, "consent_source", "Consent source", 100)
    if status != contact.consent_status:
        if source == contact.consent_source:
            source = None  # the old source does not explain the new status
        contact.consent_status = status
        contact.consent_source = source or "changed by staff"
        contact.consent_at = utcnow()
    elif source and source != contact.consent_source:
        contact.consent_source = source
        contact.consent_at = utcnow()


def create_contact(actor, fields: ContactFields) -> Contact:
    contact = Contact(consent_status=ConsentStatus.UNKNOWN)
    _apply(contact, fields)
    _apply_consent(contact, fields.consent_status, fields.consent_source)
    contact.tags = tags_from_names(fields.tags)
    audit.add_recorded(actor, contact, "contact", summary=f"Created {contact.full_name}")
    return contact


def update_contact(
    actor, contact: Contact, fields: ContactFields, *, expected_version: int | None = None
) -> Contact:
    with audit.updating(
        actor,
        contact,
        "contact",
        expected_version=expected_version,
        leave_out=("sort_name", "search_text"),  # follow from the name and email
    ) as extra:
        if contact.erased_at is not None:
            raise OperationError("This contact was erased and can no longer be edited.")
        old_tags = contact.tag_names
        _apply(contact, fields)
        _apply_consent(contact, fields.consent_status, fields.consent_source)
        contact.tags = tags_from_names(fields.tags)
        if contact.tag_names != old_tags:
            extra["tags"] = [old_tags, contact.tag_names]
    return contact


@deletion.blocker("organization")
def _organization_has_contacts(org) -> str | None:
    count = queries.count_of_organization(org.id)
    if not count:
        return None
    return (
        f"{org.name} still has {count} contact{'s' if count != 1 else ''}. "
        "Move them to another "
        "organization or delete them first; nothing was deleted."
    )


def delete_contact(actor, contact: Contact) -> None:
    reasons = deletion_blockers(contact)
    if reasons:
        raise OperationError(
            f"{contact.full_name} cannot be deleted: {'; '.join(reasons)}. Deleting would destroy "
            "that history; erase their personal data instead (it keeps the counts). "
            "Nothing was deleted."
        )
    deletion.detach(actor, "contact", contact.id)
    audit.delete_recorded(actor, contact, "contact", summary=f"Deleted {contact.full_name}")


def export_personal_data(actor, contact: Contact) -> dict:
    """Everything held about a person, for a subject access request."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    data = {
        "exported_at": utcnow().isoformat(),
        "contact": {
            "id": contact.id,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "phone": contact.phone,
            "title": contact.title,
            "organization": contact.organization.name if contact.organization else None,
            "country": contact.country,
            "languages": contact.language_list,
            "tags": [t.name for t in contact.tags],
            "notes": contact.notes,
            "email_consent": {
                "status": contact.consent_status.value,
                "source": contact.consent_source,
                "at": iso(contact.consent_at),
            },
            "owner": contact.owner.email if contact.owner else None,
            "created_at": iso(contact.created_at),
            "updated_at": iso(contact.updated_at),
        },
        "activity": [
            {
                "date": item.when.isoformat(),
                "kind": item.kind,
                "title": item.title,
                "details": item.body,
            }
            for item in timeline_for("contact", contact.id, limit=10_000)
        ],
        "changes": [
            {"at": iso(e.at), "by": e.actor_label, "action": e.action.value, "changes": e.changes}
            for e in trail_for("contact", contact.id, limit=10_000)
        ],
        **export_sections(contact),
    }
    audit.record(actor, AuditAction.EXPORT, "contact", contact.id, summary="Personal data exported")
    db.session.flush()
    return data


def erase_contact(actor, contact: Contact) -> None:
    """Anonymize a person: personal fields go, the record and aggregate history stay.

    Engagements and the like keep counting (so reports do not change), but nothing in them
    identifies the person any more: their name, email and phone are struck from the free text of
    every engagement they took part in. The audit trail keeps only that an erasure happened;
    earlier field-level changes, which hold old values, are emptied.
    """
    if contact.erased_at is not None:
        raise OperationError("This contact has already been erased.")
    identifying = [
        value
        for value in (
            contact.full_name,
            contact.email,
            contact.phone,
            contact.first_name,
            contact.last_name,
        )
        if value and len(value) >= 3
    ]
    # Every domain that holds more about the person wipes it (crm/*/personal_data.py), the
    # engagements' free text among them.
    erase_everywhere(contact, identifying)
    contact.first_name = "Erased"
    contact.last_name = f"contact #{contact.id}"
    contact.email = None
    contact.phone = None
    contact.title = None
    contact.languages = None
    contact.notes = None
    contact.tags = []
    contact.consent_status = ConsentStatus.WITHDRAWN
    contact.consent_source = "erasure"
    contact.consent_at = utcnow()
    contact.erased_at = utcnow()
    contact.set_search_fields()
    contact.touch(actor)
    db.session.execute(
        sa.update(AuditEntry)
        .where(AuditEntry.object_type == "contact", AuditEntry.object_id == contact.id)
        .values(changes=None, summary="(erased)")
    )
    audit.record(actor, AuditAction.ERASE, "contact", contact.id, summary="Personal data erased")
    db.session.flush()


def strike(text: str, identifying: list[str]) -> str:
    """Replace every mention of the given values (any case) with “[erased]”; longest first."""
    for value in sorted(identifying, key=len, reverse=True):
        text = re.sub(re.escape(value), "[erased]", text, flags=re.IGNORECASE)
    return text


def grant_consent(actor, contact: Contact, source: str) -> bool:
    """The person said yes to email themselves (a public form). True when it changed anything."""
    if contact.erased_at is not None or contact.consent_status is ConsentStatus.GRANTED:
        return False
    old = contact.consent_status.value
    _apply_consent(contact, ConsentStatus.GRANTED, source)
    contact.touch(actor)
    audit.record(
        actor,
        AuditAction.UPDATE,
        "contact",
        contact.id,
        summary=f"Consent given: {source}",
        changes={"consent_status": [old, ConsentStatus.GRANTED.value]},
    )
    db.session.flush()
    return True


def find_or_create(actor, fields: ContactFields) -> tuple[Contact, bool]:
    """The contact with `fields.email` as it is (what the team recorded wins), or a new one.

    Two requests with the same new address at once: the second one's insert hits the unique
    email index inside a savepoint, and it takes the contact the first one made.
    """
    existing = find_by_email(fields.email) if fields.email else None
    if existing is not None:
        return existing, False
    try:
        with db.session.begin_nested():
            return create_contact(actor, fields), True
    except IntegrityError:
        existing = find_by_email(fields.email) if fields.email else None
        if existing is None:
            raise
        return existing, False


def find_by_email(email: str) -> Contact | None:
    """The contact with this address (normalized first), if any."""
    try:
        address = normalize_email(email)
    except OperationError:
        return None
    return db.session.scalar(sa.select(Contact).where(Contact.email == address))
