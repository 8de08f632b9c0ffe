"""Calling the API as a user of a role, by token."""

from __future__ import annotations

import pytest

from crm.api import tokens


@pytest.fixture
def api(client, make_user):
    """Calls to the API as a user of a role, by token: api("lead").get("/api/v1/...")."""

    class As:
        def __init__(self, role: str, read_only: bool = False):
            self.user = make_user(role)
            _token, raw = tokens.create(None, self.user, name="test", read_only=read_only, days=1)
            self.headers = {"Authorization": f"Bearer {raw}"}

        def __getattr__(self, method):
            call = getattr(client, method)
            return lambda url, headers=None, **kw: call(
                url, headers={**self.headers, **(headers or {})}, **kw
            )

    return As
