"""Pairs a lead said are not duplicates, and the merges made, so neither shows again."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.contacts.models import Contact
from crm.core.db import enum_type, utcnow
from crm.extensions import Model
from crm.organizations.models import Organization

# The jobs (crm.duplicates.jobs): a full scan of one kind, the nightly scans, and the frequent
# comparison of the records changed since it last ran.
SCAN_JOB = "duplicates.scan"
NIGHTLY_JOB = "duplicates.nightly"
COMPARE_JOB = "duplicates.compare"


class DuplicateKind(StrEnum):
    CONTACT = "contact"
    ORGANIZATION = "organization"

    @property
    def label(self) -> str:
        return {"contact": "Contacts", "organization": "Organizations"}[self.value]


class DuplicateDismissal(Model):
    """ "Not duplicates": the pair (low_id < high_id) no longer shows on the duplicates page.

    No foreign keys to contact/organization (one table serves both kinds); a merge or a delete
    removes the rows that name the record that is gone.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    low_id: Mapped[int]
    high_id: Mapped[int]
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)
    dismissed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )

    dismissed_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("kind", "low_id", "high_id"),)


class DuplicateMerge(Model):
    """One merge: `merged_id` is gone, its records now belong to `survivor_id`.

    Kept so a second submit of the same merge (or a stale pair) says where the record went
    instead of a bare "not found". The audit trail has the field-by-field detail.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    survivor_id: Mapped[int]
    merged_id: Mapped[int]
    # The merged record's name, since the record itself is gone.
    merged_label: Mapped[str] = mapped_column(sa.String(300), default="")
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    merged_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.UniqueConstraint("kind", "merged_id"),)


class ScanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"queued": "Waiting", "running": "Running", "done": "Done", "failed": "Failed"}[
            self.value
        ]

    @property
    def active(self) -> bool:
        return self in (ScanStatus.QUEUED, ScanStatus.RUNNING)


class DuplicatePair(Model):
    """A likely duplicate pair (low_id < high_id) as the last scan or comparison found it.

    Written by the full scan (every pair of a kind replaced at once) and by the comparison of
    changed records (their pairs only); read by the duplicates page a page at a time, in score
    order, through ix_duplicate_pair_rank. No foreign keys, as for dismissals: a merge removes
    the pairs of the record that is gone, the page skips pairs whose record is missing.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    low_id: Mapped[int]
    high_id: Mapped[int]
    score: Mapped[int]
    # What matched, as the page says it: [{"rule": "name", "similarity": 96,
    # "organization_id": 12}, ...] in the order the reasons are shown.
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    found_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("kind", "low_id", "high_id"),
        # The page: best first, then the newest records (keyset: (score, low, high) < last).
        sa.Index("ix_duplicate_pair_rank", "kind", "score", "low_id", "high_id"),
        # A record's pairs from its higher side (its lower side is the unique constraint's).
        sa.Index("ix_duplicate_pair_high", "kind", "high_id"),
    )


def pairs_table(kind: DuplicateKind) -> str:
    """The name the stored pairs of `kind` are counted under (`crm.core.table_counts`)."""
    return f"duplicate_pair.{kind.value}"


class DuplicateScan(Model):
    """One full scan of a kind: queued by the nightly schedule or "Scan again", run as a job."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20))
    status: Mapped[ScanStatus] = mapped_column(enum_type(ScanStatus, 20), default=ScanStatus.QUEUED)
    # The kind while queued or running, NULL after: one waiting or running scan per kind, even
    # when two people press "Scan again" at the same moment (NULLs never clash).
    active_kind: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    job_id: Mapped[int | None]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Where a finished scan got to (a running one's progress is its job's, read live).
    progress_done: Mapped[int | None]
    progress_total: Mapped[int | None]
    records: Mapped[int | None]  # how many records were scanned
    pairs_found: Mapped[int | None]
    seconds: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(sa.Text)

    requested_by: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_duplicate_scan_kind", "kind", "id"),)


class DuplicateWatermark(Model):
    """How far the comparison of changed records has read, per kind: records changed after
    `changed_after` (less an overlap, see crm.duplicates.compare) are compared next time."""

    kind: Mapped[DuplicateKind] = mapped_column(enum_type(DuplicateKind, 20), primary_key=True)
    changed_after: Mapped[datetime]
    compared_at: Mapped[datetime | None]


def phone_digits_sql(column: sa.ColumnElement) -> sa.ColumnElement:
    """A phone number without the usual separators, the same on SQLite and PostgreSQL: what the
    comparison of a changed contact looks its phone up by (the scan takes digits only)."""
    # Constants written into the SQL, not bound: PostgreSQL matches an expression index only
    # against the same expression.
    for separator in PHONE_SEPARATORS:
        column = sa.func.replace(
            column,
            sa.literal(separator, literal_execute=True),
            sa.literal("", literal_execute=True),
        )
    return column


PHONE_SEPARATORS = (" ", "-", "(", ")", "+", ".", "/")

# Lookups for comparing a changed record against its blocks. Declared here, not in the
# contacts and organizations models, since only the duplicates comparison uses them.
_contact = Contact.__table__
_organization = Organization.__table__
sa.Index("ix_contact_updated_at", _contact.c.updated_at, _contact.c.id)
sa.Index("ix_organization_updated_at", _organization.c.updated_at, _organization.c.id)
sa.Index("ix_contact_email_lower", sa.func.lower(_contact.c.email))
sa.Index("ix_contact_phone_digits", phone_digits_sql(_contact.c.phone))
