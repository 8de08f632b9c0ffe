"""The shared store behaves the same in the database and in Redis (both real servers)."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest

from crm.core import shared_store

REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def store(request, app, db):
    """The app's store, on each backend; Redis keys under a prefix of this test's own."""
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip(f"no Redis at {REDIS_URL} (set CRM_TEST_REDIS_URL)")
        prefix = f"crm-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex}:"
        app.config.update(REDIS_URL=REDIS_URL, REDIS_PREFIX=prefix)
    app.extensions.pop("shared_store", None)
    try:
        with app.test_request_context():
            yield request.param
            if request.param == "redis":
                backend = shared_store.backend()
                assert isinstance(backend, shared_store.RedisBackend)
                keys = list(backend.client.scan_iter(match=prefix + "*"))
                if keys:
                    backend.client.delete(*keys)
    finally:
        app.config.update(REDIS_URL=None, REDIS_PREFIX="crm:")
        app.extensions.pop("shared_store", None)


def test_the_backend_is_the_one_configured(store):
    expected = shared_store.RedisBackend if store == "redis" else shared_store.DatabaseBackend
    assert isinstance(shared_store.backend(), expected)


def test_a_value_is_stored_read_replaced_and_deleted(store):
    assert shared_store.get("figures") is None
    shared_store.put("figures", {"contacts": 12, "kinds": [["ngo", 3]], "note": "é"})
    entry = shared_store.get("figures")
    assert entry is not None
    assert entry.value == {"contacts": 12, "kinds": [["ngo", 3]], "note": "é"}
    assert entry.age < timedelta(minutes=1)
    shared_store.put("figures", [1, 2])
    assert shared_store.get("figures").value == [1, 2]
    shared_store.delete("figures")
    assert shared_store.get("figures") is None


def test_a_value_expires(store):
    shared_store.put("brief", "soon gone", expires_in=timedelta(seconds=1))
    shared_store.put("kept", "stays", expires_in=timedelta(hours=1))
    assert shared_store.get("brief").value == "soon gone"
    time.sleep(1.2)
    assert shared_store.get("brief") is None
    assert shared_store.get("kept").value == "stays"


def test_only_json_is_stored(store):
    with pytest.raises(TypeError):
        shared_store.put("bad", {1, 2})  # a set: JSON has none, and nothing is pickled
    with pytest.raises(ValueError):
        shared_store.put("bad", float("nan"))
    with pytest.raises(ValueError):
        shared_store.put("x" * 201, 1)
    assert shared_store.get("bad") is None


def test_a_damaged_value_reads_as_absent(store, db):
    import sqlalchemy as sa

    shared_store.put("damaged", 1)
    if store == "redis":
        backend = shared_store.backend()
        backend.client.set(backend.prefix + "damaged", b"\x80not json")
    else:
        db.session.execute(
            sa.update(shared_store.StoredValue)
            .where(shared_store.StoredValue.key == "damaged")
            .values(value="{not json")
        )
    assert shared_store.get("damaged") is None


def test_housekeeping_forgets_expired_database_values(app, db):
    from crm.core.db import utcnow

    with app.test_request_context():
        shared_store.put("old", 1, expires_in=timedelta(seconds=-1))
        shared_store.put("current", 2, expires_in=timedelta(hours=1))
        shared_store.put("forever", 3)
        assert shared_store.DatabaseBackend().forget_expired(utcnow()) == 1
        assert db.session.get(shared_store.StoredValue, "old") is None
        assert shared_store.get("current").value == 2
        assert shared_store.get("forever").value == 3
