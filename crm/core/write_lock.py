"""Which transactions take SQLite's write lock when they begin (`BEGIN IMMEDIATE`).

A transaction that has read cannot start writing once another has written since ("database is
locked", at once, whatever the busy timeout). So a transaction that may write takes the lock
first and waits for it (`busy_timeout`); one that only reads begins deferred and never waits.

- a web request: write transactions unless it is a GET (or HEAD, OPTIONS);
- a `flask crm` command: write transactions, unless the command says it only reads;
- a worker: write transactions while it runs a job, deferred while it looks for one;
- anything inside `transactions(writing=...)`: as the block says (an import checks its file
  in a deferred transaction, then writes in one that holds the lock).

PostgreSQL locks rows, not the database: there this changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask import g, has_app_context, has_request_context, request

READING_METHODS = ("GET", "HEAD", "OPTIONS")
LOCKED = "database is locked"


def begins_writing() -> bool:
    """Whether the transaction about to begin takes the write lock at once."""
    if has_app_context():
        chosen = g.get("write_transactions")
        if chosen is not None:  # a block, a job or a command said so
            return bool(chosen)
    if has_request_context():
        return request.method not in READING_METHODS and not g.get("reading_only")
    # A command line (`flask crm ...`): it writes unless it said it only reads.
    return click.get_current_context(silent=True) is not None


@contextmanager
def transactions(*, writing: bool) -> Iterator[None]:
    """Transactions begun inside the block take the write lock at their start (`writing`) or
    begin deferred (reads only). The caller ends any transaction in hand before the block."""
    if not has_app_context():
        yield
        return
    before = g.get("write_transactions")
    g.write_transactions = writing
    try:
        yield
    finally:
        g.write_transactions = before


def only_reads() -> None:
    """Called by a command that never writes: its transactions begin deferred."""
    g.write_transactions = False


def is_locked(error: BaseException) -> bool:
    """A wait for SQLite's write lock that ran out (`busy_timeout`)."""
    return isinstance(error, sa.exc.OperationalError) and LOCKED in str(error.orig)
