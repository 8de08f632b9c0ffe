"""The columns each record type reads, and matching a file's headers to them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crm.core.errors import OperationError
from crm.core.text import fold


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False
    # Other headers people use for it; compared folded, without punctuation.
    synonyms: tuple[str, ...] = ()
    help: str = ""


@dataclass
class Spec:
    """The fields of one record type; `one_of` lists alternatives of which one is needed."""

    fields: list[Field]
    one_of: list[tuple[str, ...]] = field(default_factory=list)

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]


# "Organization" as headers name it in French, Spanish, German and Dutch (accents folded),
# for both the contacts' organization column and the organizations' name column.
ORGANIZATION_IN_OTHER_LANGUAGES = (
    "societe", "entreprise", "empresa", "organizacion", "firma", "unternehmen", "organisatie",
    "bedrijf",
)  # fmt: skip

def header_key(text: str) -> str:
    """'E-mail Address ' -> 'emailaddress': headers compared without case, accents, spacing
    or punctuation."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def auto_map(headers: list[str], spec: Spec) -> dict[str, str]:
    """{header: field key} for the headers that name a field (its key, label or a synonym)."""
    names: dict[str, str] = {}
    for f in spec.fields:
        for name in (f.key, f.label, *f.synonyms):
            names.setdefault(header_key(name), f.key)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = names.get(header_key(header))
        if key and key not in used:
            mapping[header] = key
            used.add(key)
    return mapping


def check_mapping(mapping: dict[str, str], headers: list[str], spec: Spec) -> dict[str, str]:
    """The mapping cleaned of unknown headers and fields; refused when a field is mapped twice
    or a required one is missing."""
    known = set(spec.keys)
    cleaned = {h: k for h, k in mapping.items() if h in headers and k in known}
    seen: dict[str, str] = {}
    for header, key in cleaned.items():
        if key in seen:
            label = spec.get(key).label  # type: ignore[union-attr]
            raise OperationError(
                f"Two columns (“{seen[key]}” and “{header}”) are mapped to {label}; "
                "map one of them to something else or ignore it."
            )
        seen[key] = header
    mapped = set(cleaned.values())
    missing = [f.label for f in spec.fields if f.required and f.key not in mapped]
    for group in spec.one_of:
        if not mapped & set(group):
            missing.append(" or ".join(spec.get(k).label for k in group))  # type: ignore[union-attr]
    if missing:
        raise OperationError(
            "The file has no column for: " + ", ".join(missing) + ". Add the column to the file, "
            "or map one of its columns to it."
        )
    return cleaned
