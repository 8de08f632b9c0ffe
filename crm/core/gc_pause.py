"""Pausing Python's cycle collector around bulk work.

An import holds thousands of rows in flight, and every few thousand allocations the collector
walks all long-lived objects to look for cycles; at 100,000 rows those walks cost a fifth of
the run (measured in benchmarks/imports.py) and find nothing, since rows form no cycles.
Reference counting still frees everything as usual; only cycle collection waits until the
work ends. Nested and concurrent pauses (two imports in two threads) are counted, so the
collector comes back when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0


@contextmanager
def paused_gc() -> Iterator[None]:
    global _pauses
    with _lock:
        if _pauses == 0 and not gc.isenabled():
            was_disabled = True  # someone else turned it off: leave it as it is
        else:
            was_disabled = False
            _pauses += 1
            gc.disable()
    try:
        yield
    finally:
        if not was_disabled:
            with _lock:
                _pauses -= 1
                if _pauses == 0:
                    gc.enable()
