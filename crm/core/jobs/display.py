"""A job's payload and result as an admin may read them: ids, counts and short values.

A payload can carry what an admin should not read on a page: an email's body and headers hold
personal links (a password reset, a consultation link, an unsubscribe token). So what is shown
is chosen, not what is hidden: numbers, yes/no, short texts without a link, lists of a few such
values; anything else is named by its size.
"""

from __future__ import annotations

from typing import Any

SHORT = 120  # characters of a text shown as it is
FEW = 10  # items of a list shown
PRIVATE_KEYS = {"text", "html", "body", "headers", "token", "password", "secret", "link", "url"}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _scalar(value: Any) -> str | None:
    """A value shown as it is, or None when it is not a plain short value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value}"
    if isinstance(value, str) and len(value) <= SHORT and "://" not in value:
        return value
    return None


def _value(value: Any) -> str:
    shown = _scalar(value)
    if shown is not None:
        return shown
    if isinstance(value, str):
        return (
            f"not shown ({'a link, ' if '://' in value else ''}{_plural(len(value), 'character')})"
        )
    if isinstance(value, list | tuple):
        items = [shown for v in value if (shown := _scalar(v)) is not None]
        if len(value) <= FEW and len(items) == len(value):
            return ", ".join(items) if items else "none"
        return f"not shown ({_plural(len(value), 'item')})"
    if isinstance(value, dict):
        return f"not shown ({_plural(len(value), 'field')})"
    return "not shown"


def summarize(data: dict | None) -> list[tuple[str, str]]:
    """(key, what is shown of its value) for each key of a payload or result; a nested
    mapping is opened one level ("counts.created")."""
    rows: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return rows
    for key, value in data.items():
        key = str(key)
        if key.lower() in PRIVATE_KEYS:
            rows.append((key, _private(value)))
        elif (
            isinstance(value, dict)
            and value
            and all(not isinstance(v, dict) for v in value.values())
        ):
            for inner, inner_value in value.items():
                label = f"{key}.{inner}"
                hidden = str(inner).lower() in PRIVATE_KEYS
                rows.append((label, _private(inner_value) if hidden else _value(inner_value)))
        else:
            rows.append((key, _value(value)))
    return rows


def _private(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return f"not shown ({_plural(len(value), 'character')})"
    if isinstance(value, dict):
        return f"not shown ({_plural(len(value), 'field')})"
    return "not shown"
