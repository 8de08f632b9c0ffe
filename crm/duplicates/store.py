"""The pairs kept in the database: written by a full scan (all of a kind at once) or by the
comparison of changed records (theirs only), removed at once by a merge or an erasure."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crm.core import deletion
from crm.core.db import rows_touched, utcnow
from crm.duplicates.models import DuplicateKind, DuplicatePair
from crm.duplicates.scan import Pair, Reason, ScanResult
from crm.extensions import db

_pair = DuplicatePair.__table__
# Ids per statement in an IN list: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 5_000


def reason_json(reason: Reason) -> dict[str, Any]:
    found: dict[str, Any] = {"rule": reason.rule}
    if reason.similarity is not None:
        found["similarity"] = reason.similarity
    if reason.organization_id is not None:
        found["organization_id"] = reason.organization_id
    return found


def reason_of(data: dict[str, Any]) -> Reason:
    return Reason(data["rule"], data.get("similarity"), data.get("organization_id"))


def pair_of(row: Any) -> Pair:
    """A stored pair as the scan's Pair (the page describes its reasons)."""
    return Pair(
        row.kind, row.low_id, row.high_id, row.score, tuple(reason_of(r) for r in row.reasons)
    )


def _rows(pairs: list[Pair], at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "kind": p.kind.value,
            "low_id": p.low_id,
            "high_id": p.high_id,
            "score": p.score,
            "reasons": [reason_json(r) for r in p.reasons],
            "found_at": at,
        }
        for p in pairs
    ]


def _insert(pairs: list[Pair]) -> None:
    at = utcnow()
    for start in range(0, len(pairs), CHUNK):
        db.session.execute(sa.insert(_pair), _rows(pairs[start : start + CHUNK], at))


def replace_all(kind: DuplicateKind, result: ScanResult) -> int:
    """A full scan's pairs instead of every stored pair of `kind`, in the caller's transaction
    (so no reader sees half of it). Returns how many."""
    pairs = result.pairs
    db.session.execute(sa.delete(_pair).where(_pair.c.kind == kind.value))
    _insert(pairs)
    if db.session.get_bind().dialect.name == "postgresql":
        # Fresh statistics now, not when autovacuum comes by: with stale ones the planner
        # reads every pair for the page instead of the first fifty in index order.
        db.session.execute(sa.text("ANALYZE duplicate_pair"))
    return len(pairs)


def forget(kind: DuplicateKind, ids: Collection[int]) -> int:
    """Remove every stored pair that names one of `ids` (merged, erased, changed)."""
    ordered = sorted(set(ids))
    removed = 0
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        removed += rows_touched(
            db.session.execute(
                sa.delete(_pair).where(
                    _pair.c.kind == kind.value,
                    sa.or_(_pair.c.low_id.in_(chunk), _pair.c.high_id.in_(chunk)),
                )
            )
        )
    return removed


def forget_pair(kind: DuplicateKind, low_id: int, high_id: int) -> None:
    """Remove one stored pair (dismissed as not duplicates)."""
    db.session.execute(
        sa.delete(_pair).where(
            _pair.c.kind == kind.value, _pair.c.low_id == low_id, _pair.c.high_id == high_id
        )
    )


def replace_for(kind: DuplicateKind, ids: Collection[int], result: ScanResult) -> int:
    """The pairs of the records `ids` as `result` found them now (pairs among other records in
    `result` are left as they are). Returns how many pairs were written."""
    wanted = set(ids)
    forget(kind, wanted)
    frame = result.frame
    mine = frame[frame["low"].isin(wanted) | frame["high"].isin(wanted)]
    pairs = result.pairs_of(mine)
    _insert(pairs)
    return len(pairs)


@deletion.detacher
def _forget_deleted(actor: Any, record_type: str, record_id: int) -> None:
    """A deleted contact or organization takes its stored pairs with it."""
    if record_type in (DuplicateKind.CONTACT.value, DuplicateKind.ORGANIZATION.value):
        forget(DuplicateKind(record_type), [record_id])
