"""No 500 from any input: every GET route of the URL map, as each kind of user and anonymous,
with odd values for each query parameter the view reads and for each id in its path.

The parameters a view reads are found by asking it: the page is requested once with none, and
every key it looks up in `request.args` is noted. Then each key gets odd values (unknown
choices, huge and negative numbers, empty, very long, non-UTF-8, control characters), from a
fixed list and from hypothesis. A page may ignore a value or answer 400 or 404 with a message;
any 5xx fails the test, which lists every route, parameter and value that did.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.auth.models import User
from crm.core.access import Role
from crm.core.clean_request import CleanMultiDict

HUGE = "99999999999999999999999"
ODD_VALUES = [
    "",
    "xyz",
    "-1",
    "0",
    HUGE,
    "2147483648",  # one past PostgreSQL's integer
    "1e309",
    "NaN",
    "2026-13-45",
    "x" * 5000,
    "%FF%FE",  # not UTF-8 once decoded (sent raw: see `query`)
    "%00",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
]
ODD_IDS = ["0", "2147483648", HUGE]
# Routes that stream or wait by design, or need a body: not GET pages to walk with odd values.
SKIPPED = {"static", "core.healthz"}
ROLES = [None, Role.ADMIN, Role.LEAD, Role.VOLUNTEER, Role.CHAMPION, Role.ORG_REP, Role.VIEWER]


@contextmanager
def reading_noted() -> Iterator[set[str]]:
    """The query parameters a request looks up while inside the block."""
    seen: set[str] = set()
    originals = {name: getattr(CleanMultiDict, name) for name in ("get", "getlist", "__getitem__")}

    def noting(name):
        original = originals[name]

        def wrapper(self, key, *args, **kw):
            seen.add(key)
            return original(self, key, *args, **kw)

        return wrapper

    for name in originals:
        setattr(CleanMultiDict, name, noting(name))
    try:
        yield seen
    finally:
        for name, original in originals.items():
            setattr(CleanMultiDict, name, original)


def query(key: str, value: str) -> str:
    # %-escapes in the list are sent as they are (bytes that are not UTF-8); the rest quoted.
    raw = value if re.fullmatch(r"(%[0-9A-F]{2})+", value) else quote(value, safe="")
    return f"{quote(key)}={raw}"


def get_routes(app) -> list[tuple[str, str]]:
    """(endpoint, rule) for each GET route."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint not in SKIPPED:
            routes.append((rule.endpoint, rule.rule))
    return sorted(routes)


def fill(rule: str, value: str = "1") -> str:
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", value, rule)


@pytest.fixture(scope="module")
def odd_app(tmp_path_factory):
    """An app with a database of its own holding the demo data (every kind of record, with
    ids from 1), committed; and one user of each role."""
    from flask_migrate import upgrade

    from config import TestConfig
    from crm import create_app
    from crm.extensions import db
    from tests.conftest import own_database

    folder = tmp_path_factory.mktemp("odd")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=own_database(folder, "odd"),
        INSTANCE_DIR=str(folder / "instance"),
        MAIL_FILE_DIR=str(folder / "mail"),
    )
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["crm", "bootstrap"])  # an admin and demo data
    assert result.exit_code == 0, result.output
    with app.app_context():
        app.users = {  # type: ignore[attr-defined]
            role: db.session.scalar(sa.select(User.id).where(User.role == role).limit(1))
            for role in ROLES
            if role is not None
        }
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def client_as(app, role):
    from crm.auth import sessions
    from crm.extensions import db

    client = app.test_client()
    if role is None:
        return client
    with app.test_request_context():
        user = db.session.get(User, app.users[role])
        secret = sessions.start(user)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = secret
        session["_fresh"] = True
    return client


def status_of(client, url: str) -> int | str:
    """The answer's status; what the view raised, if it raised (the test configuration lets
    exceptions through instead of drawing the 500 page)."""
    try:
        return client.get(url).status_code
    except Exception as exc:  # noqa: BLE001 - any exception is the failure being looked for
        return f"raised {type(exc).__name__}: {str(exc)[:120]}"


def failed(status: int | str) -> bool:
    return not isinstance(status, int) or status >= 500


def walk(app, role, values_for) -> list[str]:
    failures = []
    client = client_as(app, role)
    for endpoint, rule in get_routes(app):
        url = fill(rule)
        with reading_noted() as keys:
            first = status_of(client, url)
        if failed(first):
            failures.append(f"{role} {endpoint} {url}: {first}")
            continue
        if "<" in rule:
            for odd in ODD_IDS:
                status = status_of(client, fill(rule, odd))
                if failed(status):
                    failures.append(f"{role} {endpoint} {fill(rule, odd)}: {status}")
        for key in sorted(keys):
            for value in values_for(key):
                status = status_of(client, f"{url}?{query(key, value)}")
                if failed(status):
                    failures.append(f"{role} {endpoint} {url}?{key}={value[:40]!r}: {status}")
    return failures


@pytest.mark.no_db  # committed demo data, shared by the module's tests
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value if role else "anonymous")
def test_no_get_route_answers_500_to_odd_query_values_or_ids(odd_app, role):
    failures = walk(odd_app, role, lambda key: ODD_VALUES)
    assert not failures, f"{len(failures)} answers of 500:\n" + "\n".join(failures[:400])


@pytest.mark.no_db
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI fails for a reason, not by chance
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    value=st.one_of(
        st.text(max_size=30),
        st.integers(min_value=-(2**80), max_value=2**80).map(str),
        st.sampled_from(ODD_VALUES),
    )
)
def test_list_filters_take_any_text(odd_app, value):
    # The filters people type into or bookmark: every list's query parameters, any text.
    client = client_as(odd_app, Role.ADMIN)
    for url in ("/contacts/", "/organizations/", "/engagements/", "/champions/list", "/events/"):
        with reading_noted() as keys:
            client.get(url)
        for key in sorted(keys):
            status = status_of(client, f"{url}?{query(key, value)}")
            assert not failed(status), (url, key, value, status)
