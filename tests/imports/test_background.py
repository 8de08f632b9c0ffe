"""Large files import in the background: the page follows the run; a failure is reported."""

from __future__ import annotations

import io

import sqlalchemy as sa

from crm.contacts.models import Contact
from crm.imports.models import ImportRun, RunStatus


class InlineThread:
    """Runs the job at start(), in this thread: the test client's database connection is not
    shared across threads, and the job is the same code either way."""

    def __init__(self, target, args, **_kw):
        self.target, self.args = target, args

    def start(self):
        self.target(*self.args)


def test_a_large_file_runs_as_a_job_and_the_page_shows_its_progress(
    app, client, as_role, db, monkeypatch
):
    from crm.imports import jobs

    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_ROWS", 2)
    monkeypatch.setattr(jobs.threading, "Thread", InlineThread)
    as_role("lead")
    data = b"first_name,email\n" + b"".join(b"P%d,p%d@example.org\n" % (i, i) for i in range(5))
    client.post("/imports/upload", data={"record_type": "contacts", "file": (io.BytesIO(data), "big.csv")},
                content_type="multipart/form-data")  # fmt: skip
    run = db.session.scalars(sa.select(ImportRun)).one()
    assert "in the background" in client.get(f"/imports/{run.id}/preview").get_data(as_text=True)
    response = client.post(f"/imports/{run.id}/run")
    assert response.headers["Location"].endswith(f"/imports/{run.id}")
    db.session.expire_all()
    done = db.session.get(ImportRun, run.id)
    assert done.status is RunStatus.DONE, done.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 5
    state = client.get(f"/imports/{run.id}/progress.json").get_json()
    assert state["finished"] is True and state["status"] == "done"


def test_a_job_that_fails_is_marked_failed_with_the_reason_and_imports_nothing(app, db, make_user):
    from crm.imports import jobs, operations

    actor_id = make_user("lead").id
    with app.test_request_context():
        run = operations.start_run(None, "contacts", "gone.csv", b"first_name\nA\nB\n")
        db.session.commit()
        run_id = run.id
        operations.stored_path(run).unlink()  # the upload vanished (disk cleaned, say)
    jobs._work(app, run_id, actor_id)
    db.session.expire_all()
    run = db.session.get(ImportRun, run_id)
    assert run.status is RunStatus.FAILED
    assert "no longer on the server" in run.message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_a_run_whose_worker_died_is_shown_as_stopped(app, client, as_role, db, make_user):
    import os
    import time

    from crm.imports import operations

    as_role("lead")
    with app.test_request_context():
        run = operations.start_run(None, "contacts", "big.csv", b"first_name\nA\n")
        run.status = RunStatus.RUNNING
        db.session.commit()
        operations.write_progress(run, 0, 1)
        old = time.time() - 3600
        os.utime(operations.progress_path(run), (old, old))
        run_id = run.id
    page = client.get(f"/imports/{run_id}").get_data(as_text=True)
    assert "This import stopped" in page
