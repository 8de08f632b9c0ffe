"""Standards and principles: version 1.0 is current, 2.0 goes to public consultation."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.db import enum_type
from crm.extensions import Model


class StandardStatus(StrEnum):
    DRAFT = "draft"
    CONSULTATION = "consultation"
    CURRENT = "current"
    RETIRED = "retired"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Standard(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(20), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[StandardStatus] = mapped_column(enum_type(StandardStatus, 20))

    principles: Mapped[list[Principle]] = relationship(
        back_populates="standard", order_by="Principle.position"
    )

    def __repr__(self) -> str:
        return f"<Standard {self.version}>"


class Principle(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    standard_id: Mapped[int] = mapped_column(sa.ForeignKey("standard.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(10))  # "P1"
    title: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str | None] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)

    standard: Mapped[Standard] = relationship(back_populates="principles")

    __table_args__ = (sa.UniqueConstraint("standard_id", "code", name="uq_principle_code"),)

    @property
    def label(self) -> str:
        return f"{self.code} · {self.title}"

    def __repr__(self) -> str:
        return f"<Principle {self.code}>"
