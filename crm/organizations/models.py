"""Organizations: brands, suppliers, technology providers, unions, NGOs and the rest."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.db import TrackedMixin, enum_type
from crm.extensions import Model
from crm.tags.models import Tag, organization_tag


class OrganizationKind(StrEnum):
    BRAND = "brand"
    SUPPLIER = "supplier"
    TECHNOLOGY_PROVIDER = "technology_provider"
    NGO = "ngo"
    WORKER_ORGANIZATION = "worker_organization"
    MULTI_STAKEHOLDER = "multi_stakeholder_initiative"
    INVESTOR = "investor"
    GOVERNMENT = "government"
    ACADEMIC = "academic"
    OTHER = "other"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    OrganizationKind.BRAND: "Brand / retailer",
    OrganizationKind.SUPPLIER: "Supplier",
    OrganizationKind.TECHNOLOGY_PROVIDER: "Technology provider",
    OrganizationKind.NGO: "NGO",
    OrganizationKind.WORKER_ORGANIZATION: "Worker organization / union",
    OrganizationKind.MULTI_STAKEHOLDER: "Multi-stakeholder initiative",
    OrganizationKind.INVESTOR: "Investor",
    OrganizationKind.GOVERNMENT: "Government",
    OrganizationKind.ACADEMIC: "Academic",
    OrganizationKind.OTHER: "Other",
}


class Organization(TrackedMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Lower-cased name for sorting, prefix search and duplicate checks.
    name_key: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[OrganizationKind] = mapped_column(enum_type(OrganizationKind))
    sector: Mapped[str | None] = mapped_column(sa.String(100))
    country: Mapped[str | None] = mapped_column(sa.String(2))
    website: Mapped[str | None] = mapped_column(sa.String(300))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    tags: Mapped[list[Tag]] = relationship(secondary=organization_tag, order_by=Tag.name)

    __table_args__ = (
        sa.Index("ix_organization_name_key", "name_key", "id"),
        sa.Index("ix_organization_kind", "kind"),
        sa.Index("ix_organization_country", "country"),
    )

    @property
    def tag_names(self) -> str:
        return ", ".join(t.name for t in self.tags)

    def __repr__(self) -> str:
        return f"<Organization {self.name}>"
