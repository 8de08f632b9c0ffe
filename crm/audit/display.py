"""Audit entries as people read them: field labels, names instead of ids, labels for codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from crm.audit.models import AuditEntry
from crm.core.countries import country_name, language_name
from crm.extensions import db

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


def _user_name(value: int) -> str:
    from crm.auth.models import User

    return db.session.scalar(sa.select(User.name).where(User.id == value)) or f"user #{value}"


def _organization_name(value: int) -> str:
    from crm.organizations.models import Organization

    name = db.session.scalar(sa.select(Organization.name).where(Organization.id == value))
    return name or f"organization #{value}"


def _enum_label(enum_path: str) -> Callable[[Any], str]:
    def label(value: Any) -> str:
        from importlib import import_module

        module, name = enum_path.rsplit(".", 1)
        enum_cls = getattr(import_module(module), name)
        try:
            return enum_cls(value).label
        except ValueError:
            return str(value)

    return label


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
    "owner_id": _user_name,
    "follow_up_owner_id": _user_name,
    "organization_id": _organization_name,
    "country": country_name,
    "languages": lambda v: ", ".join(language_name(c) for c in str(v).split(",") if c),
    "consent_status": _enum_label("crm.contacts.models.ConsentStatus"),
    "consent_at": _timestamp,
    "follow_up_done_at": _timestamp,
    "erased_at": _timestamp,
}
_KIND_BY_OBJECT = {
    "organization": _enum_label("crm.organizations.models.OrganizationKind"),
    "engagement": _enum_label("crm.engagements.models.EngagementKind"),
}


def _formatter(field: str) -> Callable[[Any], str] | None:
    """How a field's values read: its own formatter, else by its name's ending (a user for
    `…_by_id`, a time for `…_at`, a day for `…_on`)."""
    if field in _FORMATTERS:
        return _FORMATTERS[field]
    if field.endswith("_by_id"):
        return _user_name
    if field.endswith("_at"):
        return _timestamp
    if field.endswith("_on"):
        return _day
    return None


def _show(entry: AuditEntry, field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field == "kind" and entry.object_type in _KIND_BY_OBJECT:
        return _KIND_BY_OBJECT[entry.object_type](value)
    if field == "role":
        return _enum_label("crm.auth.models.Role")(value)
    formatter = _formatter(field)
    if formatter is not None:
        return formatter(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# A merge keeps the merged record's values on the survivor's trail as "#<its id> <field>"
# (crm.duplicates.operations): shown like the field itself, marked as the merged record's.
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


def summary_html(entry: AuditEntry, link_runs: bool = False) -> Markup:
    """The entry's summary, escaped; an import it names ("Import #12 (file.csv)") links to
    that run's page when `link_runs` (the reader may open imports)."""
    from flask import url_for

    from crm.imports.audit_trail import AUDITED, RUN_IN_SUMMARY

    text = entry.summary or ""
    found = RUN_IN_SUMMARY.match(text) if entry.object_type in AUDITED else None
    if not (found and link_runs):
        return escape(text)
    link = Markup('<a href="{}">{}</a>').format(
        url_for("imports.show", run_id=int(found["id"])), found["run"]
    )
    return escape(found["before"] or "") + link + escape(found["after"])
