"""The `mail.send` job: an email queued with `queue_mail` is sent by the worker through the
real `sendgrid` library (against the fake SendGrid): a 500 is tried again later and the email
then goes once; a refusal fails the job with SendGrid's reason; and a worker that dies after
handing the email over does not send it a second time (the job's checkpoint), in process and
with a real worker process killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm.core.db import utcnow
from crm.core.jobs import Job, JobStatus
from crm.core.jobs.registry import KINDS
from crm.core.jobs.worker import JobContext, Worker
from crm.core.mail import KEY_HEADER, MailMessage, queue_mail
from tests.conftest import own_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sendgrid(app, fake_sendgrid):
    saved = {k: app.config.get(k) for k in ("MAIL_PROVIDER", "SENDGRID_API_KEY",
                                             "SENDGRID_API_HOST")}  # fmt: skip
    app.config.update(
        MAIL_PROVIDER="sendgrid", SENDGRID_API_KEY="SG.test", SENDGRID_API_HOST=fake_sendgrid.url
    )
    yield fake_sendgrid
    app.config.update(saved)


def _queue(app, db, to: str = "ana@example.org") -> int:
    with app.test_request_context():
        job = queue_mail(MailMessage(to=to, subject="Your invitation", text="Hello"))
        db.session.commit()
        return job.id


def _job(db, job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_500_is_tried_again_later_and_the_email_then_goes_once(app, db, sendgrid, run_jobs):
    sendgrid.answer(500, message="internal error")
    job_id = _queue(app, db)
    assert run_jobs() == 1
    job = _job(db, job_id)
    assert job.status is JobStatus.QUEUED and job.run_at > utcnow()  # after a backoff
    assert "500" in job.last_error and job.checkpoint is None  # it was not handed over
    assert run_jobs() == 0  # not before its time
    job.run_at = utcnow()
    db.session.commit()
    assert run_jobs() == 1
    job = _job(db, job_id)
    assert job.status is JobStatus.DONE and job.attempts == 2
    assert job.result["to"] == "ana@example.org" and job.result["provider_id"]
    assert [r["json"]["personalizations"][0]["to"][0]["email"] for r in sendgrid.requests] == [
        "ana@example.org"
    ] * 2
    # The provider sees the same key both times, so it could tell the two apart.
    keys = {r["json"]["headers"][KEY_HEADER] for r in sendgrid.requests}
    assert len(keys) == 1


def test_a_refusal_fails_the_job_with_sendgrids_reason(app, db, sendgrid, run_jobs):
    sendgrid.answer(400, message="The to address is invalid")
    job_id = _queue(app, db)
    run_jobs()
    job = _job(db, job_id)
    assert job.status is JobStatus.FAILED and "The to address is invalid" in job.last_error
    assert len(sendgrid.requests) == 1


def test_a_rate_limit_waits_for_sendgrids_reset(app, db, sendgrid, run_jobs):
    reset = int(time.time()) + 120
    sendgrid.answer(429, headers={"X-RateLimit-Reset": str(reset)})
    job_id = _queue(app, db)
    run_jobs()
    job = _job(db, job_id)
    assert job.status is JobStatus.QUEUED
    assert abs(job.run_at.timestamp() - reset) < 2


def test_a_worker_that_died_after_handing_the_email_over_does_not_send_it_again(app, db, sendgrid):
    """The worker hands the email to SendGrid, then dies before it could mark the job done:
    the job comes back when its lease lapses, sees its checkpoint and fails instead of
    sending a second time, saying why (an admin can retry it to send it anyway)."""
    job_id = _queue(app, db)
    with app.app_context():
        dying = Worker(app, name="dying:1")
        claimed = dying.claim()
        assert claimed.id == job_id
        ctx = JobContext(
            id=claimed.id,
            kind=claimed.kind,
            attempts=claimed.attempts,
            max_attempts=claimed.max_attempts,
            created_by_id=None,
            checkpoint=claimed.checkpoint,
        )
        KINDS["mail.send"].run(claimed.payload, ctx)  # sent; the process dies before "done"
        db.session.rollback()
    assert len(sendgrid.requests) == 1
    job = _job(db, job_id)
    assert job.status is JobStatus.RUNNING and job.checkpoint.get("handed_over")
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with app.app_context():
        alive = Worker(app, name="alive:2")
        assert alive.take_back() == 1
        assert alive.drain() == 1
    job = _job(db, job_id)
    assert job.status is JobStatus.FAILED
    assert "it was not sent again, so that nobody gets it twice" in job.last_error
    assert len(sendgrid.requests) == 1


def test_a_worker_that_died_before_handing_it_over_sends_it(app, db, sendgrid):
    job_id = _queue(app, db)
    with app.app_context():
        Worker(app, name="dying:1").claim()  # claimed, then killed before the checkpoint
    job = _job(db, job_id)
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with app.app_context():
        alive = Worker(app, name="alive:2")
        alive.take_back()
        alive.drain()
    assert _job(db, job_id).status is JobStatus.DONE
    assert len(sendgrid.requests) == 1


# --- a real worker process, killed ---------------------------------------------------------


def _seed(url: str, instance: Path) -> int:
    from config import DevelopmentConfig
    from crm import create_app
    from crm.extensions import db

    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        INSTANCE_DIR=str(instance),
        SECRET_KEY="mail-kill-test-secret-key-mail-kill-test",
        SERVER_NAME_FOR_LINKS="http://localhost",
    )
    with app.test_request_context():
        job = queue_mail(MailMessage(to="ana@example.org", subject="Your invitation", text="Hi"))
        db.session.commit()
        job_id = job.id
        db.session.remove()
        db.engine.dispose()
    return job_id


def _database(tmp_path: Path) -> tuple[str, sa.Engine, bool]:
    """A database of its own (tests.conftest.own_database), an engine on it, and whether it
    is PostgreSQL."""
    url = own_database(tmp_path, "mailkill")
    return url, sa.create_engine(url), url.startswith("postgresql")


def _status(engine: sa.Engine, job_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT status, last_error FROM job WHERE id = :id"), {"id": job_id}
        ).one()


@pytest.mark.no_db
def test_a_worker_killed_while_sending_does_not_send_twice(tmp_path, fake_sendgrid):
    url, engine, postgres = _database(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CRM_INSTANCE_DIR": str(tmp_path / "instance"),
        "CRM_CONFIG": "development",
        "CRM_MAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": "SG.kill-test",
        "SENDGRID_API_HOST": fake_sendgrid.url,
        "SECRET_KEY": "mail-kill-test-secret-key-mail-kill-test",
        "CRM_BASE_URL": "http://localhost",
        "CRM_JOB_LEASE_SECONDS": "2",  # PostgreSQL: the next worker takes the job back soon
    }
    env.pop("CRM_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    try:
        subprocess.run(
            flask + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        job_id = _seed(url, tmp_path / "instance")

        fake_sendgrid.delay = 5  # SendGrid has the email; the worker is killed before its answer
        first = subprocess.Popen(
            flask + ["crm", "worker", "--idle", "0.2"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.time() + 60
        while not fake_sendgrid.requests and time.time() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len(fake_sendgrid.requests) == 1, "the worker never handed the email over"
        assert _status(engine, job_id)[0] == "running"  # it died before marking it done

        fake_sendgrid.delay = 0
        if postgres:
            # `worker --once` takes back nothing on PostgreSQL: a running worker does, once the
            # dead one's lease has lapsed.
            second = subprocess.Popen(
                flask + ["crm", "worker", "--idle", "0.2"],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                deadline = time.time() + 60
                while _status(engine, job_id)[0] != "failed" and time.time() < deadline:
                    time.sleep(0.2)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=30)
        else:
            # SQLite: the next worker takes back whatever the dead one left running.
            result = subprocess.run(
                flask + ["crm", "worker", "--once"],
                env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
        status, error = _status(engine, job_id)
        assert status == "failed"
        assert "it was not sent again, so that nobody gets it twice" in error
        assert len(fake_sendgrid.requests) == 1
    finally:
        engine.dispose()
        if postgres:
            admin = sa.create_engine(
                sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                name = sa.engine.make_url(url).database
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def test_a_provider_that_does_not_answer_is_given_up_on_and_tried_later(
    app, db, sendgrid, run_jobs, monkeypatch
):
    """A hung connection must not hold the worker: the send times out and is tried again."""
    from crm.core import mail

    monkeypatch.setattr(mail, "SEND_TIMEOUT", 0.3)
    sendgrid.delay = 2
    job_id = _queue(app, db)
    run_jobs()
    job = _job(db, job_id)
    assert job.status is JobStatus.QUEUED and "could not be reached" in job.last_error
    assert job.checkpoint is None  # tried again later (SendGrid may not have it)
