"""Records a task can point at: what each is called and where its page is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from flask import url_for

from crm.extensions import db


@dataclass(frozen=True)
class Linkable:
    label: str
    model: str  # "module:Class", imported when needed (no import cycles)
    name: Callable[[Any], str]  # given the record `model` names, loaded at run time
    endpoint: str
    arg: str

    def load(self, record_id: int):
        module, cls = self.model.split(":")
        return db.session.get(getattr(import_module(module), cls), record_id)


LINKABLE: dict[str, Linkable] = {
    "organization": Linkable(
        "Organization", "crm.organizations.models:Organization", lambda o: o.name,
        "organizations.detail", "organization_id",
    ),
    "contact": Linkable(
        "Contact", "crm.contacts.models:Contact", lambda c: c.full_name,
        "contacts.detail", "contact_id",
    ),
    "event": Linkable(
        "Event", "crm.events.models:Event", lambda e: e.name, "events.detail", "event_id"
    ),
    "pledge": Linkable(
        "Pledge", "crm.pledges.models:Pledge",
        lambda p: f"Pledge of {p.organization.name} ({p.standard.version})",
        "pledges.detail", "pledge_id",
    ),
    "consultation": Linkable(
        "Consultation", "crm.consultations.models:Consultation", lambda c: c.title,
        "consultations.detail", "consultation_id",
    ),
    "champion": Linkable(
        "Champion", "crm.champions.models:Champion", lambda c: f"Champion {c.name}",
        "champions.detail", "champion_id",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class LinkedRecord:
    label: str
    url: str


def describe(record_type: str | None, record_id: int | None) -> LinkedRecord | None:
    """The linked record's name and page, or None (no link, or the record is gone)."""
    kind = LINKABLE.get(record_type or "")
    if kind is None or record_id is None:
        return None
    record = kind.load(record_id)
    if record is None:
        return None
    values: dict[str, Any] = {kind.arg: record_id}  # url_for takes any value for a route argument
    return LinkedRecord(f"{kind.label}: {kind.name(record)}", url_for(kind.endpoint, **values))
