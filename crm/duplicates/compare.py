"""Comparing the records created or changed since the last look, against their blocks only.

Every `COMPARE_EVERY` the worker runs `duplicates.compare`: for each kind it takes the records
whose `updated_at` is after its watermark (less `OVERLAP`, so a save that committed a little
after its timestamp is still seen; comparing a record twice changes nothing), drops their
stored pairs and stores the pairs the scan's own rules find for them now. The layers stay
clean: contacts and organizations know nothing of duplicates; their `updated_at` is the signal.

Contacts are compared with the contacts that share a block with them, read by index: the same
email (lower-cased), the same phone (without separators; a number written with other
characters is matched by the nightly scan), the same organization (the name block). Running the
scan's code on that set finds the same pairs for the changed contacts as a full scan would.
Organizations are far fewer, and their name blocks (first and last word less legal forms) have
no index: the organization table is read whole, and the changed organizations are compared with
the organizations that share one of their block keys.

More than `MAX_CHANGED` records changed at once (a large import) queue a full scan instead.
Merges, dismissals, erasures and deletions remove their pairs at once, in their own transaction
(crm.duplicates.store); a merge that commits while a comparison is reading is caught by the
next one (the merges since the watermark), and the page never shows a pair whose record is gone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.duplicates import scan as scanning
from crm.duplicates import store
from crm.duplicates.models import (
    PHONE_SEPARATORS,
    DuplicateDismissal,
    DuplicateKind,
    DuplicateMerge,
    DuplicateWatermark,
    phone_digits_sql,
)
from crm.duplicates.operations.scans import request_scan
from crm.extensions import db
from crm.organizations.models import Organization

COMPARE_EVERY = timedelta(seconds=30)
OVERLAP = timedelta(seconds=60)
MAX_CHANGED = 20_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK = store.CHUNK


def watermark(kind: DuplicateKind, *, lock: bool = False) -> DuplicateWatermark:
    """The kind's watermark row (made on first use: everything counts as changed), locked on
    PostgreSQL with `lock` so a full scan's write and a comparison take turns."""
    query = sa.select(DuplicateWatermark).where(DuplicateWatermark.kind == kind)
    if lock:
        query = query.with_for_update()
    mark = db.session.scalar(query)
    if mark is None:
        mark = DuplicateWatermark(kind=kind, changed_after=EPOCH)
        db.session.add(mark)
        db.session.flush()
    return mark


def _changed(model: Any, since: datetime) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(model.id)
            .where(model.updated_at > since)
            .order_by(model.updated_at, model.id)
            .limit(MAX_CHANGED + 1)
        )
    )


def merged_since(kind: DuplicateKind, since: datetime) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(DuplicateMerge.merged_id).where(
                DuplicateMerge.kind == kind, DuplicateMerge.merged_at > since
            )
        )
    )


def compare_changed(
    kind: DuplicateKind,
    threshold: int,
    now: datetime | None = None,
    reading: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> dict[str, int]:
    """Compare the records of `kind` changed since the watermark; store their pairs.

    The reading and comparing happen inside `reading()` (a job's: on SQLite without the write
    lock), the writing after it, in the caller's transaction."""
    now = now or utcnow()
    model = Contact if kind is DuplicateKind.CONTACT else Organization
    result: scanning.ScanResult | None = None
    with reading():
        after = db.session.scalar(
            sa.select(DuplicateWatermark.changed_after).where(DuplicateWatermark.kind == kind)
        )
        since = max(EPOCH, (after or EPOCH) - OVERLAP)
        changed = _changed(model, since)
        gone = merged_since(kind, since)
        if changed and len(changed) <= MAX_CHANGED:
            rows: Sequence[tuple] = (
                contact_rows_around(changed)
                if kind is DuplicateKind.CONTACT
                else organization_rows_around(
                    scanning.read_rows(scanning.ORGANIZATION_SQL), changed
                )
            )
            result = scanning.scan(kind, threshold, rows)
    mark = watermark(kind, lock=True)  # a full scan storing its pairs now goes first
    outcome = {"changed": len(changed), "pairs": 0, "full_scan": 0}
    if gone:
        store.forget(kind, gone)
    if len(changed) > MAX_CHANGED:
        _scan, queued = request_scan(None, kind)
        outcome["full_scan"] = int(queued)
    elif result is not None:
        outcome["pairs"] = store.replace_for(
            kind, changed, _without_dismissed(kind, result, changed)
        )
    mark.changed_after = now
    mark.compared_at = utcnow()
    db.session.flush()
    return outcome


def _without_dismissed(
    kind: DuplicateKind, result: scanning.ScanResult, changed: Sequence[int]
) -> scanning.ScanResult:
    """The result less the pairs of the changed records a lead dismissed (the page hides them
    anyway; not storing them keeps its pages full)."""
    if result.frame.empty:
        return result
    dismissed: set[tuple[int, int]] = set()
    for start in range(0, len(changed), CHUNK):
        chunk = changed[start : start + CHUNK]
        dismissed.update(
            (row.low_id, row.high_id)
            for row in db.session.execute(
                sa.select(DuplicateDismissal.low_id, DuplicateDismissal.high_id).where(
                    DuplicateDismissal.kind == kind,
                    sa.or_(
                        DuplicateDismissal.low_id.in_(chunk), DuplicateDismissal.high_id.in_(chunk)
                    ),
                )
            )
        )
    if dismissed:
        keys = zip(result.frame["low"].tolist(), result.frame["high"].tolist(), strict=True)
        result.frame = result.frame[[key not in dismissed for key in keys]]
    return result


def contact_rows_around(ids: Sequence[int]) -> list[tuple]:
    """The changed contacts and every contact sharing a block with them, as CONTACT_SQL reads
    them (erased contacts are in no block)."""
    contact = Contact.__table__
    columns = (
        contact.c.id,
        contact.c.sort_name,
        sa.func.lower(contact.c.email),
        contact.c.phone,
        contact.c.organization_id,
    )
    live = contact.c.erased_at.is_(None)
    rows: dict[int, tuple] = {}

    def take(condition: sa.ColumnElement[bool]) -> list[tuple]:
        found = [tuple(r) for r in db.session.execute(sa.select(*columns).where(live, condition))]
        for row in found:
            rows[row[0]] = row
        return found

    mine: list[tuple] = []
    for start in range(0, len(ids), CHUNK):
        mine += take(contact.c.id.in_(ids[start : start + CHUNK]))
    emails = sorted({r[2] for r in mine if r[2]})
    phones = sorted({d for d in (_digits(r[3]) for r in mine) if d})
    organizations = sorted({r[4] for r in mine if r[4] is not None})
    for values, column in (
        (emails, sa.func.lower(contact.c.email)),
        (phones, phone_digits_sql(contact.c.phone)),
        (organizations, contact.c.organization_id),
    ):
        for start in range(0, len(values), CHUNK):
            take(column.in_(values[start : start + CHUNK]))
    return list(rows.values())


def _digits(phone: str | None) -> str | None:
    """The phone as the index holds it, when it is long enough to count (the scan's rule)."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < scanning.MIN_PHONE_DIGITS:
        return None
    stripped = phone
    for separator in PHONE_SEPARATORS:
        stripped = stripped.replace(separator, "")
    return stripped


def organization_rows_around(rows: Sequence[tuple], ids: Sequence[int]) -> list[tuple]:
    """Of all organizations (as ORGANIZATION_SQL reads them), the changed ones and those that
    share a block key with one of them: the same name less legal forms, website domain, first
    word or last word (with the same numbers), or letters. Every block a changed organization
    is in comes whole, so the scan finds the same pairs for it as a full scan would."""
    if not rows:
        return []
    stripped = pd.Series([scanning.strip_legal_form(row[1] or "") for row in rows], dtype=object)
    digits = stripped.str.replace(r"\D", "", regex=True)
    first, last = scanning.first_and_last_words(stripped.to_numpy(dtype=object))
    keys = {
        "name": stripped,
        "domain": pd.Series([scanning.website_domain(row[2]) for row in rows], dtype=object),
        "first": first + "\x00" + digits,
        "last": last + "\x00" + digits,
        "letters": stripped.str.replace(" ", "", regex=False),
    }
    changed = set(ids)
    mine = np.fromiter((row[0] in changed for row in rows), dtype=bool, count=len(rows))
    keep = mine.copy()
    for values in keys.values():
        wanted = set(values[mine].dropna()) - {""}
        keep |= values.isin(wanted).to_numpy()
    return [row for row, kept in zip(rows, keep.tolist(), strict=True) if kept]
