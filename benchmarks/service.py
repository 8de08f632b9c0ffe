"""The CRM as a deployed service under load: gunicorn and a worker on a million contacts, wrk.

For each engine (SQLite, PostgreSQL) this builds a database of `--contacts` contacts (the
migrations and the bulk generator, as `benchmarks/contact_list.py` does; `--keep`/`--reuse` as
there), serves it as production does (gunicorn with `--processes` processes of 4 threads, and
`flask crm worker` beside it), signs in as a lead over HTTP, waits for the worker to finish what
it has queued, then loads each page with `wrk` on loopback at 8 and 32 concurrent requests:

  /healthz (the floor: the same stack, no database) · the dashboard · the contact list
  · a contact search (50 fragments in turn) · a contact page (200 contacts in turn)
  · the duplicates page · the report page

and prints requests/s, p50, p99 and error responses per case, and each page's throughput as a
share of /healthz's in the same run. Then it measures again while a 100,000-row command-line
import runs and 200 contact edits are saved through the web (4 editors at once): the pages'
figures, and each edit's answer and time.

Targets (issue 14): every page at least 1/15 of /healthz's throughput, p99 <= 500 ms at 8
concurrent requests, no error answers; during the import and edits no 503 and p99 <= 2 s.

    .venv/bin/python benchmarks/service.py [--contacts 1000000] [--engines sqlite,postgresql]
        [--duration 20] [--connections 8,32] [--processes 4] [--import-rows 100000]
        [--pg-url postgresql://postgres@127.0.0.1:5432/crm_service_bench]
        [--keep DIR] [--reuse] [--only TEXT] [--skip-busy]

wrk comes from Debian's packages (`apt-get install wrk`). The report is printed and written to
benchmarks/results/ (ignored by git).
"""

from __future__ import annotations

import argparse
import csv
import html.parser
import http.cookiejar
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks.common import cpu_reference_ms, git_revision, sqlalchemy_url  # noqa: E402
from benchmarks.contact_list import BENCH_EMAIL, build_app, database_url, reuse_app  # noqa: E402

BENCH_PASSWORD = "bench kettle tune 42"  # the lead build_app creates
SECRET_KEY = "service-benchmark-secret-key-not-for-production-use"
SHARE_TARGET = 1 / 15
P99_TARGET_MS = 500.0
BUSY_P99_TARGET_MS = 2000.0


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    """gunicorn and a worker serving one database, as production runs them."""

    url: str
    processes: int
    port: int = field(default_factory=free_port)
    children: list[subprocess.Popen] = field(default_factory=list)
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CRM_CONFIG": "production",
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": self.url,
            "CRM_BASE_URL": self.base,
            "CRM_SECURE_COOKIES": "0",  # wrk and this script speak plain HTTP on loopback
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> None:
        venv = Path(sys.executable).parent
        with self.log.open("ab") as log:
            self.children.append(
                subprocess.Popen(
                    [
                        str(venv / "gunicorn"),
                        "--workers",
                        str(self.processes),
                        "--threads",
                        "4",
                        "--bind",
                        f"127.0.0.1:{self.port}",
                        "--no-control-socket",
                        "wsgi:app",
                    ],  # fmt: skip
                    cwd=ROOT,
                    env=self.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
            self.children.append(
                subprocess.Popen(
                    [str(venv / "flask"), "--app", "wsgi", "crm", "worker"],
                    cwd=ROOT,
                    env=self.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise SystemExit(f"The server did not answer /healthz within 60 s; see {self.log}")

    def cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn's processes (the master and its workers)."""
        master = self.children[0].pid
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a process that ended meanwhile
            if int(fields[1]) == master or stat.parent.name == str(master):
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def settle(self, timeout: float = 120) -> None:
        """Wait until the server is idle: requests a case left queued (wrk stops waiting for
        answers when its time is up, the server does not) must not be billed to the next."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - before < 0.05:
                return
            before = now

    def stop(self) -> None:
        for child in self.children:
            child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()


class FormFields(html.parser.HTMLParser):
    """The fields a browser would post from the first form holding `marker` (a field name)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.forms: list[dict[str, str]] = []
        self.in_form = False
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_form = True
            self.forms.append({})
        elif not self.in_form or "name" not in a and tag != "option":
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.forms[-1][a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.forms[-1][a["name"]] = ""
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.forms[-1][self.select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.forms[-1][self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.in_form = False

    def fields(self) -> dict[str, str]:
        return next((f for f in self.forms if self.marker in f), {})


def form_fields(page: str, marker: str) -> dict[str, str]:
    parser = FormFields(marker)
    parser.feed(page)
    return parser.fields()


def opener() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def sign_in(base: str) -> tuple[urllib.request.OpenerDirector, str]:
    """A signed-in browser (cookies kept) and its Cookie header, for wrk."""
    browser, jar = opener()
    page = browser.open(base + "/login").read().decode()
    fields = form_fields(page, "password")
    fields.update(email=BENCH_EMAIL, password=BENCH_PASSWORD)
    answer = browser.open(base + "/login", urllib.parse.urlencode(fields).encode())
    if answer.url.rstrip("/").endswith("/login"):
        raise SystemExit("Signing in as the benchmark lead failed.")
    return browser, "; ".join(f"{c.name}={c.value}" for c in jar)


# --- the data the requests use --------------------------------------------------------------


def sample_paths(url: str, rng: random.Random) -> dict[str, list[str]]:
    """The requests of each case; searches and contact pages drawn from the data."""
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        largest = conn.scalar(sa.text("SELECT max(id) FROM contact"))
        ids = [
            i
            for (i,) in conn.execute(
                sa.text("SELECT id FROM contact WHERE id IN :ids AND erased_at IS NULL").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": rng.sample(range(1, largest + 1), 400)},
            )
        ][:200]
        names = [
            n
            for (n,) in conn.execute(
                sa.text("SELECT last_name FROM contact WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": ids[:50]},
            )
        ]
    engine.dispose()
    fragments = [name[: rng.randint(3, max(3, min(6, len(name))))] for name in names if name]
    return {
        "/healthz": ["/healthz"],
        "dashboard": ["/"],
        "contact list": ["/contacts/"],
        "contact search": [f"/contacts/?q={urllib.parse.quote(f)}" for f in fragments],
        "contact page": [f"/contacts/{i}" for i in ids],
        "duplicates page": ["/duplicates/"],
        "report page": ["/reports/"],
    }


def wait_for_worker(url: str, since: datetime, timeout: float = 900) -> float:
    """Seconds until the worker has queued its periodic work (the figures, the report, the
    duplicate scan a fresh start runs) and finished what is due of it."""
    engine = sa.create_engine(sqlalchemy_url(url))
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with engine.connect() as conn:
                queued, waiting = conn.execute(
                    sa.text(
                        "SELECT count(*), coalesce(sum(CASE WHEN status IN ('queued', 'running')"
                        " AND run_at <= :now THEN 1 ELSE 0 END), 0) FROM job "
                        "WHERE created_at >= :since"
                    ),
                    {"now": datetime.now(UTC).replace(tzinfo=None), "since": since},
                ).one()
            if queued and not waiting:
                break
            time.sleep(2)
    finally:
        engine.dispose()
    return time.monotonic() - started


def write_import_file(url: str, path: Path, rows: int, seed: int = 11) -> None:
    """`rows` new contacts (10% with an address the database has), as people upload them."""
    rng = random.Random(seed)
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        largest = conn.scalar(sa.text("SELECT max(id) FROM contact"))
        known = [
            e
            for (e,) in conn.execute(
                sa.text("SELECT email FROM contact WHERE id IN :ids AND email IS NOT NULL")
                .bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": rng.sample(range(1, largest + 1), rows // 10)},
            )
        ]  # fmt: skip
        orgs = [n for (n,) in conn.execute(sa.text("SELECT name FROM organization LIMIT 5000"))]
    engine.dispose()
    known_left = iter(known)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["first_name", "last_name", "email", "organization", "country", "tags"])
        for i in range(rows):
            email = next(known_left, None) if i % 10 == 0 else None
            out.writerow(
                [
                    rng.choice(["Amina", "José", "Nguyễn", "Priya", "Oliver", "Fatou", "Li"]),
                    rng.choice(["Rahman", "Núñez", "Sharma", "Taylor", "Diop", "Wei"]) + str(i),
                    email or f"service{seed}.{i}@import{i % 97}.example",
                    rng.choice(orgs) if orgs else "",
                    rng.choice(["BD", "KE", "IN", "GB", "US", "DE", "BR", "VN"]),
                    rng.choice(["pilot", "priority", "asia", ""]),
                ]
            )


# --- wrk --------------------------------------------------------------------------------------

LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass
class Result:
    case: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # answers other than 2xx/3xx, and socket errors

    def share_of(self, floor: Result | None) -> str:
        return f"1/{floor.rps / self.rps:.1f}" if floor and self.rps else "—"


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


def wrk(
    service: Service, cookie: str, case: str, paths: list[str], connections: int, seconds: int
) -> Result:
    service.settle()
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    try:
        out = subprocess.run(
            [
                "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
                "-H", f"Cookie: {cookie}", "-s", str(script), service.base,
            ],  # fmt: skip
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        script.unlink()
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if "99" not in latency:
        raise SystemExit(f"wrk gave no latencies for {case}:\n{out}")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(
        case,
        connections,
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        _ms(latency["50"]),
        _ms(latency["99"]),
        errors,
    )


def check_signed_in(browser: urllib.request.OpenerDirector, base: str, paths: list[str]) -> None:
    """wrk counts a redirect to the login page as success: make sure each page really answers."""
    for path in paths[:1]:
        answer = browser.open(base + path)
        if answer.status != 200 or "/login" in answer.url:
            raise SystemExit(f"{path} answered {answer.status} at {answer.url}")


# --- edits while an import runs -------------------------------------------------------------


@dataclass
class Edits:
    answers: dict[str, int] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def add(self, answer: str, seconds: float) -> None:
        self.answers[answer] = self.answers.get(answer, 0) + 1
        self.seconds.append(seconds)


def edit_contacts(
    base: str, ids: list[int], editors: int, edits: Edits, lock: threading.Lock
) -> None:
    """Each editor signs in and saves its share of `ids` with a new job title."""

    def editor(mine: list[int]) -> None:
        browser, _ = sign_in(base)
        for contact_id in mine:
            started = time.perf_counter()
            try:
                form = browser.open(f"{base}/contacts/{contact_id}/edit").read().decode()
                fields = form_fields(form, "title")
                fields["title"] = f"Edited under load {random.randint(1, 10**6)}"
                answer = browser.open(
                    f"{base}/contacts/{contact_id}/edit", urllib.parse.urlencode(fields).encode()
                )
                outcome = (
                    "saved"
                    if f"/contacts/{contact_id}" in answer.url and "/edit" not in answer.url
                    else f"{answer.status} form"
                )
            except urllib.error.HTTPError as exc:
                outcome = str(exc.code)
            except (urllib.error.URLError, OSError) as exc:
                outcome = type(exc).__name__
            with lock:
                edits.add(outcome, time.perf_counter() - started)

    threads = [threading.Thread(target=editor, args=(ids[i::editors],)) for i in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the run ----------------------------------------------------------------------------------


def measure_engine(engine: str, args: argparse.Namespace, workdir: Path, lines: list[str]) -> None:
    url = database_url(engine, args.contacts, args.pg_url, workdir, per_size=True)
    reused = args.reuse and reuse_app(url, args.contacts)
    if reused:
        print(f"[{engine}] reusing {url}", file=sys.stderr)
    else:
        print(f"[{engine}] building {args.contacts:,} contacts", file=sys.stderr)
        build_app(engine, args.contacts, url)
    rng = random.Random(5)
    paths = sample_paths(url, rng)
    cases = {k: v for k, v in paths.items() if k == "/healthz" or args.only in k}
    service = Service(url, args.processes)
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)  # its worker's jobs
    service.start()
    try:
        settled = wait_for_worker(url, since)
        browser, cookie = sign_in(service.base)
        for case_paths in cases.values():
            check_signed_in(browser, service.base, case_paths)
            for path in case_paths[:20]:
                browser.open(service.base + path).read()  # warm each process a little
        results = [
            wrk(service, cookie, case, case_paths, c, args.duration)
            for c in args.connections
            for case, case_paths in cases.items()
        ]
        lines += section(
            f"{engine}, {args.contacts:,} contacts, {args.processes} processes", results
        )
        lines.append(
            f"The worker finished its start-up jobs {settled:.0f} s after the server started.\n"
        )
        if not args.skip_busy:
            lines += busy(url, service, cookie, paths, args)
    finally:
        service.stop()
    print(f"[{engine}] server log: {service.log}", file=sys.stderr)


def busy(url: str, service: Service, cookie: str, paths: dict[str, list[str]], args) -> list[str]:
    """The pages while a command-line import and 200 web edits run."""
    file = Path(tempfile.mkstemp(suffix=".csv")[1])
    write_import_file(url, file, args.import_rows)
    ids = [int(p.rsplit("/", 1)[1]) for p in paths["contact page"]]
    env = {**service.env(), "FLASK_APP": "wsgi"}
    started = time.perf_counter()
    importer = subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "crm", "import", str(file),
         "--type", "contacts", "--user", BENCH_EMAIL],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    edits, lock = Edits(), threading.Lock()
    editing = threading.Thread(target=edit_contacts, args=(service.base, ids, 4, edits, lock))
    editing.start()
    busy_cases = ["/healthz", "dashboard", "contact list", "contact page"]
    results = [wrk(service, cookie, case, paths[case], 8, args.duration) for case in busy_cases]
    editing.join()
    output, _ = importer.communicate()
    import_seconds = time.perf_counter() - started
    file.unlink()
    lines = section("while importing and editing", results, busy=True)
    times = sorted(edits.seconds)
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(edits.answers.items()))
    lines.append(
        f"Import of {args.import_rows:,} rows: exit {importer.returncode} after "
        f"{import_seconds:.1f} s; last lines: {' / '.join(output.strip().splitlines()[-2:])}"
    )
    lines.append(
        f"Edits: {len(times)} ({answers}); "
        f"p50 {1000 * statistics.median(times):.0f} ms, "
        f"p99 {1000 * times[min(len(times) - 1, int(len(times) * 0.99))]:.0f} ms, "
        f"max {1000 * times[-1]:.0f} ms\n"
    )
    return lines


def section(title: str, results: list[Result], *, busy: bool = False) -> list[str]:
    target = BUSY_P99_TARGET_MS if busy else P99_TARGET_MS
    lines = [
        f"### {title}\n",
        "| case | conc. | req/s | share of /healthz | p50 ms | p99 ms | errors | targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        floor = next(
            (r for r in results if r.case == "/healthz" and r.connections == result.connections),
            None,
        )
        missed = []
        if (
            floor
            and result.case != "/healthz"
            and result.rps < floor.rps * SHARE_TARGET
            and not busy
        ):
            missed.append("throughput")
        if result.connections == 8 and result.p99_ms > target:
            missed.append("p99")
        if result.errors:
            missed.append("errors")
        lines.append(
            f"| {result.case} | {result.connections} | {result.rps:,.0f} "
            f"| {result.share_of(floor)} "
            f"| {result.p50_ms:,.0f} | {result.p99_ms:,.0f} | {result.errors} "
            f"| {'missed: ' + ', '.join(missed) if missed else 'met'} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk case")
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432/crm_service_bench"
    )
    parser.add_argument("--keep", type=Path, help="keep the databases here (see contact_list.py)")
    parser.add_argument("--reuse", action="store_true", help="measure databases kept by --keep")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--skip-busy", action="store_true", help="no import-and-edits phase")
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="crm-service-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Service benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, revision {git_revision()}\n",
        f"CPU reference: {cpu_reference_ms():.0f} ms; {os.cpu_count()} cores; wrk -t2, "
        f"{args.duration} s per case.\n",
    ]
    for engine in args.engines.split(","):
        measure_engine(engine, args, workdir, lines)
        print("\n".join(lines), flush=True)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    out = results / f"service-{datetime.now(UTC):%Y%m%d-%H%M%S}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"\nWritten to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
