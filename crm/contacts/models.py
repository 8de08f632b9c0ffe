"""Contacts: the people we engage, with their consent to be emailed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import TrackedMixin, enum_type
from crm.core.text import fold
from crm.extensions import Model
from crm.organizations.models import Organization
from crm.tags.models import Tag, contact_tag


class ConsentStatus(StrEnum):
    UNKNOWN = "unknown"
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"unknown": "Not asked", "granted": "Agreed", "withdrawn": "Withdrawn"}[self.value]


class Contact(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100), default="")
    # Normalized by email-validator; unique when present.
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    title: Mapped[str | None] = mapped_column(sa.String(150))
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organization.id"))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    # ISO 639 codes, comma separated ("en,fr")
    languages: Mapped[str | None] = mapped_column(sa.String(100))
    consent_status: Mapped[ConsentStatus] = mapped_column(
        enum_type(ConsentStatus, 20), default=ConsentStatus.UNKNOWN
    )
    consent_source: Mapped[str | None] = mapped_column(sa.String(100))
    consent_at: Mapped[datetime | None]
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    erased_at: Mapped[datetime | None]
    # Derived by set_search_fields(): "last first" folded (see core/text.py), the list's order.
    sort_name: Mapped[str] = mapped_column(sa.String(201), default="")
    # Derived: folded "first last email", indexed for substring search (FTS5 trigram on
    # SQLite, pg_trgm GIN on PostgreSQL; both created in the migration).
    search_text: Mapped[str] = mapped_column(sa.String(460), default="")

    organization: Mapped[Organization | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tag, order_by=Tag.name)

    __table_args__ = (
        # On PostgreSQL the name index also carries what a search tests, so a search listed by
        # name walks it without reading rows (migration 0004_search_speed).
        sa.Index(
            "ix_contact_sort_name",
            "sort_name",
            "id",
            postgresql_include=["search_text", "organization_id"],
        ),
        sa.Index("ix_contact_created_at", "created_at", "id"),
        sa.Index("ix_contact_organization", "organization_id", "sort_name", "id"),
        sa.Index("ix_contact_country", "country", "sort_name", "id"),
        sa.Index("ix_contact_owner", "owner_id", "sort_name", "id"),
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def tag_names(self) -> str:
        return ", ".join(t.name for t in self.tags)

    @property
    def language_list(self) -> list[str]:
        return [code for code in (self.languages or "").split(",") if code]

    def set_search_fields(self) -> None:
        self.sort_name = sort_name_for(self.first_name, self.last_name)
        self.search_text = search_text_for(self.first_name, self.last_name, self.email)

    def __repr__(self) -> str:
        return f"<Contact {self.full_name}>"


def sort_name_for(first_name: str, last_name: str) -> str:
    # Folded so Álvarez sorts with the A's and Yılmaz with the Y's.
    return fold(f"{last_name or ''} {first_name or ''}")[:201]


def search_text_for(first_name: str, last_name: str, email: str | None) -> str:
    return fold(f"{first_name or ''} {last_name or ''} {email or ''}")[:460]
