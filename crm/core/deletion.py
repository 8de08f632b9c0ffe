"""Deleting a record that domains above its own refer to.

A domain cannot import the domains that stand on it, so they register here instead: a
`blocker` says why a record must stay (deleting it would destroy their history), and a
`detacher` lets go of a record before it goes (tasks about it keep their work, without the
link). Each domain's registrations are loaded by `crm.register_domain_hooks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Blocker = Callable[[Any], str | None]  # record -> why it cannot be deleted, or None
Detacher = Callable[[Any, str, int], object]  # actor, record type, record id; returns unused

_blockers: dict[str, list[Blocker]] = defaultdict(list)
_detachers: list[Detacher] = []


def blocker(record_type: str) -> Callable[[Blocker], Blocker]:
    """Register a check that can refuse deleting a `record_type` record ("organization")."""

    def register(func: Blocker) -> Blocker:
        _blockers[record_type].append(func)
        return func

    return register


def blockers(record_type: str, record: Any) -> list[str]:
    """Why `record` cannot be deleted, in the order the checks were registered (a lower
    domain's first: a domain above imports it, so its checks register later)."""
    return [reason for func in _blockers[record_type] if (reason := func(record))]


def detacher(func: Detacher) -> Detacher:
    """Register what lets go of any record that is about to be deleted."""
    _detachers.append(func)
    return func


def detach(actor: Any, record_type: str, record_id: int) -> None:
    """`record_type` #`record_id` is being deleted: every domain that points at it lets go."""
    for func in _detachers:
        func(actor, record_type, record_id)
