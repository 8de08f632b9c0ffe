"""Personal data held by other domains, for a contact's export and erasure.

The contacts domain owns both requests; domains that keep more about a person (a champion's
profile, event registrations) register what to add to the export and what to wipe on erasure,
so no domain is forgotten and contacts need not know about them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm.core import deletion

Exporter = Callable[[Any], dict]  # contact -> {section: data}
Eraser = Callable[[Any, list[str]], None]  # contact, identifying strings -> None

_exporters: list[Exporter] = []
_erasers: list[Eraser] = []


def exporter(func: Exporter) -> Exporter:
    _exporters.append(func)
    return func


def eraser(func: Eraser) -> Eraser:
    _erasers.append(func)
    return func


def deletion_blocker(func: deletion.Blocker) -> deletion.Blocker:
    """Records that deleting the contact would destroy (history, places): erase instead."""
    return deletion.blocker("contact")(func)


def deletion_blockers(contact) -> list[str]:
    return deletion.blockers("contact", contact)


def export_sections(contact) -> dict:
    sections: dict = {}
    for func in _exporters:
        sections.update(func(contact))
    return sections


def erase_everywhere(contact, identifying: list[str]) -> None:
    for func in _erasers:
        func(contact, identifying)
