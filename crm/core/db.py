"""Declarative base, naming convention and the columns every record carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    registry,
    relationship,
)

# Stable constraint names keep Alembic revisions identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Actor(Protocol):
    """Who makes a change, as the core sees them without importing accounts: a user
    (crm.auth.models.User) or anything with an id, name and email."""

    id: int
    name: str
    email: str


def rows_touched(result: sa.Result[*tuple[Any, ...]]) -> int:
    """How many rows an INSERT, UPDATE or DELETE run by the session touched. Session.execute
    is typed to give a plain Result, but for these statements it is a CursorResult, which
    counts them."""
    assert isinstance(result, sa.CursorResult), "a DML statement's result is a CursorResult"
    return result.rowcount


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )

    if TYPE_CHECKING:
        # Every model is mapped to a table of its own (SQLAlchemy types it as any FromClause),
        # so bulk SQL may insert into and update `Model.__table__`.
        __table__: ClassVar[sa.Table]


class TrackedMixin:
    """Who created and last changed a record, when, and a version for optimistic locking.

    The version column makes SQLAlchemy add `WHERE version = :old` to every UPDATE, so two
    concurrent writers cannot both succeed; forms also carry the version they were loaded with.
    """

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    if TYPE_CHECKING:
        # What the mixin reads of the model it is mixed into. (Not its __table__: declared
        # here as well, it would have to agree with both Base's and SQLAlchemy's own.)
        id: Mapped[int]

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    @declared_attr
    def updated_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    @declared_attr
    def created_by(cls: type[TrackedMixin]) -> Mapped[Actor | None]:  # noqa: N805
        return relationship("User", foreign_keys=[cls.created_by_id], lazy="select")

    @declared_attr
    def updated_by(cls: type[TrackedMixin]) -> Mapped[Actor | None]:  # noqa: N805
        return relationship("User", foreign_keys=[cls.updated_by_id], lazy="select")

    def touch(self, actor: Actor | None) -> None:
        """Record who made the change being flushed; a new record also gets its creator."""
        actor_id = actor.id if actor is not None else None
        if self.created_by_id is None and self.id is None:
            self.created_by_id = actor_id
        self.updated_by_id = actor_id
        self.updated_at = utcnow()

    @declared_attr.directive
    def __mapper_args__(cls: type[Base]) -> dict:  # noqa: N805  (the model, mapped to its table)
        return {"version_id_col": cls.__table__.c.version}


def enum_type(enum_cls: type, length: int = 40) -> sa.Enum:
    """A StrEnum stored by value as text (no native PG enum: a new member needs no DDL)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
