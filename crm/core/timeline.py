"""A record's timeline: every domain that links things to contacts or organizations adds a source.

Later domains (events, endorsements, pledges) register their own sources, so the detail pages do
not need to know about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime


@dataclass
class TimelineItem:
    when: date | datetime
    kind: str  # a short label: "Meeting", "Changed", ...
    title: str
    url: str | None = None
    body: str | None = None
    icon: str = "circle"

    @property
    def sort_key(self) -> tuple:
        when = self.when
        if isinstance(when, datetime):
            return (when.date(), when.time().isoformat())
        return (when, "99")


Source = Callable[[int, int], list[TimelineItem]]
_sources: dict[str, list[Source]] = {"contact": [], "organization": []}


def timeline_source(record_type: str) -> Callable[[Source], Source]:
    def register(func: Source) -> Source:
        _sources[record_type].append(func)
        return func

    return register


def timeline_for(record_type: str, record_id: int, limit: int = 100) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for source in _sources[record_type]:
        items.extend(source(record_id, limit))
    items.sort(key=lambda item: item.sort_key, reverse=True)
    return items[:limit]
