"""The hourly housekeeping job: it deletes what is kept only for a while (login attempts, public
form rows, uploads never imported, finished jobs, workers gone) and nothing else, once per hour
however many workers schedule it; a task that fails keeps back none of the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from crm.auth.models import LoginAttempt
from crm.core.db import utcnow
from crm.core.flood import PublicSubmission
from crm.core.housekeeping import TASKS, task
from crm.core.jobs import Job, JobStatus, JobWorker, enqueue, presence
from crm.core.jobs.worker import Worker
from crm.imports.models import ImportRun, RecordType, RunStatus


def _days(n: float) -> datetime:
    return utcnow() - timedelta(days=n)


def _job(kind: str, status: JobStatus, finished_days_ago: float | None, **kw) -> Job:
    return Job(
        kind=kind,
        payload={"to": "someone@example.org"},
        status=status,
        created_at=_days((finished_days_ago or 0) + 1),
        finished_at=_days(finished_days_ago) if finished_days_ago is not None else None,
        **kw,
    )


def _run_housekeeping(app, db) -> Job:
    with app.app_context():
        job = enqueue("housekeeping")
        db.session.commit()
        job_id = job.id
        Worker(app, name="test-worker").drain()
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _upload(app, name: str, status: RunStatus, days_old: float) -> ImportRun:
    from pathlib import Path

    folder = Path(app.config["INSTANCE_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("name\nAcme\n")
    return ImportRun(
        record_type=RecordType.ORGANIZATIONS,
        file_name=f"{name}.csv",
        stored_name=name,
        file_format="csv",
        status=status,
        created_at=_days(days_old),
    )


def test_housekeeping_deletes_what_has_aged_and_nothing_else(app, db):
    config = app.config
    keep_logins = config["LOGIN_ATTEMPT_KEEP_DAYS"]
    keep_jobs, keep_failed = config["JOB_KEEP_DAYS"], config["JOB_KEEP_FAILED_DAYS"]
    login = {
        "login, old": LoginAttempt(email="a@example.org", address="10.0.0.1",
                                   at=_days(keep_logins + 1)),
        "login, recent": LoginAttempt(email="a@example.org", address="10.0.0.1",
                                      at=_days(keep_logins - 1)),
    }  # fmt: skip
    flood = {
        "form row, a day old": PublicSubmission(form="event-registration", address="10.0.0.2",
                                                at=_days(1.1)),
        "form row, hours old": PublicSubmission(form="event-registration", address="10.0.0.2",
                                                at=_days(0.5)),
    }  # fmt: skip
    jobs = {
        "done, old": _job("mail.send", JobStatus.DONE, keep_jobs + 1),
        "done, recent": _job("mail.send", JobStatus.DONE, keep_jobs - 1),
        "cancelled, old": _job("mail.send", JobStatus.CANCELLED, keep_jobs + 1),
        "failed, past the done limit": _job("mail.send", JobStatus.FAILED, keep_jobs + 1),
        "failed, old": _job("mail.send", JobStatus.FAILED, keep_failed + 1),
        "waiting for months": _job("jobs.noop", JobStatus.QUEUED, None, run_at=_days(90)),
        "running since long": _job("jobs.noop", JobStatus.RUNNING, None, started_at=_days(90)),
    }
    uploads = {
        "draft, old": _upload(app, "hk-old-draft", RunStatus.DRAFT, 8),
        "draft, recent": _upload(app, "hk-new-draft", RunStatus.DRAFT, 6),
        "imported, old": _upload(app, "hk-old-done", RunStatus.DONE, 30),
    }
    workers = {
        "gone": JobWorker(name="gone:1", started_at=_days(1), seen_at=_days(1)),
        "alive": JobWorker(name="alive:2", started_at=_days(1), seen_at=utcnow()),
    }
    for group in (login, flood, jobs, uploads, workers):
        db.session.add_all(group.values())
    db.session.commit()
    ids = {
        name: (type(row), row.id)
        for group in (login, flood, jobs, uploads)
        for name, row in group.items()
    }
    upload_files = {name: run.stored_name for name, run in uploads.items()}

    lock = None
    with app.app_context():
        if presence.is_sqlite():
            # SQLite: the live worker is the one holding the lock (it writes no heartbeat there).
            lock = presence.WorkerLock(presence.lock_path(db.engine), "alive:2")
            assert lock.acquire()
    try:
        job = _run_housekeeping(app, db)
    finally:
        if lock is not None:
            lock.release()

    assert job.status is JobStatus.DONE, job.last_error
    removed = job.result["removed"]
    assert removed["old login attempts"] == 1
    assert removed["public form submissions"] == 1
    assert removed["uploads never imported"] == 1
    assert removed["finished jobs"] == 3
    assert removed["workers gone"] == 1

    gone = {name for name, (model, key) in ids.items() if db.session.get(model, key) is None}
    assert gone == {
        "login, old",
        "form row, a day old",
        "draft, old",
        "done, old",
        "cancelled, old",
        "failed, old",
    }
    assert db.session.scalars(sa.select(JobWorker.name)).all() == ["alive:2"]
    # The stale draft's file went with it; the others' stay.
    from crm.imports.uploads import upload_dir

    with app.app_context():
        left = {name for name, stored in upload_files.items() if (upload_dir() / stored).exists()}
    assert left == {"draft, recent", "imported, old"}


def test_login_attempts_the_throttle_still_counts_are_kept(app, db):
    """Even with a keep period shorter than the throttle window, the window's attempts stay."""
    from crm.auth.operations import forget_old_login_attempts

    db.session.add(LoginAttempt(email="b@example.org", address="10.0.0.3", at=_days(0.01)))
    db.session.commit()
    with app.app_context():
        assert forget_old_login_attempts(utcnow(), keep_days=0, window_seconds=3600) == 0
        assert forget_old_login_attempts(utcnow(), keep_days=0, window_seconds=60) == 1
        db.session.rollback()


def test_a_task_that_fails_keeps_back_none_of_the_others(app, db):
    @task("a test task that fails")
    def _broken(now):
        raise RuntimeError("the disk is full")

    try:
        db.session.add(
            LoginAttempt(email="c@example.org", address="10.0.0.4", at=_days(365)),
        )
        db.session.commit()
        job = _run_housekeeping(app, db)
    finally:
        TASKS[:] = [t for t in TASKS if t.label != "a test task that fails"]
    assert job.status is JobStatus.FAILED
    assert "a test task that fails (RuntimeError: the disk is full)" in job.last_error
    assert "Everything else was done" in job.last_error
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) == 0


def test_housekeeping_is_scheduled_once_an_hour_however_many_workers(app, db):
    start = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    with app.app_context():
        for minutes in (0, 20, 59, 60, 61):
            for name in ("a:1", "b:2"):
                Worker(app, name=name).schedule_periodic(start + timedelta(minutes=minutes))
    keys = db.session.scalars(
        sa.select(Job.unique_key).where(Job.kind == "housekeeping").order_by(Job.unique_key)
    ).all()
    assert keys == ["housekeeping@2026-12-07T10:00", "housekeeping@2026-12-07T11:00"]
