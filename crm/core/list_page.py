"""What every list page reads from its query string: the sort asked for and the page asked for.

A list page builds its own statement from its own filters; these helpers are the part that is
the same on every list: ?sort= picks one of the list's sort options (an unknown one falls back
to the default), ?after= / ?before= name the page (`crm/core/pagination.py`), and the page size
and count cap are the app's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import sqlalchemy as sa
from flask import current_app, request

from crm.core.pagination import Page, SortOption, paginate


def chosen_sort(sorts: Mapping[str, SortOption], default: str) -> tuple[str, SortOption]:
    """The sort asked for (?sort=) and its key, or the default's when none or an unknown one is
    asked (the key is what the page shows as selected)."""
    key = request.args.get("sort", "")
    if key not in sorts:
        key = default
    return key, sorts[key]


class Cursor(TypedDict):
    after: str | None
    before: str | None


def cursor() -> Cursor:
    """The page asked for: the rows after (?after=) or before (?before=) a sort key."""
    return Cursor(after=request.args.get("after"), before=request.args.get("before"))


def page_size() -> int:
    return current_app.config["PAGE_SIZE"]


def page_of(stmt: sa.Select, sort: SortOption, **options: Any) -> Page:
    """The page of `stmt` the request asks for, at the app's page size and count cap;
    `options` go to `paginate` (a known total, no count, a separate rows statement)."""
    return paginate(
        stmt,
        sort,
        **cursor(),
        page_size=page_size(),
        count_cap=current_app.config["COUNT_CAP"],
        **options,
    )
