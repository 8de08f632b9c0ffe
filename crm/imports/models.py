"""Import runs: one uploaded file, how its columns were read, and what it changed.

A run keeps enough to be undone: one item per record it created (removed on undo) or updated
(with the values it replaced, put back on undo).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.auth.models import User
from crm.core.db import enum_type, utcnow
from crm.extensions import Model


class RecordType(StrEnum):
    ORGANIZATIONS = "organizations"
    CONTACTS = "contacts"
    PARTICIPANTS = "participants"
    ENDORSEMENTS = "endorsements"
    PLEDGES = "pledges"

    @property
    def label(self) -> str:
        return {
            "organizations": "Organizations",
            "contacts": "Contacts",
            "participants": "Event participants",
            "endorsements": "Endorsements",
            "pledges": "Pledges",
        }[self.value]


class ExistingPolicy(StrEnum):
    """What to do with a row that matches a record we already have."""

    SKIP = "skip"
    FILL = "fill"  # fill the fields that are empty on the record
    OVERWRITE = "overwrite"

    @property
    def label(self) -> str:
        return {
            "skip": "Skip it (change nothing)",
            "fill": "Fill in only the fields that are empty",
            "overwrite": "Overwrite with the file's values",
        }[self.value]


class RunStatus(StrEnum):
    DRAFT = "draft"  # uploaded, being mapped and previewed
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # nothing was imported
    UNDONE = "undone"

    @property
    def label(self) -> str:
        return {
            "draft": "Not imported yet",
            "queued": "Waiting to start",
            "running": "Importing",
            "done": "Imported",
            "failed": "Failed (nothing imported)",
            "undone": "Undone",
        }[self.value]


# The kind of job that imports a run (`crm.imports.jobs`); each run has one such job.
RUN_JOB = "imports.run"


class ImportRun(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[RecordType] = mapped_column(enum_type(RecordType, 20))
    file_name: Mapped[str] = mapped_column(sa.String(255))
    # Where the upload is kept (under instance/imports), so a run can be previewed, run in the
    # background and its error file rebuilt.
    stored_name: Mapped[str] = mapped_column(sa.String(100))
    file_format: Mapped[str] = mapped_column(sa.String(10))  # csv | xlsx
    encoding: Mapped[str | None] = mapped_column(sa.String(20))
    delimiter: Mapped[str | None] = mapped_column(sa.String(5))
    headers: Mapped[list] = mapped_column(sa.JSON, default=list)
    total_rows: Mapped[int] = mapped_column(default=0)
    # {column header: field key}; columns not in it are ignored.
    mapping: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    policy: Mapped[ExistingPolicy] = mapped_column(
        enum_type(ExistingPolicy, 20), default=ExistingPolicy.SKIP
    )
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus, 20), default=RunStatus.DRAFT)
    dry_run: Mapped[bool] = mapped_column(default=False)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    failed_count: Mapped[int] = mapped_column(default=0)
    # Records created on the side (organizations named in a contacts file).
    extra_created: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Failed rows as CSV text: the original columns plus a "reason" column.
    error_file: Mapped[str | None] = mapped_column(sa.Text)
    # Rows that look like records we have but were not merged: [{row, record_id, name, score}]
    review: Mapped[list] = mapped_column(sa.JSON, default=list)
    message: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    undone_by: Mapped[User | None] = relationship(foreign_keys=[undone_by_id])

    __table_args__ = (sa.Index("ix_import_run_created_at", "created_at", "id"),)
    __mapper_args__ = {"version_id_col": version}

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED, RunStatus.UNDONE)

    @property
    def job_key(self) -> str:
        """The unique key of the run's one job (a retry from the Jobs page runs the same job)."""
        return f"{RUN_JOB}:{self.id}"


class ItemAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


class ImportItem(Model):
    """Records a run created (a run of consecutive ids, `record_id` to `record_id_last`: a bulk
    insert gives consecutive ids, so 100,000 new contacts are one item) or one it updated, with
    `before` holding the replaced values."""

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("import_run.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(sa.String(40))
    record_id: Mapped[int]
    record_id_last: Mapped[int | None]  # created ranges only
    action: Mapped[ItemAction] = mapped_column(enum_type(ItemAction, 10))
    before: Mapped[dict | None] = mapped_column(sa.JSON)

    __table_args__ = (sa.Index("ix_import_item_run", "run_id", "table_name", "action"),)


class SavedMapping(Model):
    """A named column mapping to reuse for files from the same source."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    record_type: Mapped[RecordType] = mapped_column(enum_type(RecordType, 20))
    mapping: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("record_type", "name", name="uq_saved_mapping_type_name"),
    )


class ImportUpload(Model):
    """An uploaded file's bytes, kept in the database until its run ends, so whichever worker
    runs the import, on whichever machine, reads the same file (and a restart loses nothing)."""

    stored_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
