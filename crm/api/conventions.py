"""What every resource of the API does the same way: pages, ETags, refusals.

- A list is one page in a stable order after a cursor (`?after=`), at most `MAX_LIMIT` records,
  with a `next` link (and a `Link: <…>; rel="next"` header) until the end; its total only on
  request (`?total=true`), capped as the lists' are.
- Every record has an `ETag` (its id and version); an update or delete that sends `If-Match`
  is refused with 412 when the record changed since (the optimistic locking the pages have).
- A refused change is a 422 problem whose `errors` name the field, as a page shows it on the
  field; a conflict without `If-Match` is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request, url_for
from marshmallow import Schema, fields, validate

from crm.core.errors import ConflictError, OperationError, problem
from crm.core.pagination import Page
from crm.core.unit_of_work import attempt

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


class PageArgs(Schema):
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=500),
        metadata={"description": "The `next` cursor of the page before (from its `next` link)"},
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Records per page, at most {MAX_LIMIT}"},
    )
    total = fields.Boolean(
        load_default=False,
        metadata={"description": "Count the matches too (capped, as in the lists)"},
    )


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The schema of a list's page of `item`s (named `name` in the document)."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "next": fields.String(
                allow_none=True, metadata={"description": "The next page, or null"}
            ),
            "total": fields.Integer(allow_none=True),
            "total_is_capped": fields.Boolean(),
        },
        name=name,
    )


def page_answer(page: Page, items: list[dict], endpoint: str, args: dict[str, Any]):
    """A page as the API answers it: the records, the link to the next page (also as a
    `Link` header), the total when asked for (`total_is_capped`: there are more than that)."""
    next_url = None
    if page.next_cursor:
        query = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for(endpoint, **{**query, "after": page.next_cursor}, _external=True)
    body = {
        "items": items,
        "next": next_url,
        "total": page.total if args.get("total") else None,
        "total_is_capped": bool(args.get("total") and page.total_is_capped),
    }
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return body, 200, headers


def etag_of(kind: str, record: Any) -> str:
    return f'"{kind}-{record.id}-v{record.version}"'


def expected_version(kind: str, record: Any) -> int | None:
    """The version an `If-Match` header names (None without one); a header naming another
    version than the record's answers 412 at once (`Precondition`)."""
    header = request.headers.get("If-Match")
    if not header:
        return None
    if header.strip() == "*" or etag_of(kind, record) in [t.strip() for t in header.split(",")]:
        return record.version
    raise Precondition()


class Precondition(Exception):
    """The record changed since the client read it (its `If-Match` no longer matches)."""


def refused(error: Exception):
    """An operation's refusal as a problem document."""
    if isinstance(error, Precondition) or (
        isinstance(error, ConflictError) and request.headers.get("If-Match")
    ):
        return problem(
            412,
            "The record changed",
            "Someone changed it since you read it; read it again (for its new ETag) and "
            "send your change with that.",
        )
    if isinstance(error, ConflictError):
        return problem(409, "Conflict", error.message)
    assert isinstance(error, OperationError), error
    errors = {error.field: [error.message]} if error.field else {}
    return problem(422, "The change was refused", error.message, errors=errors)


def count_cap() -> int:
    return int(current_app.config["COUNT_CAP"])


# --- the writes every resource makes the same way --------------------------------------------


def answer(kind: str, record: Any, dump: Callable[[Any], dict], status: int = 200):
    """A record as the API answers it: its fields and its ETag."""
    return dump(record), status, {"ETag": etag_of(kind, record)}


def created(kind: str, make: Callable[[], Any], dump: Callable[[Any], dict]):
    """`make()` (an operation) in a savepoint: 201 with the record, or its refusal."""
    done = attempt(make, show=False)
    if not done.ok:
        return refused(done.error)
    return answer(kind, done.value, dump, 201)


def changed(kind: str, record: Any, change: Callable[[int | None], Any], dump):
    """`change(expected_version)` (an operation) in a savepoint, after the `If-Match` check:
    200 with the record, or the refusal (412 when it changed since the client read it)."""
    try:
        version = expected_version(kind, record)
    except Precondition as exc:
        return refused(exc)
    done = attempt(lambda: change(version), show=False)
    if not done.ok:
        return refused(done.error)
    return answer(kind, done.value, dump)


def deleted(kind: str, record: Any, delete: Callable[[], None]):
    """`delete()` (an operation) in a savepoint, after the `If-Match` check: 204, or why not."""
    try:
        expected_version(kind, record)
    except Precondition as exc:
        return refused(exc)
    done = attempt(delete, show=False)
    if not done.ok:
        return refused(done.error)
    return "", 204


def merged(current: dict[str, Any], sent: dict[str, Any], writable: frozenset[str]) -> dict:
    """A PATCH: the record's values, with those sent in their place."""
    return {**current, **{k: v for k, v in sent.items() if k in writable}}


def writable(schema: Any) -> frozenset[str]:
    """The fields of a schema a client may send."""
    return frozenset(name for name, f in schema().fields.items() if not f.dump_only)
