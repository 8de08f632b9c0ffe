"""URL converters: an id in a path that no database column could hold is a 404, not a 500."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from crm.core.validation import LARGEST_ID


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` that matches only what fits a database integer: `/contacts/99999…9` with 23
    digits finds no route (404) instead of failing in the database driver."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)
