"""`Idempotency-Key` on the API's POSTs: a client that sends the same key again (its first
answer was lost on the way) gets the first answer back, and nothing is created twice.

The key is reserved in the request's transaction before the operation runs, and the answer is
written beside what it created: both are committed or neither. Only a success is kept; a
refused request changed nothing, so sending it again simply tries again. A second request with
the key while the first is under way waits for it (PostgreSQL's unique index; SQLite's single
writer) and then gets its answer, or a 409 if it could not be read. The same key with another
request is a 422. Keys are kept a day (housekeeping).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Response, g, make_response, request
from sqlalchemy.exc import IntegrityError

from crm.api.models import IdempotentRequest
from crm.core.db import rows_touched
from crm.core.errors import problem
from crm.extensions import db

HEADER = "Idempotency-Key"
KEEP = timedelta(days=1)
MAX_KEY = 255
_REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")
F = TypeVar("F", bound=Callable[..., Any])


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _replay(kept: IdempotentRequest) -> Response:
    response = Response(kept.body, status=kept.status)
    for name, value in (kept.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _kept(token_id: int, key: str) -> IdempotentRequest | None:
    return db.session.scalar(
        sa.select(IdempotentRequest).where(
            IdempotentRequest.token_id == token_id, IdempotentRequest.key == key
        )
    )


def idempotent(view: F) -> F:
    """A POST view that honours `Idempotency-Key` (placed above the schema decorators)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY or not key.isprintable():
            return problem(
                400, "Bad Idempotency-Key", f"Send a key of 1 to {MAX_KEY} printable characters."
            )
        token_id = g.api_token.id
        fingerprint = _fingerprint()
        kept = _kept(token_id, key)
        if kept is None:
            row = IdempotentRequest(token_id=token_id, key=key, fingerprint=fingerprint)
            try:
                with db.session.begin_nested():  # waits for a twin under way, then fails
                    db.session.add(row)
            except IntegrityError:
                kept = _kept(token_id, key)
                if kept is None or kept.status == 0:
                    return problem(
                        409, "The same request is under way", "Wait for its answer and retry."
                    )
        if kept is not None:
            if kept.fingerprint != fingerprint:
                return problem(
                    422,
                    "The Idempotency-Key was used for another request",
                    "Use a new key for each new request.",
                )
            return _replay(kept)
        response = make_response(view(*args, **kwargs))
        if 200 <= response.status_code < 300:
            row.status = response.status_code
            row.body = response.get_data(as_text=True)
            row.headers = {
                h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers
            }
        return response

    return wrapped  # type: ignore[return-value]


def forget_old(now: datetime) -> int:
    """Housekeeping: keys older than a day."""
    return rows_touched(
        db.session.execute(
            sa.delete(IdempotentRequest).where(IdempotentRequest.created_at < now - KEEP)
        )
    )
