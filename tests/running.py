"""The app started as `make run` starts it, for the browser tests and the tests of `make run`.

`make serve` is `make run` without its install step: migrations, first-start data, then the
Procfile through honcho (gunicorn and `flask crm worker`). Each server gets a free port, its own
instance folder (SQLite database, mail folder) and an empty honcho environment file, so neither
the caller's database settings nor a developer's `.env` reach it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Settings from the caller's environment the app must not inherit: the database (always the
# SQLite file in its own instance folder), the config class, anything that would send mail, and
# the address links point to (`make serve` sets it from the port).
SCRUBBED_ENV = (
    "DATABASE_URL",
    "CRM_TEST_DATABASE_URL",
    "CRM_CONFIG",
    "CRM_INSTANCE_DIR",
    "CRM_MAIL_PROVIDER",
    "CRM_MAIL_FILE_DIR",
    "SENDGRID_API_KEY",
    "CRM_BASE_URL",
    "FLASK_APP",
    "FLASK_DEBUG",
    "PORT",
    "ENV_FILE",
    "WEB_CONCURRENCY",
    "MAKEFLAGS",
    "MFLAGS",
)

_STARTED = re.compile(r"\|\s*(\S+) started \(pid=(\d+)\)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(instance_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        CRM_CONFIG="development",
        CRM_INSTANCE_DIR=str(instance_dir),
        CRM_MAIL_PROVIDER="file",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _process_groups() -> dict[int, list[tuple[int, str]]]:
    """Live (not zombie) processes by process group: {pgid: [(pid, command line)]}."""
    groups: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if state != "Z":
            groups.setdefault(int(pgrp), []).append((int(entry.name), cmdline))
    return groups


@dataclass
class Served:
    """`make serve` running in a session of its own (so a signal to its group is a Ctrl+C)."""

    proc: subprocess.Popen
    port: int
    instance_dir: Path
    log_path: Path
    _children: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no server log)"

    def children(self) -> dict[str, int]:
        """honcho's processes by name ("web.1", "worker.1"): each leads a process group."""
        for name, pid in _STARTED.findall(self.log_text()):
            self._children[name] = int(pid)
        return dict(self._children)

    def worker_started(self) -> bool:
        return re.search(r"worker\.1\s*\| Worker \S+ started", self.log_text()) is not None

    def wait_until_ready(self, timeout: float) -> str | None:
        """None once /healthz answers and the worker has started, else what went wrong."""
        deadline = time.monotonic() + timeout
        problem = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"`make serve` exited with {self.proc.returncode} while starting"
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200 and b"ok" in answer.read():
                        if self.worker_started():
                            return None
                        problem = "the web server answers, but the worker has not started"
                    else:
                        problem = f"HTTP {answer.status}"
            except (urllib.error.URLError, OSError) as exc:
                problem = str(exc)
            time.sleep(0.2)
        return f"not ready within {timeout:.0f} s: {problem}"

    def leftovers(self) -> list[str]:
        """Processes of this server still alive: make's own group and each honcho child's."""
        groups = _process_groups()
        pgids = {self.proc.pid, *self.children().values()}
        return [f"{pid} {cmd}" for pgid in pgids for pid, cmd in groups.get(pgid, [])]

    def interrupt(self) -> None:
        """Ctrl+C: the terminal sends SIGINT to the whole foreground group (make and honcho)."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def terminate(self) -> None:
        """`kill <pid>` of make alone, as a service manager would."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20) -> None:
        """Ctrl+C, then SIGKILL to every group still alive after `timeout` seconds."""
        self.children()  # read the pids while the log still has them
        if self.proc.poll() is None:
            self.interrupt()
            if self.wait(timeout) is not None and not self.leftovers():
                return
        for pgid in {self.proc.pid, *self._children.values()}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.wait(5)


def make_serve(instance_dir: Path, log_path: Path, env: dict[str, str], port: int) -> Served:
    """Starts `make serve` on `port` with the venv running this test session."""
    venv = Path(sys.executable).parent.parent  # not resolved: the venv's own bin/python
    empty_env_file = instance_dir / "honcho.env"
    instance_dir.mkdir(parents=True, exist_ok=True)
    empty_env_file.touch()
    env = {**env, "PORT": str(port)}  # as in `PORT=5101 make run`
    args = ["make", "--no-print-directory", "serve", f"VENV={venv}", f"ENV_FILE={empty_env_file}"]
    with log_path.open("a") as log:  # append: several starts share one log
        log.write(f"\n$ PORT={port} {' '.join(args)}\n")
        log.flush()
        proc = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Served(proc=proc, port=port, instance_dir=instance_dir, log_path=log_path)
