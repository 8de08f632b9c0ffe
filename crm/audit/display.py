"""Audit entries as people read them: field labels, names instead of ids, labels for codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from markupsafe import Markup, escape

from crm.audit.models import AuditEntry
from crm.core.access import Role
from crm.core.countries import country_name, language_name

ACTION_LABELS = {
    "create": "Created",
    "update": "Changed",
    "delete": "Deleted",
    "export": "Exported",
    "erase": "Erased",
    "login": "Logged in",
    "password": "Password",
    "invite": "Invited",
}

FIELD_LABELS = {
    "owner_id": "owner",
    "follow_up_owner_id": "follow-up owner",
    "organization_id": "organization",
    "contact_id": "linked contact",
    "occurred_on": "date",
    "heard": "what we heard",
    "follow_up_on": "follow-up date",
    "follow_up_done_at": "follow-up done",
    "consent_status": "email consent",
    "consent_at": "consent recorded",
    "kind": "kind",
}


# How the records of domains above the trail read in it, registered by those domains (the
# trail sits below every domain it records, so it imports none of them).
NameLookup = Callable[[int], str | None]  # id -> the record's name, or None when it is gone
SummaryLink = Callable[[AuditEntry], Markup | None]  # the summary as HTML with a link, or None

_NAMES: dict[str, NameLookup] = {}
_VALUE_LABELS: dict[str, type[Enum]] = {"role": Role}  # field -> its values' enum (`.label`)
_KIND_LABELS: dict[str, type[Enum]] = {}  # object type -> the enum of its `kind` field
_SUMMARY_LINKS: list[SummaryLink] = []


def names(record: str) -> Callable[[NameLookup], NameLookup]:
    """Register how ids of `record` ("user", "organization") read: by name."""

    def register(lookup: NameLookup) -> NameLookup:
        _NAMES[record] = lookup
        return lookup

    return register


def value_labels(field: str, enum_cls: type[Enum]) -> None:
    """Values of `field` read as the labels of `enum_cls` (its members have `.label`)."""
    _VALUE_LABELS[field] = enum_cls


def kind_labels(object_type: str, enum_cls: type[Enum]) -> None:
    """The `kind` field of `object_type` records reads as the labels of `enum_cls`."""
    _KIND_LABELS[object_type] = enum_cls


def summary_link(link: SummaryLink) -> SummaryLink:
    """Register a way to link what an entry's summary names (an import run to its page)."""
    _SUMMARY_LINKS.append(link)
    return link


def _name(record: str) -> Callable[[Any], str]:
    def name(value: Any) -> str:
        lookup = _NAMES.get(record)
        return (lookup(value) if lookup else None) or f"{record} #{value}"

    return name


def _member_label(enum_cls: type[Enum], value: Any) -> str:
    try:
        return enum_cls(value).label  # type: ignore[attr-defined]
    except ValueError:
        return str(value)


def _timestamp(value: str) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%d %b %Y %H:%M UTC")
    except ValueError:
        return str(value)


def _day(value: str) -> str:
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d %b %Y")
    except ValueError:
        return str(value)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "owner_id": _name("user"),
    "follow_up_owner_id": _name("user"),
    "organization_id": _name("organization"),
    "country": country_name,
    "languages": lambda v: ", ".join(language_name(c) for c in str(v).split(",") if c),
    "consent_at": _timestamp,
    "follow_up_done_at": _timestamp,
    "erased_at": _timestamp,
}


def _formatter(field: str) -> Callable[[Any], str] | None:
    """How a field's values read: its own formatter, else by its name's ending (a user for
    `…_by_id`, a time for `…_at`, a day for `…_on`)."""
    if field in _FORMATTERS:
        return _FORMATTERS[field]
    if field.endswith("_by_id"):
        return _name("user")
    if field.endswith("_at"):
        return _timestamp
    if field.endswith("_on"):
        return _day
    return None


def _show(entry: AuditEntry, field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field == "kind" and entry.object_type in _KIND_LABELS:
        return _member_label(_KIND_LABELS[entry.object_type], value)
    if field in _VALUE_LABELS:
        return _member_label(_VALUE_LABELS[field], value)
    formatter = _formatter(field)
    if formatter is not None:
        return formatter(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# A merge keeps the merged record's values on the survivor's trail as "#<its id> <field>"
# (crm.duplicates.operations.merging): shown like the field itself, marked as the merged record's.
_MERGED_FIELD = re.compile(r"^#(\d+) (\w+)$")


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field.removesuffix("_id").replace("_", " "))


def change_rows(entry: AuditEntry) -> list[tuple[str, str, str]]:
    """(field label, old, new) for each change in the entry, ready to show."""
    rows = []
    for key, (old, new) in (entry.changes or {}).items():
        merged = _MERGED_FIELD.match(key)
        field = merged.group(2) if merged else key
        label = f"{_label(field)} (merged #{merged.group(1)})" if merged else _label(field)
        # The merged record's value is kept for the record, not blanked: say where it went.
        shown_new = "merged in, record deleted" if merged and new is None else None
        rows.append((label, _show(entry, field, old), shown_new or _show(entry, field, new)))
    return rows


def action_label(entry: AuditEntry) -> str:
    return ACTION_LABELS.get(entry.action.value, entry.action.value)


def summary_html(entry: AuditEntry) -> Markup:
    """The entry's summary, escaped, with a link where a registered `summary_link` gives one
    (an import it names links to that run's page for those who may open imports)."""
    for link in _SUMMARY_LINKS:
        linked = link(entry)
        if linked is not None:
            return linked
    return escape(entry.summary or "")
