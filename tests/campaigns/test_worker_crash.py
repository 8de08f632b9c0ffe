"""A worker killed with SIGKILL in the middle of a batch, then restarted: no message is lost and
only the batches that were in flight (`IN_FLIGHT` requests at most) are sent again. Real processes, a real SQLite file, the real
`sendgrid` library against the fake SendGrid answering slowly."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BATCH = 50
PEOPLE = 300
IN_FLIGHT = 2  # requests one sending job keeps in flight


def _seed(url: str, batch_size: int = BATCH) -> None:
    import sqlalchemy as sa

    from config import DevelopmentConfig
    from crm import create_app
    from crm.campaigns.operations import editing as campaign_ops
    from crm.campaigns.operations import saved_segments as segment_ops
    from crm.campaigns.operations import sending as send_ops
    from crm.contacts.models import ConsentStatus, Contact
    from crm.extensions import db

    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="crash-test-secret-key-crash-test-secret",
        SERVER_NAME_FOR_LINKS="http://localhost",
        CAMPAIGN_BATCH_SIZE=batch_size,  # as the workers have it: so many lanes are queued
    )
    with app.test_request_context():
        db.session.execute(
            sa.insert(Contact),
            [
                {
                    "first_name": f"P{i}",
                    "last_name": "Crash",
                    "email": f"p{i}@example.org",
                    "consent_status": ConsentStatus.GRANTED,
                    "sort_name": f"crash p{i}",
                    "search_text": "",
                }
                for i in range(PEOPLE)
            ],
        )
        segment = segment_ops.create_segment(None, segment_ops.SegmentFields(name="All"))
        campaign = campaign_ops.create_campaign(
            None,
            campaign_ops.CampaignFields(
                name="Crash",
                purpose="newsletter",
                segment_id=segment.id,
                sender_name="WEST",
                sender_email="advocacy@example.org",
                subject="Hi {{ first_name }}",
                body="Hello {{ first_name }}",
            ),
        )
        send_ops.queue_campaign(None, campaign)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.mark.no_db
def test_a_killed_worker_loses_nothing_and_resends_at_most_its_batch(tmp_path, fake_sendgrid):
    path = tmp_path / "crash.sqlite3"
    url = f"sqlite:///{path}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CRM_INSTANCE_DIR": str(tmp_path / "instance"),
        "CRM_CONFIG": "development",
        "CRM_MAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": "SG.crash-test",
        "SENDGRID_API_HOST": fake_sendgrid.url,
        "SECRET_KEY": "crash-test-secret-key-crash-test-secret",
        "CRM_BASE_URL": "http://localhost",
        "CRM_CAMPAIGN_BATCH_SIZE": str(BATCH),
        "CRM_CAMPAIGN_REQUESTS_IN_FLIGHT": str(IN_FLIGHT),
    }
    env.pop("CRM_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run(flask + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    _seed(url)

    fake_sendgrid.delay = 0.3  # slow answers: the kill lands while a batch is in flight
    first = subprocess.Popen(
        flask + ["crm", "worker", "--idle", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while len(fake_sendgrid.requests) < 3 and time.time() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert len(fake_sendgrid.requests) >= 3, "the worker never got going"

    with sqlite3.connect(path) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM outbox_message GROUP BY status"))
    assert statuses.get("sending", 0) <= IN_FLIGHT * BATCH  # at most the requests in flight

    fake_sendgrid.delay = 0
    second = subprocess.run(
        flask + ["crm", "worker", "--once"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr

    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT message_key, status FROM outbox_message").fetchall()
        campaign_status = conn.execute("SELECT status FROM campaign").fetchone()[0]
    assert len(rows) == PEOPLE
    assert {status for _key, status in rows} == {"sent"}
    assert campaign_status == "sent"
    received = Counter(p["custom_args"]["crm_message"] for p in fake_sendgrid.personalizations)
    assert set(received) == {key for key, _status in rows}  # nothing lost
    resent = [key for key, n in received.items() if n > 1]
    assert len(resent) <= IN_FLIGHT * BATCH and all(received[key] == 2 for key in resent)


@pytest.mark.no_db
def test_several_workers_share_the_outbox_without_sending_twice(tmp_path, fake_sendgrid):
    """PostgreSQL: three worker processes at once, each claiming with SKIP LOCKED. (SQLite
    runs one at a time: the others wait for the lock; see tests/core/test_jobs.py.)"""
    import sqlalchemy as sa

    base = os.environ.get("CRM_TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("several workers at once is a PostgreSQL feature")
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    url = url.set(database=f"{url.database}_workers")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    url_text = url.render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DATABASE_URL": url_text,
        "CRM_INSTANCE_DIR": str(tmp_path / "instance"),
        "CRM_CONFIG": "development",
        "CRM_MAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": "SG.workers-test",
        "SENDGRID_API_HOST": fake_sendgrid.url,
        "SECRET_KEY": "crash-test-secret-key-crash-test-secret",
        "CRM_BASE_URL": "http://localhost",
        "CRM_CAMPAIGN_BATCH_SIZE": "20",
    }
    env.pop("CRM_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    try:
        subprocess.run(
            flask + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        fake_sendgrid.delay = 0.2  # long enough that all three are at work together
        workers = [
            subprocess.Popen(
                flask + ["crm", "worker", "--idle", "0.2"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        engine = sa.create_engine(url)
        try:
            # All three wait for work (each has said it is here) before the campaign is sent.
            _wait_for(engine, "SELECT count(*) FROM job_worker", 3)
            _seed(url_text, batch_size=20)
            _wait_for(engine, "SELECT count(*) FROM outbox_message WHERE status = 'sent'", PEOPLE)
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            outputs = [w.communicate(timeout=60) for w in workers]
            engine.dispose()
        assert all(w.returncode == 0 for w in workers), [
            (w.returncode, err[-3000:]) for w, (_out, err) in zip(workers, outputs, strict=True)
        ]
        ran = [int(re.search(r"after (\d+) job", out).group(1)) for out, _err in outputs]
        assert sum(1 for n in ran if n) >= 2, ran  # they really shared the sending jobs
        received = Counter(p["custom_args"]["crm_message"] for p in fake_sendgrid.personalizations)
        assert len(received) == PEOPLE and set(received.values()) == {1}  # each exactly once
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            statuses = dict(
                conn.exec_driver_sql(
                    "SELECT status, count(*) FROM outbox_message GROUP BY status"
                ).all()
            )
        engine.dispose()
        assert statuses == {"sent": PEOPLE}
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        admin.dispose()


def _wait_for(engine, query: str, expected: int, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with engine.connect() as conn:
            if conn.exec_driver_sql(query).scalar() >= expected:
                return
        time.sleep(0.1)
    raise AssertionError(f"still fewer than {expected} after {seconds} s: {query}")
