"""The request is the unit of work: a view's changes commit once when it answers with a
success, and roll back on an error status, an exception or a refused operation. A job queued by
a request that rolls back does not exist; one queued by a request that commits does."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import abort

from crm.core.errors import OperationError
from crm.core.jobs import Job, enqueue
from crm.core.unit_of_work import attempt, discard_changes


@pytest.fixture(scope="module")
def probe_app(app):
    """The app's own class and settings, with a few views that queue a job, then end well or
    badly (the main app cannot take new routes once it has served a request)."""
    from config import TestConfig
    from crm import create_app

    probe = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        MAIL_FILE_DIR=app.config["MAIL_FILE_DIR"],
        INSTANCE_DIR=app.config["INSTANCE_DIR"],
    )

    def queue(tag: str) -> None:
        enqueue("jobs.noop", {"tag": tag})

    @probe.route("/probe/ok")
    def ok():
        queue("ok")
        return "queued"

    @probe.route("/probe/error-status")
    def error_status():
        queue("error-status")
        return "refused", 422

    @probe.route("/probe/abort")
    def aborted():
        queue("abort")
        abort(404)

    @probe.route("/probe/crash")
    def crash():
        queue("crash")
        raise RuntimeError("boom")

    @probe.route("/probe/refused-operation")
    def refused_operation():
        queue("kept")

        def operation():
            queue("refused")
            raise OperationError("No.")

        done = attempt(operation)
        return "refused" if not done.ok else "ok"

    @probe.route("/probe/preview")
    def preview():
        queue("preview")
        discard_changes()
        return "nothing kept"

    return probe


def _tags(db) -> list[str]:
    return sorted(
        job.payload["tag"] for job in db.session.scalars(sa.select(Job)) if "tag" in job.payload
    )


def test_a_successful_request_commits_its_jobs(db, probe_app):
    assert probe_app.test_client().get("/probe/ok").status_code == 200
    assert _tags(db) == ["ok"]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/probe/error-status", 422), ("/probe/abort", 404), ("/probe/crash", 500)],
)
def test_a_request_that_fails_leaves_no_job(db, probe_app, path, status):
    probe_app.config["PROPAGATE_EXCEPTIONS"] = False  # the crash gets the 500 page
    try:
        assert probe_app.test_client().get(path).status_code == status
    finally:
        probe_app.config["PROPAGATE_EXCEPTIONS"] = None
    assert _tags(db) == []


def test_a_refused_operation_undoes_only_itself(db, probe_app):
    response = probe_app.test_client().get("/probe/refused-operation")
    assert response.get_data(as_text=True) == "refused"
    assert _tags(db) == ["kept"]


def test_a_view_can_answer_well_and_keep_nothing(db, probe_app):
    assert probe_app.test_client().get("/probe/preview").status_code == 200
    assert _tags(db) == []
