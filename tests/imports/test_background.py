"""Large files import as jobs: the "Import" button queues an `imports.run` job (no thread), a
worker runs it in one transaction, the run's page follows the job, and the upload lives in the
database until the run ends. In this process, on the database under test (SQLite or
PostgreSQL); real worker processes are killed in test_import_processes.py."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.core.db import utcnow
from crm.core.jobs import Job, JobStatus, cancel, retry
from crm.core.jobs.worker import Worker
from crm.imports.models import ImportItem, ImportRun, ImportUpload, RunStatus


def people(n: int, start: int = 0) -> bytes:
    return b"first_name,last_name,email\n" + b"".join(
        b"P%d,Job,p%d@example.org\n" % (i, i) for i in range(start, start + n)
    )


@pytest.fixture(autouse=True)
def background(app, monkeypatch):
    """Any file over two rows is a large one."""
    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 2)


@pytest.fixture
def lead(as_role):
    return as_role("lead")


def upload(client, db, data: bytes, name: str = "big.csv") -> ImportRun:
    response = client.post(
        "/imports/upload",
        data={"record_type": "contacts", "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    run_id = int(re.search(r"/imports/(\d+)/mapping", response.headers["Location"]).group(1))
    return db.session.get(ImportRun, run_id)


def queue(client, db, run: ImportRun) -> Job:
    response = client.post(f"/imports/{run.id}/run")
    assert response.headers["Location"].endswith(f"/imports/{run.id}")
    db.session.expire_all()
    return db.session.scalar(sa.select(Job).where(Job.unique_key == f"imports.run:{run.id}"))


def cache_path(app, run: ImportRun):
    from crm.imports import uploads

    with app.test_request_context():
        return uploads.stored_path(run)


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def fresh(db, model, key):
    db.session.expire_all()
    return db.session.get(model, key)


def page(client, run: ImportRun) -> str:
    return " ".join(client.get(f"/imports/{run.id}").get_data(as_text=True).split())


def on_sqlite(app) -> bool:
    from crm.core.jobs import presence

    with app.app_context():
        return presence.is_sqlite()


def tidy(app, db) -> dict:
    """The hourly housekeeping, run as the worker runs it: what it removed of the imports'."""
    from crm.core.housekeeping import HOUSEKEEPING
    from crm.core.jobs import enqueue

    with app.test_request_context():
        job = enqueue(HOUSEKEEPING, unique_key=f"housekeeping@test-{utcnow().timestamp()}")
        db.session.commit()
        job_id = job.id
    with app.app_context():
        Worker(app, name="tidy:1").drain()
    removed = fresh(db, Job, job_id).result["removed"]
    return {
        "failed": removed["import runs whose job ended"],
        "drafts": removed["uploads never imported"],
        "uploads": removed["uploads no run needs"],
        "cache_files": removed["cached copies of uploads"],
    }


def test_a_large_web_import_is_queued_as_a_job_and_the_worker_imports_it(
    app, client, db, lead, run_jobs, monkeypatch
):
    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(
        threading.Thread, "start", lambda t: (started.append(t.name), real_start(t))
    )
    run = upload(client, db, people(5))
    assert "in the background" in client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    job = queue(client, db, run)

    assert started == []  # nothing runs in the web process
    assert job.kind == "imports.run" and job.payload == {"run_id": run.id}
    assert job.status is JobStatus.QUEUED and job.created_by_id == lead.id
    assert fresh(db, ImportRun, run.id).status is RunStatus.QUEUED
    assert count(db, Contact) == 0
    state = client.get(f"/imports/{run.id}/progress.json").get_json()
    assert state["status"] == "queued" and state["finished"] is False
    assert state["no_worker"] is True and state["total"] == 5
    assert "No worker is running" in page(client, run)
    assert "flask --app wsgi crm worker" in page(client, run)

    assert run_jobs() == 1
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.DONE and run.created_count == 5
    assert count(db, Contact) == 5
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.DONE and job.result["created"] == 5
    assert db.session.get(ImportUpload, run.stored_name) is None  # the upload went with the run
    assert not cache_path(app, run).exists()
    state = client.get(f"/imports/{run.id}/progress.json").get_json()
    assert state["finished"] is True and state["status"] == "done" and state["percent"] == 100
    assert run_jobs() == 0  # it runs once


def test_a_second_click_queues_nothing_more(client, db, lead):
    run = upload(client, db, people(3))
    job = queue(client, db, run)
    client.post(f"/imports/{run.id}/run")
    assert db.session.scalars(sa.select(Job.id).where(Job.kind == "imports.run")).all() == [job.id]


def test_a_file_that_cannot_import_is_not_queued(client, db, lead):
    run = upload(client, db, b"nickname,notes\nA,x\nB,y\nC,z\n")
    response = client.post(f"/imports/{run.id}/run", follow_redirects=True)
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert fresh(db, ImportRun, run.id).status is RunStatus.DRAFT
    assert count(db, Job) == 0


def test_the_upload_is_kept_in_the_database_and_the_cache_is_written_again(
    app, client, db, lead, run_jobs
):
    data = people(4)
    run = upload(client, db, data)
    kept = db.session.get(ImportUpload, run.stored_name)
    assert kept is not None and kept.data == data
    cache = cache_path(app, run)
    assert cache.read_bytes() == data

    cache.unlink()  # another machine took the upload, or the cache was cleaned
    assert client.get(f"/imports/{run.id}/mapping").status_code == 200
    assert cache.read_bytes() == data
    cache.unlink()
    queue(client, db, run)
    run_jobs()
    assert fresh(db, ImportRun, run.id).status is RunStatus.DONE
    assert count(db, Contact) == 4
    assert not cache.exists() and db.session.get(ImportUpload, run.stored_name) is None


def test_an_upload_gone_from_the_database_and_the_disk_fails_the_run(
    app, client, db, lead, run_jobs
):
    run = upload(client, db, people(3))
    job = queue(client, db, run)
    db.session.execute(sa.delete(ImportUpload))
    db.session.commit()
    cache_path(app, run).unlink()
    run_jobs()
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED
    assert run.message == "The uploaded file is no longer on the server; upload it again."
    assert "no longer on the server" in page(client, run)
    assert fresh(db, Job, job.id).status is JobStatus.DONE  # the job did its work: it said why


def test_a_refusal_in_the_middle_fails_the_run_with_its_message_and_imports_nothing(
    app, client, db, lead, run_jobs, monkeypatch
):
    """The reader refuses after the first chunk (5,000 rows) was written: all of it goes."""
    run = upload(client, db, people(6000))
    job = queue(client, db, run)
    monkeypatch.setitem(app.config, "IMPORT_MAX_ROWS", 5500)
    run_jobs()
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED
    assert run.message == "“big.csv” has more than 5,500 rows, the most one import takes. " \
        "Split it into smaller files."  # fmt: skip
    assert count(db, Contact) == 0 and count(db, ImportItem) == 0
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.DONE and job.result == {"refused": run.message}
    assert db.session.get(ImportUpload, run.stored_name) is None
    words = page(client, run)
    assert "has more than 5,500 rows" in words and "Nothing was imported." in words
    state = client.get(f"/imports/{run.id}/progress.json").get_json()
    assert state["status"] == "failed" and state["finished"] and "5,500" in state["message"]


def test_a_crash_fails_the_run_and_the_job_with_the_error(
    app, client, db, lead, run_jobs, monkeypatch
):
    from crm.imports import running

    run = upload(client, db, people(3))
    job = queue(client, db, run)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(running.audit, "record", broken)  # after every row was written
    run_jobs()
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED and "unexpected error" in run.message
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.FAILED and "ZeroDivisionError" in job.last_error
    assert count(db, Contact) == 0
    assert db.session.get(ImportUpload, run.stored_name) is None
    monkeypatch.undo()
    retry(job)  # from the Jobs page: the run has ended, so the job says so
    db.session.commit()
    run_jobs()
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.FAILED and "no longer waiting to run" in job.last_error


def test_a_worker_killed_mid_import_leaves_nothing_and_the_next_imports_it_once(
    app, client, db, lead
):
    run = upload(client, db, people(7))
    job = queue(client, db, run)
    with app.app_context():
        assert Worker(app, name="killed:1").claim().id == job.id  # then SIGKILL
    row = fresh(db, Job, job.id)
    row.lease_until = utcnow() - timedelta(seconds=1)  # the lease lapses
    db.session.commit()
    with app.app_context():
        alive = Worker(app, name="alive:2")
        assert alive.take_back() == 1
    assert "starts again from the beginning" in page(client, run)
    with app.app_context():
        assert alive.drain() == 1
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 2
    assert fresh(db, ImportRun, run.id).status is RunStatus.DONE
    assert count(db, Contact) == 7


def test_a_job_ended_by_the_queue_shows_the_run_failed_and_tidy_writes_it(app, client, db, lead):
    """The worker died on the last attempt: the queue fails the job; the run follows."""
    run = upload(client, db, people(3))
    job = queue(client, db, run)
    row = fresh(db, Job, job.id)
    row.attempts = row.max_attempts - 1
    db.session.commit()
    with app.app_context():
        Worker(app, name="killed:1").claim()
    row = fresh(db, Job, job.id)
    row.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with app.app_context():
        Worker(app, name="alive:2").take_back()
    assert fresh(db, Job, job.id).status is JobStatus.FAILED

    words = page(client, run)
    assert "stopped before it finished, on each of its attempts" in words
    assert "Nothing was imported." in words
    listing = " ".join(client.get("/imports/").get_data(as_text=True).split())
    assert "Failed (nothing imported)" in listing
    assert fresh(db, ImportRun, run.id).status is RunStatus.QUEUED  # until the housekeeping

    assert tidy(app, db)["failed"] == 1
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED and "on each of its attempts" in run.message
    assert db.session.get(ImportUpload, run.stored_name) is None
    assert count(db, Contact) == 0


def test_a_cancelled_import_job_fails_its_run(app, client, db, lead, run_jobs):
    run = upload(client, db, people(3))
    job = queue(client, db, run)
    cancel(fresh(db, Job, job.id))
    db.session.commit()
    assert "cancelled before it ran" in page(client, run)
    assert run_jobs() == 0
    tidy(app, db)
    assert fresh(db, ImportRun, run.id).status is RunStatus.FAILED
    assert count(db, Contact) == 0


def test_a_run_left_by_the_old_import_threads_is_shown_stopped_then_failed(app, client, db, lead):
    run = upload(client, db, people(3))
    run.status = RunStatus.RUNNING  # a thread of a web process that restarted, before jobs
    db.session.commit()
    assert "stopped when the server restarted" in page(client, run)
    tidy(app, db)
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED and "server restarted" in run.message


def test_the_page_says_so_only_when_no_worker_is_running(app, client, db, lead):
    from crm.core.jobs import JobWorker, presence

    run = upload(client, db, people(3))
    queue(client, db, run)
    assert "No worker is running" in page(client, run)
    if on_sqlite(app):
        with app.app_context():
            lock = presence.WorkerLock(presence.lock_path(db.engine), "host:7")
        assert lock.acquire()
        try:
            words = page(client, run)
        finally:
            lock.release()
    else:
        db.session.add(JobWorker(name="host:7", seen_at=utcnow()))
        db.session.commit()
        words = page(client, run)
    assert "No worker is running" not in words
    assert "Waiting for a worker to start it" in words


def test_progress_is_read_from_the_running_job(app, client, db, lead):
    from crm.core.jobs import presence

    run = upload(client, db, people(3))
    job = queue(client, db, run)
    row = fresh(db, Job, job.id)
    row.status = JobStatus.RUNNING
    if on_sqlite(app):  # the worker's pulse writes a file beside the database
        with app.app_context():
            presence.write_progress_file(
                db.engine, job.id, {"done": 2, "total": 3, "message": None}
            )
    else:  # and on PostgreSQL, the job's columns
        row.progress_done, row.progress_total = 2, 3
    db.session.commit()
    try:
        state = client.get(f"/imports/{run.id}/progress.json").get_json()
    finally:
        if on_sqlite(app):
            with app.app_context():
                presence.forget_progress_file(db.engine, job.id)
    assert (state["status"], state["done"], state["total"], state["percent"]) == (
        "running",
        2,
        3,
        67,
    )
    assert "Importing…" in page(client, run)


def test_discarding_an_upload_deletes_its_bytes_and_cache(app, client, db, lead):
    run = upload(client, db, people(3))
    cache = cache_path(app, run)
    client.post(f"/imports/{run.id}/discard")
    assert count(db, ImportUpload) == 0 and count(db, ImportRun) == 0
    assert not cache.exists()


def test_housekeeping_drops_stale_drafts_ended_uploads_and_old_cache_files(app, client, db, lead):
    import os
    import time

    stale = upload(client, db, people(3), "stale.csv")
    stale_cache = cache_path(app, stale)
    kept = upload(client, db, people(3), "kept.csv")
    stale.created_at = utcnow() - timedelta(days=8)
    db.session.add(ImportUpload(stored_name="no-run-has-me.upload", data=b"x"))
    db.session.commit()
    folder = cache_path(app, kept).parent
    unknown_new = folder / "cli-import-under-way.upload"
    unknown_old = folder / "forgotten.upload"
    legacy = folder / "old-thread.upload.progress"
    for path in (unknown_new, unknown_old, legacy):
        path.write_text("x")
    old = time.time() - 2 * 86400
    os.utime(unknown_old, (old, old))

    result = tidy(app, db)
    assert result["drafts"] == 1 and result["uploads"] == 1
    assert [r.file_name for r in db.session.scalars(sa.select(ImportRun))] == ["kept.csv"]
    assert db.session.scalars(sa.select(ImportUpload.stored_name)).all() == [kept.stored_name]
    assert not stale_cache.exists() and cache_path(app, kept).exists()
    assert unknown_new.exists()  # perhaps the command line's import, not committed yet
    assert not unknown_old.exists() and not legacy.exists()
    unknown_new.unlink()


def test_the_command_line_keeps_no_copy(app, db, runner, tmp_path):
    from crm.imports import uploads

    with app.app_context():
        folder = uploads.upload_dir()
    before = set(folder.glob("*.upload"))
    path = tmp_path / "people.csv"
    path.write_bytes(people(3))
    result = runner.invoke(args=["crm", "import", str(path), "--type", "contacts"])
    assert result.exit_code == 0, result.output
    assert count(db, Contact) == 3 and count(db, ImportUpload) == 0
    assert set(folder.glob("*.upload")) == before  # its copy went once it had committed


def test_a_crash_while_the_file_is_checked_fails_the_run_and_the_job(
    app, client, db, lead, run_jobs, monkeypatch
):
    """The file is checked before the write lock is taken, in a transaction of its own: a
    crash there fails the run too, never leaves it queued."""
    from crm.imports.importers.contacts import ContactImporter

    run = upload(client, db, people(3))
    job = queue(client, db, run)

    def broken(self, rows):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ContactImporter, "check", broken)
    run_jobs()
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED and "unexpected error" in run.message
    assert fresh(db, Job, job.id).status is JobStatus.FAILED
    assert count(db, Contact) == 0


def test_a_write_lock_never_got_on_the_last_attempt_fails_the_run_with_the_reason(
    app, client, db, lead, run_jobs, monkeypatch
):
    import sqlite3

    from crm.imports import running

    run = upload(client, db, people(3))
    job = queue(client, db, run)
    job.max_attempts = 1  # this attempt is the last
    db.session.commit()

    def locked(*args, **kwargs):
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError(
            "database is locked"))  # fmt: skip

    monkeypatch.setattr(running, "write", locked)  # PostgreSQL: one transaction
    monkeypatch.setattr(running, "write_part", locked)  # SQLite: part after part
    run_jobs()
    run = fresh(db, ImportRun, run.id)
    assert run.status is RunStatus.FAILED
    assert run.message.startswith("The database stayed busy") and "nothing was imported" in (
        run.message
    )
    assert fresh(db, Job, job.id).status is JobStatus.FAILED
    assert count(db, Contact) == 0


class _Died(BaseException):
    """The worker's process ends here (SIGKILL): nothing after it runs, not even a handler."""


def test_a_worker_that_died_between_two_parts_is_taken_back_and_the_next_imports_it_once(
    app, client, db, lead, monkeypatch
):
    """SQLite writes a large file part after part: a worker that dies after two parts leaves
    them committed and the run running; the next attempt takes them back first, then imports
    the whole file once."""
    from crm.imports import staged

    if not on_sqlite(app):
        pytest.skip("PostgreSQL writes an import in one transaction")
    monkeypatch.setattr(staged, "FIRST_STEP_ROWS", 2)
    monkeypatch.setattr(staged, "STEP_PAUSE", 0)
    parts: list[int] = []

    def dies_after_the_second(size, spent):
        parts.append(1)
        if len(parts) == 2:
            raise _Died
        return 2

    monkeypatch.setattr(staged, "_next_size", dies_after_the_second)
    run = upload(client, db, people(7))
    job = queue(client, db, run)
    with app.app_context(), pytest.raises(_Died):
        Worker(app, name="killed:1").drain()
    assert fresh(db, ImportRun, run.id).status is RunStatus.RUNNING
    assert count(db, Contact) == 4  # two parts of two rows
    row = fresh(db, Job, job.id)
    row.lease_until = utcnow() - timedelta(seconds=1)  # the lease lapses
    db.session.commit()
    monkeypatch.setattr(staged, "_next_size", lambda size, spent: 2)
    with app.app_context():
        alive = Worker(app, name="alive:2")
        assert alive.take_back() == 1
        assert alive.drain() == 1
    job = fresh(db, Job, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 2
    run = fresh(db, ImportRun, run.id)
    assert (run.status, run.created_count) == (RunStatus.DONE, 7)
    emails = db.session.scalars(sa.select(Contact.email)).all()
    assert sorted(emails) == sorted(f"p{i}@example.org" for i in range(7))  # each once
    # The first attempt's trails say its four were made and removed; the run's items are
    # the second attempt's only, so an undo removes exactly what is there.
    items = db.session.scalars(sa.select(ImportItem).where(ImportItem.run_id == run.id)).all()
    assert sum((i.record_id_last or i.record_id) - i.record_id + 1 for i in items) == 7
