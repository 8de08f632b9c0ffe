"""Checks shared by operations, so imports and the API refuse exactly what forms refuse."""

from __future__ import annotations

import re
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from crm.core.countries import normalize_country
from crm.core.errors import OperationError

E = TypeVar("E", bound=Enum)


def normalize_email(address: str, *, check_deliverability: bool = False) -> str:
    """Validated, normalized address (lower-case domain, Unicode normalized) or OperationError."""
    try:
        result = validate_email(address.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise OperationError(str(exc), field="email") from None
    # Local parts are case-sensitive in theory, never in practice; lower-case for uniqueness.
    return result.normalized.lower()


def clean_text(value: str | None, field: str, label: str, max_length: int, *, required=False):
    value = (value or "").strip()
    if required and not value:
        raise OperationError(f"{label} is required.", field=field)
    if len(value) > max_length:
        raise OperationError(
            f"{label} is too long ({len(value)} characters; at most {max_length}).", field=field
        )
    return value or None


# The largest whole number an id column holds: PostgreSQL's `integer` is 32-bit and signed.
LARGEST_ID = 2**31 - 1


def database_int(text: str | int) -> int:
    """`int`, refusing (ValueError) what no database column could hold: `?owner=` with 23
    digits is then ignored like any other value that is not a number, instead of a 500."""
    value = int(text)
    if not -LARGEST_ID <= value <= LARGEST_ID:
        raise ValueError("out of range")
    return value


def known_choice(enum_cls: type[Enum], value: str) -> str:
    """A filter's value if it is one of `enum_cls`'s, else "" (no filter): a link with an
    unknown choice shows the whole list instead of failing."""
    return value if value in {member.value for member in enum_cls} else ""


def clean_choice(enum_cls: type[E], value: object, what: str, field: str | None = None) -> E:
    """`value` as one of `enum_cls`, or an OperationError: “value” is not `what` ("a task
    status")."""
    try:
        return enum_cls(value)
    except ValueError:
        raise OperationError(f"“{value}” is not {what}.", field=field) from None


def clean_country(value: str | None, field: str = "country") -> str | None:
    if not value or not value.strip():
        return None
    code = normalize_country(value)
    if code is None:
        raise OperationError(f"“{value}” is not a country we know (ISO 3166-1).", field=field)
    return code


_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", re.I)


def clean_website(value: str | None, field: str = "website") -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not _HOST.match(parts.hostname or ""):
        raise OperationError(f"“{value}” is not a website address.", field=field)
    if len(value) > 300:
        raise OperationError(
            "The website address is too long (at most 300 characters).", field=field
        )
    return value
