"""A small stand-in for SendGrid's v3 mail send API on 127.0.0.1, for the real library to talk
to: 202 with an X-Message-Id by default; scripted answers (400, 401, 413, 429 with rate-limit
headers, 500, a dropped connection) on demand; slow answers (`delay`, as a provider across a
network); answers held until so many requests came (`gather`); and how many requests it held
at once (`most_in_flight`)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    drop: bool = False  # close the connection without answering


class FakeSendGrid:
    def __init__(self, *, keep: bool = True):
        self.keep = keep  # False: count what came (a benchmark's hundreds of thousands), no more
        self.received = 0  # personalizations, kept or not
        self.requests: list[dict] = []  # {"path", "headers", "json"}
        self.script: list[Answer] = []
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds before each answer ("slow answers")
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most at any one time
        # Hold every answer until this many requests have come (or 10 s): requests in flight
        # together however slowly the client goes.
        self.gather = 0
        self.arrived = threading.Condition()
        self.count = 0  # requests come so far
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                with fake.lock:
                    fake.in_flight += 1
                    fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
                try:
                    self.post()
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def post(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    answer = fake.script.pop(0) if fake.script else Answer(202)
                    fake.received += len(body.get("personalizations", []))
                    if fake.keep:
                        fake.requests.append(
                            {"path": self.path, "headers": dict(self.headers), "json": body}
                        )
                with fake.arrived:
                    fake.count += 1
                    fake.arrived.notify_all()
                    fake.arrived.wait_for(lambda: fake.count >= fake.gather, timeout=10)
                if fake.delay:
                    time.sleep(fake.delay)
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if self.path != "/v3/mail/send":
                    answer = Answer(404, body={"errors": [{"message": "not found"}]})
                elif not self.headers.get("Authorization", "").startswith("Bearer "):
                    answer = Answer(401, body={"errors": [{"message": "authorization required"}]})
                # The client may have given up waiting (a timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.answer(answer)

            def answer(self, answer: Answer) -> None:
                body = json.dumps(answer.body).encode() if answer.body is not None else b""
                self.send_response(answer.status)
                if answer.status == 202:
                    self.send_header("X-Message-Id", uuid.uuid4().hex[:22])
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                if body:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeSendGrid:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, status: int, *, times: int = 1, headers=None, message: str = "", drop=False):
        body = {"errors": [{"message": message or f"error {status}"}]} if status >= 400 else None
        for _ in range(times):
            self.script.append(Answer(status, headers or {}, body, drop))

    @property
    def personalizations(self) -> list[dict]:
        return [p for r in self.requests for p in r["json"].get("personalizations", [])]
