"""`make run` starts the web server and a worker (the Procfile through honcho) and stops both:
Ctrl+C (SIGINT to the terminal's foreground group) or SIGTERM to make leaves no process behind,
and the worker stops cleanly rather than being killed. `PORT=N make run` serves on N and tells
the worker, which renders emails outside any request, that links point there.

These start real processes (`make serve`, which is `make run` without the install step) on a
free port with an instance folder of their own, always on SQLite."""

from __future__ import annotations

import re
import shutil
import urllib.request

import pytest

from tests.running import app_env, free_port, make_serve

pytestmark = pytest.mark.no_db

STARTUP_TIMEOUT = 120  # migrations and first-start data on a busy machine
STOP_TIMEOUT = 30  # honcho itself SIGKILLs what is still running 5 s after it asks


@pytest.fixture(scope="module")
def instance_dir(tmp_path_factory):
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed; `make run` needs it", pytrace=False)
    return tmp_path_factory.mktemp("make-run-instance")


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm-to-make"])
def test_make_run_serves_on_its_port_and_one_signal_stops_web_and_worker(instance_dir, how):
    port = free_port()
    log_path = instance_dir.parent / f"make-run-{how}.log"
    served = make_serve(instance_dir, log_path, app_env(instance_dir), port)
    try:
        problem = served.wait_until_ready(STARTUP_TIMEOUT)
        assert problem is None, f"{problem}\n{served.log_tail(60)}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
        assert f"Links in emails point to http://127.0.0.1:{port}." in served.log_text()
        assert set(served.children()) == {"web.1", "worker.1"}
        assert served.leftovers(), "no process of the server was found running"

        if how == "ctrl-c":
            served.interrupt()
        else:
            served.terminate()
        assert served.wait(STOP_TIMEOUT) is not None, f"make still runs\n{served.log_tail()}"
        assert served.leftovers() == [], served.log_tail()
        log = served.log_text()
        # Stopped on request, finishing cleanly: honcho did not need its SIGKILL.
        assert re.search(r"worker\.1\s*\| Worker \S+ stopped after", log), served.log_tail()
        assert "Shutting down: Master" in log
        assert "SIGKILL" not in log
    finally:
        served.stop()
