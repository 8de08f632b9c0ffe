"""Imports with real processes, on a database of their own on the engine under test (a SQLite
file, or a PostgreSQL database made for the test when CRM_TEST_DATABASE_URL is PostgreSQL):

- a `flask crm worker` killed with SIGKILL in the middle of an import leaves nothing of it (on
  SQLite, the parts it had written are taken back by the next attempt), and the next worker
  imports the file once;
- a 50,000-row file uploaded through one gunicorn server is followed from another while a
  worker (with an instance folder of its own, as on another machine) imports it, and the server
  that took the upload is killed and restarted meanwhile.

No timings are asserted: the tests wait for states, with deadlines.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
SECRET = "import-jobs-test-secret-key-import-jobs-test"
PASSWORD = "correct horse battery staple"
DEADLINE = 240  # seconds: a generous bound on a loaded machine, never a measurement

pytestmark = pytest.mark.no_db


COUNTRIES = ["BD", "GB", "VN", "KE", "BR", "IN", "US", "FR"]


def people(n: int) -> bytes:
    """A contacts file as staff export them: phones, titles, tags, and an organization for each
    (a few hundred, created on the side)."""
    lines = ["first_name,last_name,email,phone,title,organization,country,tags"]
    lines += [
        f"Person{i},Worker{i % 97},person{i}@example.org,+44 20 7946 {i % 10000:04d},"
        f"Officer,Supplier {i % 300},{COUNTRIES[i % len(COUNTRIES)]},pilot"
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def database(tmp_path) -> Iterator[str]:
    base = os.environ.get("CRM_TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        return
    url = sa.engine.make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    url = url.set(database=f"{url.database}_imports_{uuid.uuid4().hex[:6]}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        admin.dispose()


def environment(database: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CRM_INSTANCE_DIR": str(instance),
        "CRM_CONFIG": "development",
        "SECRET_KEY": SECRET,
        "CRM_BASE_URL": "http://localhost",
        "CRM_JOB_LEASE_SECONDS": "3",  # a killed PostgreSQL worker's job comes back soon
        "CRM_REQUIRE_2FA_ROLES": "none",  # its lead signs in with a password alone
        **extra,
    }
    env.pop("CRM_TEST_DATABASE_URL", None)
    env.pop("FLASK_DEBUG", None)
    return env


@pytest.fixture
def crm(tmp_path, database):
    """The migrated database, and an app in this process to look at it."""
    from config import DevelopmentConfig
    from crm import create_app

    env = environment(database, tmp_path / "web")
    subprocess.run(FLASK + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=database,
        SECRET_KEY=SECRET,
        INSTANCE_DIR=str(tmp_path / "web"),
        SERVER_NAME_FOR_LINKS="http://localhost",
    )
    app.env_for = lambda instance, **extra: environment(database, instance, **extra)
    yield app
    from crm.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def look(app, statement: str) -> list[tuple]:
    from crm.extensions import db

    with app.app_context():
        try:
            return [tuple(row) for row in db.session.execute(sa.text(statement)).all()]
        finally:
            db.session.remove()


def job_progress(app, job_id: int) -> tuple[str, int | None, int | None]:
    """The job's status and progress, as any web process reads it."""
    from crm.core.jobs import Job
    from crm.core.jobs.presence import progress_of
    from crm.extensions import db

    with app.app_context():
        try:
            job = db.session.get(Job, job_id)
            progress = progress_of(job)
            return job.status.value, progress.done, progress.total
        finally:
            db.session.remove()


def wait_for(what: str, check: Callable[[], object], every: float = 0.05) -> object:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        FLASK + ["crm", "worker", "--idle", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- a worker killed mid-import -------------------------------------------------------------

ROWS = 40_000


def test_a_worker_killed_mid_import_leaves_nothing_and_the_next_imports_it_once(crm, tmp_path):
    from crm.auth.models import Role, User
    from crm.extensions import db
    from crm.imports import jobs, operations

    with crm.test_request_context():
        lead = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        db.session.add(lead)
        db.session.flush()
        run = operations.start_run(lead, "contacts", "people.csv", people(ROWS))
        job = jobs.queue_run(lead, run)
        db.session.commit()
        run_id, job_id, stored_name = run.id, job.id, run.stored_name
        db.session.remove()
    # The worker runs on "another machine": an instance folder of its own, so it reads the
    # upload from the database.
    env = crm.env_for(tmp_path / "worker")
    log = tmp_path / "worker.log"

    first = start_worker(env, log)
    try:

        def midway():
            status, done, total = job_progress(crm, job_id)
            assert status in ("queued", "running"), f"the import ended ({status}) unkilled"
            return status == "running" and done and done < total

        wait_for("the import to be under way", midway)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert job_progress(crm, job_id)[0] == "running"  # as the killed worker left it
    [(status,)] = look(crm, f"SELECT status FROM import_run WHERE id = {run_id}")
    if crm.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and status == "running":
        # SQLite writes part after part: the parts committed before the kill, each with its
        # undo items, are taken back by the next attempt before it imports the file.
        [(contacts,)] = look(crm, "SELECT count(*) FROM contact")
        assert 0 < contacts < ROWS
        assert look(crm, "SELECT count(*) FROM import_item") != [(0,)]
    else:
        # Killed while checking (or on PostgreSQL, one transaction): nothing was committed.
        assert status == "queued"
        assert look(crm, "SELECT count(*) FROM contact") == [(0,)]
        assert look(crm, "SELECT count(*) FROM organization") == [(0,)]
        assert look(crm, "SELECT count(*) FROM import_item") == [(0,)]
    assert look(crm, "SELECT count(*) FROM import_upload") == [(1,)]
    # Its folder started empty: it had written its copy from the database.
    assert (tmp_path / "worker" / "imports" / stored_name).exists()

    second = start_worker(env, log)
    try:
        wait_for(
            "the second worker to finish the import",
            lambda: (
                look(crm, f"SELECT status FROM import_run WHERE id = {run_id}")
                in ([("done",)], [("failed",)])
            ),
        )
    finally:
        stop(second)
    assert second.returncode == 0, log.read_text()[-3000:]

    run_row = look(
        crm, f"SELECT status, created_count, message FROM import_run WHERE id = {run_id}"
    )
    assert run_row == [("done", ROWS, None)], run_row
    assert look(crm, "SELECT count(*), count(DISTINCT email) FROM contact") == [(ROWS, ROWS)]
    assert look(crm, "SELECT count(*) FROM organization") == [(300,)]
    assert look(crm, f"SELECT status, attempts FROM job WHERE id = {job_id}") == [("done", 2)]
    audit = look(
        crm,
        f"SELECT count(*) FROM audit_entry WHERE object_type = 'import_run' AND object_id = {run_id}",
    )
    assert audit == [(1,)]  # imported once
    assert look(crm, "SELECT count(*) FROM import_upload") == [(0,)]
    assert not (tmp_path / "worker" / "imports" / stored_name).exists()


# --- the web import followed from another server -------------------------------------------

BIG = 50_000


def _gunicorn_extra_args() -> list[str]:
    """Gunicorn 24+ opens a control socket in ~/.gunicorn, shared by every server of the user."""
    from gunicorn.config import Config

    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server of the app on a port of its own."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None):
        self.env, self.log, self.port = env, log, port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{self.port}"]
            + _gunicorn_extra_args()
            + ["wsgi:app"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn stopped:\n{self.log.read_text()[-3000:]}")
            try:
                return urllib.request.urlopen(f"{self.url}/healthz", timeout=5).status == 200
            except OSError:
                return False

        wait_for(f"the server on {self.port}", up, every=0.2)
        return self

    def kill(self) -> None:
        """SIGKILL the whole server, arbiter and worker: nothing of it says goodbye."""
        for pid in _children(self.process.pid):
            os.kill(pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Browser:
    """Cookies and CSRF tokens, as a browser would carry them, against any server."""

    def __init__(self):
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def get(self, url: str) -> tuple[int, str, dict]:
        try:
            response = self.opener.open(url, timeout=60)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)
        return response.status, response.read().decode(), dict(response.headers)

    def post(self, url: str, body: bytes, content_type: str) -> tuple[int, str, dict]:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
        try:
            response = self.opener.open(request, timeout=120)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)
        return response.status, response.read().decode(), dict(response.headers)

    def csrf(self, url: str) -> str:
        status, page, _ = self.get(url)
        assert status == 200, (status, page[-2000:])
        return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page).group(1)

    def form(self, url: str, fields: dict[str, str]) -> tuple[int, str, dict]:
        return self.post(
            url, urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        )

    def upload(self, url: str, fields: dict[str, str], name: str, data: bytes):
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.post(url, body, f"multipart/form-data; boundary={boundary}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the test reads each redirect's Location itself


def progress(browser: Browser, server: Server, run_id: int) -> dict:
    status, body, _ = browser.get(f"{server.url}/imports/{run_id}/progress.json")
    assert status == 200, (status, body[-2000:])
    return json.loads(body)


def test_a_web_import_is_followed_from_another_server_and_outlives_the_one_that_took_it(
    crm, tmp_path
):
    from crm.auth.models import Role, User
    from crm.extensions import db

    with crm.app_context():
        lead = User(email="lead@example.org", name="Lead", role=Role.LEAD)
        lead.set_password(PASSWORD)
        db.session.add(lead)
        db.session.commit()
        db.session.remove()
    web_env = crm.env_for(tmp_path / "web")
    taker = Server(web_env, tmp_path / "taker.log").start()
    other = Server(web_env, tmp_path / "other.log").start()
    worker = None
    try:
        browser = Browser()
        token = browser.csrf(f"{taker.url}/login")
        status, _, headers = browser.form(
            f"{taker.url}/login",
            {"csrf_token": token, "email": "lead@example.org", "password": PASSWORD},
        )
        assert status == 302, "login refused"

        token = browser.csrf(f"{taker.url}/imports/")
        status, page, headers = browser.upload(
            f"{taker.url}/imports/upload",
            {"csrf_token": token, "record_type": "contacts"},
            "people.csv",
            people(BIG),
        )
        assert status == 302, page[-2000:]
        run_id = int(re.search(r"/imports/(\d+)/mapping", headers["Location"]).group(1))
        status, _, headers = browser.form(
            f"{taker.url}/imports/{run_id}/run", {"csrf_token": token}
        )
        assert status == 302 and headers["Location"].endswith(f"/imports/{run_id}")

        taker.kill()  # the process that took the upload dies before any worker runs
        state = progress(browser, other, run_id)
        assert state["status"] == "queued" and state["no_worker"] is True
        _, page, _ = browser.get(f"{other.url}/imports/{run_id}")
        assert "No worker is running" in page and "flask --app wsgi crm worker" in page
        taker = Server(web_env, tmp_path / "taker.log", port=taker.port).start()  # restarted

        # The worker is on "another machine": no copy of the upload but the database's.
        worker = start_worker(crm.env_for(tmp_path / "worker"), tmp_path / "worker.log")
        seen = []

        def finished():
            state = progress(browser, other, run_id)
            seen.append(state)
            return state["finished"]

        wait_for("the import to finish", finished)
        stop(worker)
        assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]

        midway = [s for s in seen if s["status"] == "running" and 0 < s["done"] < BIG]
        assert midway, f"no progress seen from the other server: {seen[:3]} … {seen[-3:]}"
        assert all(s["total"] == BIG for s in midway)
        done = [s["done"] for s in midway]
        assert done == sorted(done)  # it only goes forward
        assert seen[-1]["status"] == "done", seen[-1]
        assert not any(s["no_worker"] for s in seen if s["status"] == "running")

        for server in (other, taker):  # either server, the restarted one too, shows the result
            _, page, _ = browser.get(f"{server.url}/imports/{run_id}")
            assert (
                '<span class="badge fs-6 text-bg-success" id="run-status">Imported</span>' in page
            )
            assert "50,000" in page
        assert look(crm, "SELECT count(*) FROM contact") == [(BIG,)]
        assert look(crm, "SELECT count(*) FROM import_upload") == [(0,)]
        # The web machine's own copy goes with its next upload (the worker deleted its own).
        token = browser.csrf(f"{taker.url}/imports/")
        browser.upload(
            f"{taker.url}/imports/upload",
            {"csrf_token": token, "record_type": "contacts"},
            "small.csv",
            b"first_name,email\nAna,ana@example.org\n",
        )
        names = {name for (name,) in look(crm, "SELECT stored_name FROM import_run")}
        cached = {p.name for p in (tmp_path / "web" / "imports").glob("*.upload")}
        assert len(cached) == 1 and cached < names  # only the new draft's
        assert not list((tmp_path / "worker" / "imports").glob("*.upload"))
    finally:
        if worker is not None:
            stop(worker)
        taker.stop()
        other.stop()
