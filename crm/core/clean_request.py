"""Requests whose form fields and query arguments hold no control characters.

Text pasted from word processors can carry vertical tabs, form feeds and the like, and a forged
post can carry NUL: PostgreSQL refuses NUL in text (a 500 on one engine only), and XLSX
cannot hold any of them (openpyxl raises while writing a download). Tabs and line breaks stay.
Cleaning once, where the request is parsed, covers every form and filter of the app.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

from crm.core import safe_json
from crm.core.validation import database_int

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


class CleanMultiDict(ImmutableMultiDict):
    """Form fields or query arguments, their text values cleaned (uploaded files untouched);
    `get(key, type=int)` ignores numbers too large for the database."""

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        return super().get(key, default, database_int if type is int else type)

    def __init__(self, mapping=None):
        super().__init__(mapping)
        for key, values in dict.items(self):
            if any(isinstance(v, str) and CONTROL_CHARACTERS.search(v) for v in values):
                cleaned = [
                    without_control_characters(v) if isinstance(v, str) else v for v in values
                ]
                dict.__setitem__(self, key, cleaned)


def cleaned_json(value: Any) -> Any:
    """A parsed JSON document with its texts (keys too) cleaned as form fields are."""
    if isinstance(value, str):
        return without_control_characters(value)
    if isinstance(value, list):
        return [cleaned_json(item) for item in value]
    if isinstance(value, dict):
        return {without_control_characters(k): cleaned_json(v) for k, v in value.items()}
    return value


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Flask's, with `crm.core.safe_json`'s limits (a body nested too deeply is a 400;
        Flask's parser would raise RecursionError, a 500) and texts cleaned as forms' are.
        (The nesting limit also keeps the cleaning's recursion shallow.)"""
        if not (force or self.is_json):
            return super().get_json(force=force, silent=silent, cache=cache)
        try:
            return cleaned_json(safe_json.loads(self.get_data(cache=cache)))
        except safe_json.JSONRefused as exc:
            if silent:
                return None
            raise BadRequest(str(exc)) from None
