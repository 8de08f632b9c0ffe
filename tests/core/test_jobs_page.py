"""The Jobs page (admins) and the "no worker is running" warning, on the database under test
(SQLite or PostgreSQL): sections and filters, progress of a running job, retry and cancel with
their refusals, CSRF, odd query strings, and what a job's page does not show (email bodies)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.auth.models import Role
from crm.core.db import utcnow
from crm.core.jobs import Job, JobStatus, JobWorker, handler, presence
from crm.core.jobs.display import summarize
from crm.core.mail import MailMessage, queue_mail

WARNING = "Campaigns, imports and emails are waiting: no worker is running."


@handler("test.page", label="Page check", describe=lambda p: f"About {p['name']}")
def _page_job(payload: dict, job) -> dict:
    return {"name": payload["name"]}


@handler("test.other", label="Other check")
def _other_job(payload: dict, job) -> None:
    return None


@pytest.fixture
def make_job(db):
    def make(status: JobStatus, kind: str = "test.page", name: str = "x", **fields) -> Job:
        now = utcnow()
        if status.finished:
            fields.setdefault("finished_at", now)
        if status is JobStatus.RUNNING:
            fields.setdefault("started_at", now)
            fields.setdefault("lease_holder", "host:7")
            fields.setdefault("lease_until", now + timedelta(minutes=1))
        job = Job(kind=kind, payload={"name": name}, status=status, max_attempts=5, **fields)
        db.session.add(job)
        db.session.commit()
        return job

    return make


@pytest.fixture
def admin(as_role):
    return as_role("admin")


def _engine(app, db):
    with app.app_context():
        return db.engine


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _section(page: str, status: str) -> str:
    """The HTML of one section (or the one list) of the page."""
    found = re.search(rf'id="jobs-{status}".*?</table>', page, re.S)
    assert found, f"no {status} section"
    return found.group(0)


def _show_progress(app, db, job: Job, done: int, total: int) -> None:
    if presence.is_sqlite(_engine(app, db)):
        presence.write_progress_file(
            _engine(app, db), job.id, {"done": done, "total": total, "message": "Sending"}
        )
    else:
        job.progress_done, job.progress_total, job.progress_message = done, total, "Sending"
        db.session.commit()


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_every_other_role_is_refused(client, as_role, make_job, role):
    job = make_job(JobStatus.FAILED, last_error="boom")
    as_role(role)
    assert client.get("/jobs/").status_code == 403
    assert client.get(f"/jobs/{job.id}").status_code == 403
    assert client.post(f"/jobs/{job.id}/retry").status_code == 403
    assert client.post(f"/jobs/{job.id}/cancel").status_code == 403
    assert job.status is JobStatus.FAILED


def test_an_admin_opens_the_page_and_a_job(client, admin, make_job):
    job = make_job(JobStatus.DONE)
    assert 'href="/jobs/"' in _text(client.get("/"))  # the admin menu links to it
    assert "Jobs" in _text(client.get("/jobs/"))
    assert "About x" in _text(client.get(f"/jobs/{job.id}"))
    assert client.get("/jobs/987654").status_code == 404


# --- what the page shows ------------------------------------------------------------------------


def test_the_overview_shows_each_status_in_its_section(app, db, client, admin, make_job):
    failed = make_job(JobStatus.FAILED, name="failing", last_error="SendGrid said 400:\nbad sender")
    running = make_job(JobStatus.RUNNING, name="busy")
    _show_progress(app, db, running, 5, 20)
    done = make_job(JobStatus.DONE, name="finished")
    waiting = make_job(JobStatus.QUEUED, name="later", run_at=utcnow() + timedelta(hours=1))
    old = make_job(JobStatus.DONE, name="last week", finished_at=utcnow() - timedelta(days=7))
    try:
        page = _text(client.get("/jobs/"))
    finally:
        presence.forget_progress_file(_engine(app, db), running.id)
    assert f"job-{failed.id}" in _section(page, "failed")
    assert "SendGrid said 400:\nbad sender" in _section(page, "failed")  # the error in full
    assert "About failing" in _section(page, "failed")
    assert "Page check" in _section(page, "failed")  # the kind's label
    assert f"job-{running.id}" in _section(page, "running")
    assert "5 of 20 · 25%" in _section(page, "running")
    assert "Its worker (host:7) is not running any more" in _section(page, "running")
    assert 'aria-valuenow="25"' in _section(page, "running")
    assert f"job-{waiting.id}" in _section(page, "queued")
    assert f"job-{done.id}" in _section(page, "done")
    assert f"job-{old.id}" not in page  # done more than a day ago


def test_failed_jobs_have_retry_and_cancel_and_others_only_what_applies(client, admin, make_job):
    failed = make_job(JobStatus.FAILED, last_error="boom")
    running = make_job(JobStatus.RUNNING)
    done = make_job(JobStatus.DONE)
    page = _text(client.get("/jobs/"))
    assert f"/jobs/{failed.id}/retry" in page and f"/jobs/{failed.id}/cancel" in page
    assert f"/jobs/{running.id}/cancel" not in page and f"/jobs/{running.id}/retry" not in page
    assert f"/jobs/{done.id}/retry" not in page


def test_the_status_filter_lists_one_status(client, admin, make_job):
    failed = make_job(JobStatus.FAILED, last_error="boom")
    done = make_job(JobStatus.DONE)
    page = _text(client.get("/jobs/?status=failed"))
    assert f"job-{failed.id}" in page and f"job-{done.id}" not in page
    page = _text(client.get("/jobs/?status=done"))
    assert f"job-{done.id}" in page and f"job-{failed.id}" not in page


def test_the_kind_filter_lists_one_kind_and_offers_the_labels(client, admin, make_job):
    mine = make_job(JobStatus.FAILED, kind="test.page", last_error="boom")
    other = make_job(JobStatus.FAILED, kind="test.other", last_error="boom")
    page = _text(client.get("/jobs/?kind=test.other"))
    assert f"job-{other.id}" in page and f"job-{mine.id}" not in page
    assert '<option value="test.other" selected>Other check</option>' in page
    assert '<option value="mail.send" >Email</option>' in page
    page = _text(client.get("/jobs/?status=failed&kind=test.page"))
    assert f"job-{mine.id}" in page and f"job-{other.id}" not in page


def test_the_tabs_count_each_status(client, admin, make_job):
    for _ in range(3):
        make_job(JobStatus.FAILED, kind="test.other", last_error="boom")
    make_job(JobStatus.DONE, kind="test.other")
    page = _text(client.get("/jobs/?kind=test.other"))
    tabs = re.search(r'id="status-tabs".*?</ul>', page, re.S).group(0)
    assert re.search(r'data-status="failed">Failed\s*<span[^>]*>3</span>', tabs)
    assert re.search(r'data-status="done">Done in the last day\s*<span[^>]*>1</span>', tabs)


def test_a_long_list_is_paged_by_keyset(app, client, admin, make_job):
    jobs = [make_job(JobStatus.FAILED, kind="test.other", last_error="boom") for _ in range(5)]
    app.config["PAGE_SIZE"], size = 2, app.config["PAGE_SIZE"]
    try:
        seen: list[int] = []
        url = "/jobs/?status=failed&kind=test.other"
        for _ in range(5):
            page = _text(client.get(url))
            seen += [int(i) for i in re.findall(r'id="job-(\d+)"', page)]
            url = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
            if url == "#":  # the last page
                break
    finally:
        app.config["PAGE_SIZE"] = size
    assert seen == sorted((j.id for j in jobs), reverse=True)  # newest first, each once


def test_the_workers_list_says_what_each_is_running(app, db, client, admin, make_job):
    running = make_job(JobStatus.RUNNING, name="busy", lease_holder="host:7")
    with _worker_seen(app, db, "host:7"):
        page = _text(client.get("/jobs/"))
    workers = re.search(r'id="workers".*?</table>', page, re.S).group(0)
    assert "host:7" in workers
    assert f"#{running.id}</a> Page check" in workers and "About busy" in workers
    assert WARNING not in page
    assert "is not running any more" not in page  # its worker is alive


def test_odd_query_strings_show_the_page(client, admin, make_job):
    make_job(JobStatus.FAILED, last_error="boom")
    for query in (
        "?status=nonsense&kind=<script>alert(1)</script>",
        "?status=done&after=not-a-cursor&kind=",
        "?status=failed&before=WyJ4IiwgMV0",  # ["x", 1]: not a time
        "?status=queued&after=WyIyMDI2LTAxLTAxIiwgImFiYyJd",  # a time, then not an id
        "?status=running&kind=%00",
        "?status[]=failed&kind[]=x",
    ):
        response = client.get("/jobs/" + query)
        assert response.status_code == 200, query
        assert "<script>alert(1)" not in response.get_data(as_text=True)


# --- retry and cancel -------------------------------------------------------------------------


def test_retry_puts_a_failed_job_back_in_the_queue(db, client, admin, make_job):
    job = make_job(JobStatus.FAILED, last_error="boom", attempts=5)
    response = client.post(f"/jobs/{job.id}/retry", data={"next": "/jobs/?status=failed"})
    assert response.status_code == 302 and response.headers["Location"] == "/jobs/?status=failed"
    db.session.refresh(job)
    assert job.status is JobStatus.QUEUED and job.attempts == 0
    assert "is queued again" in _text(client.get("/jobs/?status=failed"))
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.object_type == "job", AuditEntry.object_id == job.id)
    )
    assert entry is not None and entry.actor_id == admin.id
    assert entry.summary == "Queued again (Page check)"


def test_cancel_stops_a_waiting_job(db, client, admin, make_job):
    job = make_job(JobStatus.QUEUED, run_at=utcnow() + timedelta(hours=1))
    response = client.post(f"/jobs/{job.id}/cancel", follow_redirects=True)
    assert "is cancelled; it will not run" in _text(response)
    db.session.refresh(job)
    assert job.status is JobStatus.CANCELLED


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (JobStatus.RUNNING, "cancel", "This job is running; it cannot be cancelled now."),
        (JobStatus.DONE, "retry", "Only a failed or cancelled job can be retried."),
        (JobStatus.DONE, "cancel", "This job is done; there is nothing to cancel."),
        (JobStatus.QUEUED, "retry", "Only a failed or cancelled job can be retried."),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    db, client, admin, make_job, status, action, message
):
    job = make_job(status)
    response = client.post(f"/jobs/{job.id}/{action}", follow_redirects=True)
    assert message in _text(response)
    db.session.refresh(job)
    assert job.status is status
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_type == "job")
        )
        == 0
    )


def test_retry_and_cancel_of_a_job_that_is_not_there(client, admin):
    assert client.post("/jobs/987654/retry").status_code == 404
    assert client.get("/jobs/987654/retry").status_code == 405


def test_the_buttons_never_send_you_to_another_site(client, admin, make_job):
    job = make_job(JobStatus.FAILED, last_error="boom")
    for bad in ("https://evil.example/", "//evil.example/jobs/", "/jobs/\\evil", "/contacts/"):
        response = client.post(f"/jobs/{job.id}/cancel", data={"next": bad})
        assert response.headers["Location"] == f"/jobs/{job.id}", bad
        client.post(f"/jobs/{job.id}/retry")  # back in the queue, for the next cancel


def test_a_forged_post_without_the_csrf_token_is_refused(app, db, client, admin, make_job):
    job = make_job(JobStatus.FAILED, last_error="boom")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        forged = client.post(f"/jobs/{job.id}/retry")
        assert forged.status_code == 400
        assert "The form has expired" in forged.get_data(as_text=True)
        db.session.refresh(job)
        assert job.status is JobStatus.FAILED
        page = _text(client.get("/jobs/"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        ok = client.post(f"/jobs/{job.id}/retry", data={"csrf_token": token})
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.refresh(job)
    assert job.status is JobStatus.QUEUED


# --- a job's page ---------------------------------------------------------------------------


def test_a_jobs_page_shows_its_details_and_progress(app, db, client, admin, make_job):
    job = make_job(JobStatus.RUNNING, name="busy", attempts=2)
    _show_progress(app, db, job, 30, 40)
    try:
        page = _text(client.get(f"/jobs/{job.id}"))
    finally:
        presence.forget_progress_file(_engine(app, db), job.id)
    assert "About busy" in page
    assert "30 of 40 · 75%" in page
    assert "2 of 5" in page  # attempts
    assert "host:7" in page  # the worker holding it
    assert re.search(r"<th[^>]*>name</th><td[^>]*>busy</td>", page)


def test_a_failed_jobs_page_shows_its_error_and_result(client, admin, make_job):
    job = make_job(JobStatus.FAILED, last_error="The file has no rows.\nUpload another.")
    page = _text(client.get(f"/jobs/{job.id}"))
    assert "Why it failed" in page and "The file has no rows.\nUpload another." in page
    assert f"/jobs/{job.id}/retry" in page


def test_an_email_jobs_page_shows_who_and_what_but_not_the_body(app, db, client, admin):
    link = "https://crm.example.org/consultations/r/secret-token-123"
    with app.test_request_context():
        job = queue_mail(
            MailMessage(
                to="ana@example.org",
                subject="Your link to the consultation",
                text=f"Hello Ana, answer here: {link}",
                html=f'<p>Hello Ana, <a href="{link}">answer here</a></p>',
            )
        )
        job_id = job.id
        db.session.commit()
    page = _text(client.get(f"/jobs/{job_id}"))
    assert "To ana@example.org: Your link to the consultation" in page
    assert "secret-token-123" not in page
    assert "Hello Ana" not in page
    listing = _text(client.get("/jobs/"))
    assert "secret-token-123" not in listing and "Hello Ana" not in listing


def test_a_payload_summary_shows_plain_values_and_names_the_rest():
    rows = dict(
        summarize(
            {
                "campaign_id": 12,
                "dry_run": False,
                "to": "ana@example.org",
                "text": "a body",
                "note": "see https://example.org/x",
                "ids": [1, 2, 3],
                "many": list(range(50)),
                "counts": {"created": 3, "token": "abc"},
                "long": "x" * 500,
            }
        )
    )
    assert (
        rows["campaign_id"] == "12" and rows["dry_run"] == "no" and rows["to"] == "ana@example.org"
    )
    assert rows["text"] == "not shown (6 characters)"
    assert rows["note"].startswith("not shown (a link")
    assert rows["ids"] == "1, 2, 3" and rows["many"] == "not shown (50 items)"
    assert rows["counts.created"] == "3" and rows["counts.token"].startswith("not shown")
    assert rows["long"] == "not shown (500 characters)"
    assert summarize(None) == [] and summarize(["not", "a", "dict"]) == []


# --- the "no worker is running" warning -------------------------------------------------------


class _worker_seen:  # noqa: N801 - used as a `with` block, like a function
    """A worker seen by every web process: a fresh heartbeat row on PostgreSQL, the lock beside
    the database file on SQLite."""

    def __init__(self, app, db, name: str = "host:7", seen_at=None):
        self.app, self.db, self.name, self.seen_at = app, db, name, seen_at
        self.lock = None

    def __enter__(self):
        engine = _engine(self.app, self.db)
        if presence.is_sqlite(engine):
            self.lock = presence.WorkerLock(presence.lock_path(engine), self.name)
            assert self.lock.acquire()
        else:
            self.db.session.add(JobWorker(name=self.name, seen_at=self.seen_at or utcnow()))
            self.db.session.commit()
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()
        else:  # as a worker that stops withdraws its row
            self.db.session.execute(sa.delete(JobWorker).where(JobWorker.name == self.name))
            self.db.session.commit()


@pytest.mark.parametrize("role", ["admin", "lead"])
def test_admins_and_leads_are_warned_when_no_worker_runs(app, db, client, as_role, role):
    as_role(role)
    with app.test_request_context():
        for n in range(3):
            queue_mail(MailMessage(to=f"p{n}@example.org", subject="Hello", text="Hi"))
        db.session.commit()
    page = _text(client.get("/"))
    assert WARNING in page
    assert "3 jobs are due and waiting" in page
    assert "flask --app wsgi crm worker" in page and "make run" in page
    with _worker_seen(app, db):
        assert WARNING not in _text(client.get("/"))
    assert WARNING in _text(client.get("/"))  # the worker went: the warning is back


def test_volunteers_are_not_shown_the_warning(client, as_role):
    as_role("volunteer")
    assert WARNING not in _text(client.get("/"))


def test_the_jobs_page_warns_too(app, db, client, admin):
    page = _text(client.get("/jobs/"))
    assert WARNING in page and "No job is due yet" in page
    assert "See the jobs" not in page  # already there
    assert "See the jobs" in _text(client.get("/"))
    with _worker_seen(app, db):
        assert WARNING not in _text(client.get("/jobs/"))


def test_a_worker_not_heard_from_for_a_minute_is_taken_for_gone(app, db, client, admin):
    if presence.is_sqlite(_engine(app, db)):
        pytest.skip("PostgreSQL heartbeats; SQLite's lock goes with the process")
    with _worker_seen(app, db, seen_at=utcnow() - timedelta(minutes=2)):
        assert WARNING in _text(client.get("/"))


def test_the_waiting_count_is_capped(app, db):
    with app.app_context():
        db.session.execute(
            sa.insert(Job),
            [{"kind": "test.other", "payload": {}, "status": "queued"} for _ in range(4)],
        )
        assert presence.waiting_jobs(cap=2) == 3
        assert presence.waiting_jobs() == 4
        db.session.rollback()
    assert presence.NoWorker(1_001).waiting_label == "More than 1,000 jobs are due and waiting"
    assert presence.NoWorker(1).waiting_label == "1 job is due and waiting"
