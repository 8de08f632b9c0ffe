"""A rate limit per API token: `CRM_API_REQUESTS_PER_MINUTE` requests in each calendar minute.

Each request is counted in one upsert apart from the request (`crm.core.apart`): the token's row
holds the current minute and its count. Past the limit the API answers 429 with `Retry-After`
(the seconds to the next minute); every answer says where the token stands in the `RateLimit`
and `RateLimit-Policy` headers (the IETF draft's form). When SQLite's write lock is taken (an
import writing) a request is not counted rather than kept waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from crm.api.models import RateWindow
from crm.core.apart import run_apart

WINDOW_SECONDS = 60
_table = RateWindow.__table__


@dataclass(frozen=True)
class Standing:
    limit: int
    used: int
    reset: int  # seconds to the next window

    @property
    def over(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        remaining = max(0, self.limit - self.used)
        return {
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
            "RateLimit": f"limit={self.limit}, remaining={remaining}, reset={self.reset}",
        }


def count(token_id: int, now: datetime, *, limit: int) -> Standing | None:
    """This request counted against the token's minute; None when it could not be counted."""
    start = now.replace(second=0, microsecond=0)

    def upsert(conn: sa.Connection) -> int:
        insert = (sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert)(_table)
        row = insert.values(token_id=token_id, window_start=start, requests=1)
        same_minute = _table.c.window_start == row.excluded.window_start
        upsert = row.on_conflict_do_update(
            index_elements=[_table.c.token_id],
            set_={
                "requests": sa.case((same_minute, _table.c.requests + 1), else_=1),
                "window_start": row.excluded.window_start,
            },
        ).returning(_table.c.requests)
        return int(conn.execute(upsert).scalar_one())

    used = run_apart(upsert)
    if used is None:
        return None
    reset = WINDOW_SECONDS - now.second
    return Standing(limit=limit, used=used, reset=reset)
