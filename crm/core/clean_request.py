"""Requests whose form fields and query arguments hold no control characters.

Text pasted from word processors can carry vertical tabs, form feeds and the like, and a forged
post can carry NUL: PostgreSQL refuses NUL in text (a 500 on one engine only), and XLSX
cannot hold any of them (openpyxl raises while writing a download). Tabs and line breaks stay.
Cleaning once, where the request is parsed, covers every form and filter of the app.
"""

from __future__ import annotations

import re

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


class CleanMultiDict(ImmutableMultiDict):
    """Form fields or query arguments, their text values cleaned (uploaded files untouched)."""

    def __init__(self, mapping=None):
        super().__init__(mapping)
        for key, values in dict.items(self):
            if any(isinstance(v, str) and CONTROL_CHARACTERS.search(v) for v in values):
                cleaned = [
                    without_control_characters(v) if isinstance(v, str) else v for v in values
                ]
                dict.__setitem__(self, key, cleaned)


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict
