"""Browser tests: the real app as `make run` runs it, driven by Playwright in Debian's Chromium.

One server per test session, started by `make serve` (what `make run` runs after installing: a
fresh SQLite database migrated with `flask db upgrade` and filled by `flask crm bootstrap`, then
gunicorn and `flask crm worker` through honcho and the Procfile), on a free port of 127.0.0.1,
with its own instance folder; stopped at the end as Ctrl+C stops it. So emails, campaigns and
imports are run by the worker, as for a user: tests wait for them (`wait_for_mail`). The server
always uses SQLite: DATABASE_URL and CRM_TEST_DATABASE_URL are removed from its environment, so
`make test` with a PostgreSQL URL set still runs these tests against their own throwaway database.

Chromium is /usr/bin/chromium (`apt-get install chromium`); Playwright's own browser download is
not used. Without it the tests are skipped, unless CRM_REQUIRE_BROWSER=1, where they fail.

Screenshots of each test's final state (and of any failure) go to test-artifacts/ at the
repository root. The server log is written in the session's temporary folder (so two sessions
running at once do not mix their logs), printed if the server does not start, and copied to
test-artifacts/e2e-server.log at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import string
import sys
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.e2e.guide_screens import save_guide_screen
from tests.running import REPO_ROOT, Served, app_env, free_port, make_serve

ARTIFACTS = REPO_ROOT / "test-artifacts"
SERVER_LOG_COPY = ARTIFACTS / "e2e-server.log"  # the last session's log, copied at its end
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

ADMIN_EMAIL = "e2e-admin@example.org"
ADMIN_PASSWORD = "e2e-blue-kettle-" + secrets.token_hex(4)
ADMIN_NAME = "Administrator"
DEMO_PASSWORD = "west-demo-2017"  # crm.demo.sample.DEMO_PASSWORD, shared by the demo users
VIEWER_EMAIL = "viewer@example.org"

STARTUP_TIMEOUT = 120  # seconds for migrations, first start, /healthz and the worker
MAIL_TIMEOUT = 30  # seconds for the worker to write an email (busy CI machines are slow)
DEFAULT_TIMEOUT_MS = 10_000  # Playwright actions and navigations
EXPECT_TIMEOUT_MS = 5_000


def unique(prefix: str = "") -> str:
    """A random lower-case suffix (letters only, so search sees a single word)."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


def _browser_required() -> bool:
    return os.environ.get("CRM_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


def _no_browser(reason: str):
    if _browser_required():
        pytest.fail(f"{reason} (CRM_REQUIRE_BROWSER=1, so this is a failure)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------- the app server


@dataclass
class LiveServer:
    url: str
    instance_dir: Path
    log_path: Path
    served: Served

    @property
    def mail_dir(self) -> Path:
        return self.instance_dir / "mail"

    def log_tail(self, lines: int = 30) -> str:
        return self.served.log_tail(lines)


def _startup_failure(log_path: Path, what: str) -> None:
    log = log_path.read_text(errors="replace") if log_path.exists() else "(empty)"
    with contextlib.suppress(OSError):
        shutil.copyfile(log_path, SERVER_LOG_COPY)
    tail = "\n".join(log.splitlines()[-80:])
    pytest.fail(f"{what}\n--- server log ({log_path}) ---\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Checked before anything else, so a missing browser does not start the server for nothing."""
    if not os.path.exists(CHROMIUM):
        _no_browser(
            f"Chromium is not installed at {CHROMIUM}; install it with `apt-get install chromium`"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _no_browser("The playwright Python package is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(chromium_path, tmp_path_factory) -> LiveServer:
    """What `make run` runs (`make serve`: migrations, first start, then gunicorn and the worker
    through honcho), on a free port, stopped at the end as Ctrl+C stops it."""
    ARTIFACTS.mkdir(exist_ok=True)
    instance_dir = tmp_path_factory.mktemp("crm-instance")
    log_path = instance_dir.parent / "e2e-server.log"
    env = app_env(
        instance_dir,
        CRM_ADMIN_EMAIL=ADMIN_EMAIL,
        CRM_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # The tests sign admins and leads in with a password alone; the two-factor test
        # sets up a second factor for its own user.
        CRM_REQUIRE_2FA_ROLES="none",
    )
    served = make_serve(instance_dir, log_path, env, free_port())
    try:
        problem = served.wait_until_ready(STARTUP_TIMEOUT)
        if problem:
            _startup_failure(log_path, problem)
        if not (instance_dir / "crm.sqlite3").is_file():
            _startup_failure(log_path, f"No SQLite database was created in {instance_dir}")
        yield LiveServer(
            url=served.url, instance_dir=instance_dir, log_path=log_path, served=served
        )
    finally:
        served.stop()
        shutil.copyfile(log_path, SERVER_LOG_COPY)


def _plain_text(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def wait_for_mail(
    live_server: LiveServer, address: str, timeout: float = MAIL_TIMEOUT, matching: str = ""
):
    """The newest email to `address` (whose plain text matches the regular expression
    `matching`, if given) in the server's mail folder, waiting for the worker to write it."""
    deadline = time.monotonic() + timeout
    while True:
        found = None
        for path in sorted(live_server.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == address and re.search(matching, _plain_text(message)):
                found = message
        if found is not None:
            return found
        if time.monotonic() > deadline:
            what = f" matching {matching!r}" if matching else ""
            raise AssertionError(f"nothing mailed to {address}{what} within {timeout:.0f} s")
        time.sleep(0.2)


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::")[-1])


class BrowserProblems:
    """Uncaught JavaScript errors, console errors (CSP violations show up there) and stylesheets,
    scripts, fonts or images that fail to load. Pages themselves may answer 403 or 422 on purpose;
    tests check those statuses where they expect them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda exc: self.messages.append(f"page error: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _console(self, msg) -> None:
        # "Failed to load resource" is also logged for a page answering 403 or 422; failed
        # resources are reported by _response instead.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.messages.append(f"console error: {msg.text} ({msg.location.get('url')})")

    def _response(self, response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.messages.append(
                f"{response.request.resource_type} failed: {response.status} {response.url}"
            )

    def _request_failed(self, request) -> None:
        # ERR_ABORTED: the page navigated away before the resource arrived, which is harmless.
        if request.resource_type != "document" and "ERR_ABORTED" not in (request.failure or ""):
            self.messages.append(f"{request.resource_type} failed: {request.failure} {request.url}")


@pytest.fixture
def page(browser, live_server, request):
    """A new browser context (no cookies) and page per test, watched for browser errors."""
    failure_shot = ARTIFACTS / f"FAILED-{_artifact_name(request.node.nodeid)}.png"
    failure_shot.unlink(missing_ok=True)  # from an earlier run
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    problems = BrowserProblems()
    problems.watch(page)
    try:
        yield page
    finally:
        call_report = getattr(request.node, "rep_call", None)
        test_failed = call_report is not None and call_report.failed
        if test_failed:
            try:
                page.screenshot(path=failure_shot, full_page=True)
                print(f"Screenshot of the failure: {failure_shot}", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 -- a missing screenshot must not hide the failure
                print(f"Could not save the failure screenshot: {exc}", file=sys.stderr)
            if problems.messages:
                print("Browser errors:\n" + "\n".join(problems.messages), file=sys.stderr)
            print(f"--- end of the server log ---\n{live_server.log_tail()}", file=sys.stderr)
        context.close()
    if problems.messages and not test_failed:
        pytest.fail("The browser reported errors:\n" + "\n".join(problems.messages), pytrace=False)


@pytest.fixture
def screenshot(page, request):
    """screenshot() saves the page as test-artifacts/<test name>[-<label>].png."""

    def save(label: str = "") -> Path:
        name = _artifact_name(request.node.nodeid) + (f"-{label}" if label else "")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


@pytest.fixture
def guide_screen(page):
    """guide_screen("lead-dashboard"[, element]) saves the page as the docs' guides show it
    (tests/e2e/guide_screens.py says where)."""

    def save(name: str, element=None) -> Path:
        return save_guide_screen(page, name, element)

    return save


# --------------------------------------------------------------------------- app steps


class CRM:
    """What a user does in the app, step by step, through the browser."""

    def __init__(self, page) -> None:
        self.page = page

    def reload_until(self, shows, what: str, timeout: float = MAIL_TIMEOUT) -> None:
        """Reloads the page until `shows()` is true, as someone waiting for the worker would."""
        deadline = time.monotonic() + timeout
        while not shows():
            if time.monotonic() > deadline:
                raise AssertionError(f"the page did not show {what} within {timeout:.0f} s")
            time.sleep(0.5)
            self.page.reload()

    def log_in(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
        from playwright.sync_api import expect

        page = self.page
        if "/login" not in page.url:
            page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log in")).to_have_count(0)

    def create_organization(self, name: str, kind: str = "Brand / retailer") -> None:
        from playwright.sync_api import expect

        page = self.page
        page.goto("/organizations/new")
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Kind").select_option(label=kind)
        page.get_by_role("button", name="Save organization").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        expect(page.get_by_role("alert")).to_contain_text(f"{name} is saved.")

    def create_contact(
        self, first: str, last: str, email: str | None = None, organization: str | None = None
    ) -> int:
        """Fills in the new-contact form and saves it; returns the new contact's id."""
        from playwright.sync_api import expect

        page = self.page
        page.goto("/contacts/new")
        page.get_by_label("First name").fill(first)
        page.get_by_label("Last name").fill(last)
        if email:
            page.get_by_label("Email", exact=True).fill(email)
        if organization:
            field = page.get_by_label("Organization")
            field.fill(organization)
            # The suggestions come from /organizations/lookup as the user types.
            expect(
                page.locator(f'#organization-options > option[value="{organization}"]')
            ).to_have_count(1)
        page.get_by_role("button", name="Save contact").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")
        match = re.search(r"/contacts/(\d+)$", page.url)
        assert match, f"not on a contact's page after saving: {page.url}"
        return int(match.group(1))


@pytest.fixture
def mail(live_server):
    """mail(address[, matching=regex]) is the newest email to `address` (whose text matches),
    once the worker has written it."""

    def newest(address: str, matching: str = "", timeout: float = MAIL_TIMEOUT):
        return wait_for_mail(live_server, address, timeout, matching)

    return newest


@pytest.fixture
def crm(page) -> CRM:
    return CRM(page)


@dataclass(frozen=True)
class Accounts:
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    admin_name: str = ADMIN_NAME
    viewer_email: str = VIEWER_EMAIL
    demo_password: str = DEMO_PASSWORD


@pytest.fixture(scope="session")
def accounts() -> Accounts:
    """The logins `flask crm bootstrap` created (tests do not import conftest)."""
    return Accounts()


@pytest.fixture(name="unique")
def unique_fixture():
    """unique("prefix") gives a new random name each call."""
    return unique
