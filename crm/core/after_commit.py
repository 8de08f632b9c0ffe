"""Work that must wait for the transaction to commit: deleting a file the transaction stops
needing, say. Run once the session's outermost transaction commits; dropped if it rolls back.

A callback registered inside a savepoint that is rolled back still runs if the outer
transaction commits, so use it only for work that is harmless then (a cache that is rebuilt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from crm.extensions import db

log = logging.getLogger(__name__)

_KEY = "after_commit"


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback()` once the current transaction of the app's session commits."""
    db.session().info.setdefault(_KEY, []).append(callback)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _run(session: sa.orm.Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    for callback in session.info.pop(_KEY, []):
        try:
            callback()
        except Exception:  # noqa: BLE001 - the commit stands; a failed clean-up is only logged
            log.warning("Work after a commit failed", exc_info=True)


@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _drop(session: sa.orm.Session, transaction: sa.orm.SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (a commit has run them already)
        session.info.pop(_KEY, None)
