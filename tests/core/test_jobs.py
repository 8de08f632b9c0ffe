"""The job queue and the worker, in this process on the database under test (SQLite or
PostgreSQL): queueing, running, retrying with backoff, failing with the error shown, leases
taken back from dead workers, periodic work once per period, and SQLite's one-worker lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from crm.core.db import utcnow
from crm.core.errors import OperationError
from crm.core.jobs import Job, JobStatus, Retry, cancel, enqueue, handler, periodic, presence, retry
from crm.core.jobs.registry import KINDS, PERIODIC, Periodic
from crm.core.jobs.worker import Worker, backoff

RAN: list[dict] = []


@handler("test.record")
def _record(payload: dict, job) -> dict:
    RAN.append({"payload": payload, "attempt": job.attempts})
    return {"seen": payload.get("n")}


@handler("test.refuse")
def _refuse(payload: dict, job) -> None:
    raise OperationError("The file has no rows.")


@handler("test.crash")
def _crash(payload: dict, job) -> None:
    raise ZeroDivisionError("division by zero")


@handler("test.flaky", max_attempts=3)
def _flaky(payload: dict, job) -> dict:
    if job.attempts < payload.get("succeed_on", 99):
        raise Retry("SendGrid answered 503")
    return {"on": job.attempts}


@handler("test.writes")
def _writes(payload: dict, job) -> None:
    from crm.extensions import db
    from crm.organizations.models import Organization, OrganizationKind

    db.session.add(Organization(name=payload["name"], name_key=payload["name"].lower(),
                                kind=OrganizationKind.NGO))  # fmt: skip
    db.session.flush()
    if payload.get("then_fail"):
        raise OperationError("Refused after writing.")


@pytest.fixture(autouse=True)
def _clear():
    RAN.clear()
    yield
    RAN.clear()


@pytest.fixture
def worker(app):
    with app.app_context():
        yield Worker(app, name="host:1")


def _job(db, job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_job_runs_once_and_keeps_its_result(db, ctx, worker):
    job = enqueue("test.record", {"n": 7})
    db.session.commit()
    assert worker.drain() == 1
    assert worker.drain() == 0  # nothing runs twice
    job = _job(db, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 1
    assert job.result == {"seen": 7} and job.finished_at is not None
    assert job.lease_holder is None
    assert RAN == [{"payload": {"n": 7}, "attempt": 1}]


def test_a_job_waits_for_its_time(db, ctx, worker):
    later = enqueue("test.record", {"n": 1}, run_at=utcnow() + timedelta(hours=1))
    db.session.commit()
    assert worker.drain() == 0
    assert _job(db, later.id).status is JobStatus.QUEUED


def test_jobs_run_in_the_order_they_are_due(db, ctx, worker):
    now = utcnow()
    enqueue("test.record", {"n": 2}, run_at=now - timedelta(seconds=1))
    enqueue("test.record", {"n": 1}, run_at=now - timedelta(seconds=5))
    enqueue("test.record", {"n": 3})
    db.session.commit()
    worker.drain()
    assert [r["payload"]["n"] for r in RAN] == [1, 2, 3]


def test_the_same_key_is_queued_once(db, ctx):
    first = enqueue("test.record", {"n": 1}, unique_key="once")
    again = enqueue("test.record", {"n": 2}, unique_key="once")
    db.session.commit()
    assert again.id == first.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_an_unknown_kind_is_refused_when_queued(db, ctx):
    with pytest.raises(ValueError, match="No job handler"):
        enqueue("test.nobody-handles-this")


def test_a_refusal_fails_the_job_with_its_message(db, ctx, worker):
    job = enqueue("test.refuse")
    db.session.commit()
    worker.drain()
    job = _job(db, job.id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "The file has no rows."
    assert job.attempts == 1  # a refusal is not retried


def test_a_crash_fails_the_job_and_says_what_happened(db, ctx, worker, caplog):
    job = enqueue("test.crash")
    db.session.commit()
    worker.drain()
    job = _job(db, job.id)
    assert job.status is JobStatus.FAILED
    assert "ZeroDivisionError: division by zero" in job.last_error


def test_a_failed_job_keeps_nothing_it_wrote(db, ctx, worker):
    from crm.organizations.models import Organization

    kept = enqueue("test.writes", {"name": "Kept Org"})
    dropped = enqueue("test.writes", {"name": "Dropped Org", "then_fail": True})
    db.session.commit()
    worker.drain()
    names = set(db.session.scalars(sa.select(Organization.name)))
    assert "Kept Org" in names and "Dropped Org" not in names
    assert _job(db, kept.id).status is JobStatus.DONE
    assert _job(db, dropped.id).status is JobStatus.FAILED


def test_transient_failures_retry_with_backoff_then_give_up(db, ctx, worker):
    job = enqueue("test.flaky", {"succeed_on": 99})
    db.session.commit()
    before = utcnow()
    worker.drain()
    job = _job(db, job.id)
    assert job.status is JobStatus.QUEUED and job.attempts == 1
    assert job.last_error == "SendGrid answered 503"
    assert before + timedelta(seconds=4) <= job.run_at <= before + timedelta(seconds=11)
    for _ in range(2):  # the next attempts, once due
        job.run_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        worker.drain()
        job = _job(db, job.id)
    assert job.status is JobStatus.FAILED and job.attempts == 3
    assert job.last_error == "Gave up after 3 attempts: SendGrid answered 503"


def test_a_retry_that_then_works_is_done(db, ctx, worker):
    job = enqueue("test.flaky", {"succeed_on": 2})
    db.session.commit()
    worker.drain()
    job = _job(db, job.id)
    job.run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    worker.drain()
    job = _job(db, job.id)
    assert job.status is JobStatus.DONE and job.result == {"on": 2}


def test_backoff_grows_and_is_jittered():
    assert timedelta(seconds=5) <= backoff(1) <= timedelta(seconds=10)
    assert timedelta(seconds=40) <= backoff(4) <= timedelta(seconds=80)
    assert backoff(30) <= timedelta(hours=1)
    assert len({backoff(5) for _ in range(20)}) > 1  # jitter: they do not all come back at once


def test_an_admin_retries_a_failed_job_and_cancels_a_waiting_one(db, ctx, worker):
    failed = enqueue("test.refuse")
    waiting = enqueue("test.record", {"n": 1}, run_at=utcnow() + timedelta(hours=1))
    db.session.commit()
    worker.drain()
    failed = _job(db, failed.id)
    retry(failed)
    db.session.commit()
    assert failed.status is JobStatus.QUEUED and failed.attempts == 0
    cancel(waiting)
    db.session.commit()
    assert _job(db, waiting.id).status is JobStatus.CANCELLED
    with pytest.raises(OperationError, match="nothing to cancel"):
        cancel(_job(db, waiting.id))
    done = enqueue("test.record", {"n": 2})
    db.session.commit()
    worker.drain()
    with pytest.raises(OperationError, match="Only a failed or cancelled"):
        retry(_job(db, done.id))


def test_a_job_whose_worker_died_is_taken_again_when_its_lease_lapses(db, ctx, app):
    job = enqueue("test.record", {"n": 1})
    db.session.commit()
    with app.app_context():
        dead = Worker(app, name="gone:1")
        claimed = dead.claim()  # claimed, then the process is killed
        assert claimed.id == job.id
    alive = Worker(app, name="host:2")
    with app.app_context():
        assert alive.claim() is None  # the lease still holds
        row = _job(db, job.id)
        row.lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert alive.take_back() == 1
        assert alive.drain() == 1
    job = _job(db, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 2
    assert RAN == [{"payload": {"n": 1}, "attempt": 2}]


def test_a_dead_workers_last_attempt_fails_the_job(db, ctx, app):
    job = enqueue("test.record", {"n": 1}, max_attempts=1)
    db.session.commit()
    with app.app_context():
        Worker(app, name="gone:1").claim()
        row = _job(db, job.id)
        row.lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        Worker(app, name="host:2").take_back()
    job = _job(db, job.id)
    assert job.status is JobStatus.FAILED
    assert "stopped before it finished" in job.last_error


def test_a_worker_that_lost_its_lease_keeps_none_of_its_work(db, ctx, app):
    """It looked dead, another worker took the job: the slow one's commit is refused."""
    from crm.organizations.models import Organization

    job = enqueue("test.writes", {"name": "Twice Org"})
    db.session.commit()
    with app.app_context():
        slow = Worker(app, name="slow:1")
        claimed = slow.claim()
        row = _job(db, job.id)
        row.lease_holder = "other:2"  # taken over meanwhile
        db.session.commit()
        assert slow.run_job(claimed) is JobStatus.RUNNING
    assert (
        db.session.scalar(sa.select(Organization).where(Organization.name == "Twice Org")) is None
    )


def test_periodic_work_is_queued_once_per_period_however_many_workers(db, ctx, app):
    periodic("test.record", every=timedelta(days=1), payload={"n": "daily"})
    try:
        morning = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
        with app.app_context():
            for name in ("a:1", "b:2", "c:3"):
                Worker(app, name=name).schedule_periodic(morning)
                Worker(app, name=name).schedule_periodic(morning + timedelta(hours=12))
            Worker(app, name="a:1").schedule_periodic(morning + timedelta(days=1))
        keys = sorted(
            db.session.scalars(sa.select(Job.unique_key).where(Job.kind == "test.record"))
        )
        assert keys == ["test.record@2026-12-07T00:00", "test.record@2026-12-08T00:00"]
    finally:
        PERIODIC[:] = [p for p in PERIODIC if p.kind != "test.record"]


def test_a_period_starts_on_its_boundary():
    hourly = Periodic("x", timedelta(hours=1))
    at = datetime(2026, 12, 7, 10, 59, 59, tzinfo=UTC)
    assert hourly.period_start(at) == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert hourly.key(at) == "x@2026-12-07T10:00"
    # A period shorter than a minute has a key per period, not per minute.
    every_two_seconds = Periodic("x", timedelta(seconds=2))
    assert every_two_seconds.key(at) == "x@2026-12-07T10:59:58"
    assert every_two_seconds.key(at + timedelta(seconds=1)) == "x@2026-12-07T11:00:00"


def test_the_check_job_says_who_ran_it_and_refuses_a_sleep_that_is_no_number(db, ctx, worker):
    ran = enqueue("jobs.noop", {"sleep": 0.01})
    bad = enqueue("jobs.noop", {"sleep": "soon"})
    db.session.commit()
    assert worker.drain() == 2
    assert _job(db, ran.id).result == {"attempts": 1, "worker": "host:1"}
    bad = _job(db, bad.id)
    assert bad.status is JobStatus.FAILED
    assert bad.last_error == "A check job's sleep must be a number of seconds."


def test_every_periodic_kind_has_a_handler():
    assert PERIODIC and all(p.kind in KINDS for p in PERIODIC)


def test_on_sqlite_one_worker_holds_the_lock(tmp_path):
    a = presence.WorkerLock(tmp_path / "db.worker-lock", "host:1")
    b = presence.WorkerLock(tmp_path / "db.worker-lock", "host:2")
    assert a.acquire()
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


def test_the_sqlite_lock_names_its_holder_and_goes_with_it(app, tmp_path):
    import sqlalchemy as sa_

    engine = sa_.create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert presence.sqlite_holder(engine) is None
    lock = presence.WorkerLock(presence.lock_path(engine), "host:42")
    assert lock.acquire()
    assert presence.sqlite_holder(engine) == "host:42"
    lock.release()
    assert presence.sqlite_holder(engine) is None
    engine.dispose()


def test_progress_reaches_other_processes(db, ctx, app):
    job = enqueue("test.record", {"n": 1})
    db.session.commit()
    row = _job(db, job.id)
    row.status = JobStatus.RUNNING
    db.session.commit()
    if presence.is_sqlite():
        presence.write_progress_file(db.engine, job.id, {"done": 5, "total": 20, "message": None})
        try:
            assert presence.progress_of(row).percent == 25
        finally:
            presence.forget_progress_file(db.engine, job.id)
    else:
        row.progress_done, row.progress_total = 5, 20
        db.session.commit()
        assert presence.progress_of(row).percent == 25


def test_a_checkpoint_is_refused_once_another_worker_has_the_job(db, ctx, app):
    from crm.core.jobs.worker import JobContext

    job = enqueue("test.record", {"n": 1})
    db.session.commit()
    with app.app_context():
        claimed = Worker(app, name="slow:1").claim()
        row = _job(db, job.id)
        row.lease_holder = "other:2"  # the slow worker looked dead; another took the job
        db.session.commit()
        context = JobContext(claimed.id, claimed.kind, 1, 5, None, None, worker="slow:1")
        with pytest.raises(OperationError, match="took this job over"):
            context.save_checkpoint({"handed_over": True})
    assert _job(db, job.id).checkpoint is None


def test_once_takes_back_what_a_dead_worker_left_then_runs_it(db, ctx, app):
    job = enqueue("test.record", {"n": 1})
    db.session.commit()
    with app.app_context():
        Worker(app, name="gone:1").claim()  # then killed
        row = _job(db, job.id)
        row.lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert Worker(app, name="host:2", echo=lambda _line: None).run(once=True) >= 1
    assert _job(db, job.id).status is JobStatus.DONE
