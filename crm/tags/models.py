"""Free-form tags shared by organizations and contacts."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import Model, db


class Tag(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)

    def __repr__(self) -> str:
        return f"<Tag {self.name}>"


contact_tag = sa.Table(
    "contact_tag",
    db.metadata,
    sa.Column("contact_id", sa.ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_contact_tag_tag_contact", "tag_id", "contact_id"),
)

organization_tag = sa.Table(
    "organization_tag",
    db.metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("tag_id", sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_organization_tag_tag_organization", "tag_id", "organization_id"),
)
