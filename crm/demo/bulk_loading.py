"""What both bulk demo loads (organizations and contacts; the activity on them) stand on: a
connection of their own with the collector paused, reading through the driver, and progress
stamped with the time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from crm.core.gc_pause import paused_gc
from crm.extensions import db

Progress = Callable[[str], None]

# None where np.where fills the gaps: what it makes of a bare None (an object scalar), which
# numpy's type stubs do not take.
NONE = np.array(None, dtype=object)


class Stopwatch:
    """Seconds since the load started, and progress messages stamped with them."""

    def __init__(self, progress: Progress | None) -> None:
        self.started = time.perf_counter()
        self.progress = progress

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(f"[{self.elapsed:5.1f} s] {message}")


@contextmanager
def load_connection() -> Iterator[tuple[Connection, Any]]:
    """A connection for a bulk load and its driver's own connection (for COPY and
    executemany). The caller's session commits first: it must hold no lock during the load.
    Millions of short-lived tuples would make the cycle collector run over and over, for
    nothing: it waits until the load ends."""
    db.session.commit()
    with paused_gc(), db.engine.connect() as connection:
        yield connection, connection.connection.driver_connection


def fetch_rows(raw: Any, sql: str) -> list[tuple]:
    """The rows of `sql` read through the driver's own connection `raw`."""
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()
