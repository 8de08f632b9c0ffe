"""Campaign speed: enqueue a 100k campaign, send it through a fake SendGrid (as today's loop,
through jobs, and end to end in worker processes beside the `sendgrid` client's own speed),
ingest 100k webhook events.

    .venv/bin/python benchmarks/campaigns.py [--contacts 100000] [--rounds 2]
        [--latencies 0 150] [--workers 1 2] [--in-flight 4] [--batch 1000] [--no-webhook]
        [--no-floor] [--reuse DIR] [--pg-url postgresql://postgres@127.0.0.1:5432/crm_bench_campaigns]

Phases can be skipped: `--rounds 0` (the in-process drains), `--no-floor`, `--no-webhook`; with
`--reuse DIR` a second run skips building the database (SQLite's file is kept in DIR; the
PostgreSQL database is kept as it is).

A fresh database (SQLite in a temporary folder, or the PostgreSQL database named, which is
DROPPED and recreated) gets the migrations and `crm.demo.bulk` contacts, all of whom are then
given consent, so a campaign has one recipient per address. Timed:

- enqueue: `queue_campaign` (read the segment, classify, write one outbox row each, queue its
  sending jobs) + commit;
- drain, two ways in turn, `--rounds` times, a new campaign to the same people each time (the
  outbox grows by one campaign each time, so the order alternates: direct, jobs, jobs, direct,
  …), in-process, through the real `sendgrid` library to the fake SendGrid of the tests, run
  in a separate process on 127.0.0.1 (so its JSON parsing does not share our interpreter):
  - direct: `crm.campaigns.worker.drain_once` in a loop until the outbox is empty (what the
    worker did before sending became jobs; the campaign's sending jobs are cancelled first);
  - through jobs: its `campaigns.send` jobs run by `Worker.drain()`;
- end to end, for each fake SendGrid latency (`--latencies`, ms before each answer: 150 is a
  provider across a network) and each number of real `flask crm worker` processes
  (`--workers`; on SQLite one, as only one runs at a time), started and idle beforehand, each
  keeping `--in-flight` requests of `--batch` messages in flight: a new campaign, timed from
  the start of its enqueue to the last message's `sent_at`; then the floor, the `sendgrid`
  client alone posting the same requests (built beforehand) to the same fake SendGrid in a bare
  loop, one at a time and `--in-flight` at a time;
- on PostgreSQL, for the in-process rounds, the outbox is analyzed after each campaign is
  queued, as autovacuum would within a minute; end to end it is not (a claim reads its batch
  off the campaign's index whatever the statistics say);
- webhook: 100k signed "delivered" events (the first campaign's) POSTed in batches of 1,000 to
  /webhooks/sendgrid through Flask's test client (signature check, parsing, dedupe, insert).

Peak memory is the process's maximum resident size (ru_maxrss) after each phase.
Targets (issue 5): enqueue ≤ 5 s; drain ≥ 5,000 messages/s; webhook ≥ 5,000 events/s. Issue 13:
sending through jobs at least as fast as the direct loop. Issue 14: end to end ≥ 5,000
messages/s on both engines and within 2× the client's own speed, at 0 and 150 ms; 2 workers at
least 1.6× one.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import cpu_reference_ms, fresh_postgres, git_revision  # noqa: E402
from crm.core.db import utcnow  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_fake(delay_ms: int = 0) -> tuple[subprocess.Popen, str]:
    """The fake SendGrid in a process of its own, answering each request after `delay_ms`; it
    parses every request and counts the messages, keeping none."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.campaigns.fake_sendgrid import FakeSendGrid\n"
        f"fake = FakeSendGrid(keep=False); fake.delay = {delay_ms / 1000!r}\n"
        "fake.start(); print(fake.url, flush=True)\n"
        "while True: time.sleep(3600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def worker_env(url: str, tmp: Path, fake_url: str, in_flight: int, batch: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CRM_CONFIG": "development",
        "CRM_INSTANCE_DIR": str(tmp / "instance"),
        "CRM_MAIL_PROVIDER": "sendgrid",
        "SENDGRID_API_KEY": "SG.bench",
        "SENDGRID_API_HOST": fake_url,
        "SECRET_KEY": "benchmark-secret-key-benchmark-secret",
        "CRM_BASE_URL": "https://crm.example.org",
        "CRM_CAMPAIGN_REQUESTS_IN_FLIGHT": str(in_flight),
        "CRM_CAMPAIGN_BATCH_SIZE": str(batch),
    }
    env.pop("CRM_TEST_DATABASE_URL", None)
    return env


def start_workers(count: int, env: dict, tmp: Path, execute) -> list[subprocess.Popen]:
    """`count` real `flask crm worker` processes, once they have started and run their
    periodic jobs (their start-up is not timed)."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "crm", "worker"]
    workers = []
    for i in range(count):
        log = open(tmp / f"worker-{time.monotonic_ns()}-{i}.log", "w")  # noqa: SIM115
        workers.append(subprocess.Popen(flask, env=env, cwd=ROOT, stdout=log, stderr=log))
    deadline = time.monotonic() + 120
    problem = f"The workers did not settle within 2 minutes; see {tmp}"
    while time.monotonic() < deadline:
        if any(w.poll() is not None for w in workers):
            problem = f"A worker stopped on start-up; see {tmp}"
            break
        registered = execute("SELECT count(*) FROM job_worker")
        waiting = execute("SELECT count(*) FROM job WHERE status IN ('queued', 'running')")
        if registered >= count and waiting == 0:
            return workers
        time.sleep(0.2)
    for w in workers:  # none left running behind the benchmark
        w.kill()
    raise SystemExit(problem)


def stop_workers(workers: list[subprocess.Popen], execute) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(timeout=120)
    execute("DELETE FROM job_worker")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--pg-url")
    parser.add_argument("--rounds", type=int, default=2, help="of direct, then through jobs")
    parser.add_argument(
        "--latencies", type=int, nargs="+", default=[0, 150], help="of the fake SendGrid, ms"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", help="processes (default 1 2; SQLite 1: it runs one)"
    )
    parser.add_argument("--in-flight", type=int, default=4, help="requests per sending job")
    parser.add_argument("--batch", type=int, default=1000, help="messages a request")
    parser.add_argument("--no-webhook", action="store_true", help="skip the webhook phase")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="keep the SQLite database (and the run's files) in DIR, or keep the PostgreSQL "
        "database; a later run with the same option skips building it (its earlier campaigns "
        "stay in the outbox)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the library's own speed")
    args = parser.parse_args()
    args.workers = args.workers or ([1, 2] if args.pg_url else [1])

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from flask import g
    from flask_migrate import upgrade

    from config import DevelopmentConfig
    from crm import create_app
    from crm.campaigns import delivery, jobs, worker
    from crm.campaigns.models import Campaign, MessageStatus, OutboxMessage
    from crm.campaigns.operations import editing as campaign_ops
    from crm.campaigns.operations import saved_segments as segment_ops
    from crm.campaigns.operations import sending as send_ops
    from crm.contacts.models import ConsentStatus, Contact
    from crm.core.jobs.queue import cancel_queued
    from crm.core.jobs.worker import Worker
    from crm.demo import bulk
    from crm.extensions import db

    if args.reuse:
        tmp = Path(args.reuse)
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="crm-bench-campaigns-"))
    built = (tmp / "built").exists()  # --reuse: the database of an earlier run is there
    if args.pg_url:
        url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if not built:
            fresh_postgres(url)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake, fake_url = start_fake()
    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        WTF_CSRF_ENABLED=False,
        SERVER_NAME_FOR_LINKS="https://crm.example.org",
        SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode(),
        # The sending jobs run in this process too (below): through the same fake SendGrid.
        MAIL_PROVIDER="sendgrid",
        SENDGRID_API_KEY="SG.bench",
        SENDGRID_API_HOST=fake_url,
        INSTANCE_DIR=str(tmp / "instance"),
        CAMPAIGN_BATCH_SIZE=args.batch,
    )
    engine_name = "postgresql" if args.pg_url else "sqlite"
    report = [
        f"engine: {engine_name}, contacts: {args.contacts:,}; revision {git_revision()}; "
        f"CPU reference loop {cpu_reference_ms():.0f} ms; load average "
        f"{os.getloadavg()[0]:.1f} at the start"
    ]

    def execute(sql: str):
        with app.app_context():
            result = db.session.execute(sa.text(sql))
            value = result.scalar() if result.returns_rows else None
            db.session.commit()
            return value

    try:
        with app.test_request_context():
            # SQLite: this process writes while the workers do; each of its transactions takes
            # the write lock first, as a worker's job does.
            g.write_transactions = True
            upgrade()
            started = time.perf_counter()
            if built:
                report.append(f"load: none, the database of an earlier run in {tmp}")
            else:
                bulk.generate(contacts=args.contacts, organizations=max(1, args.contacts // 10))
                db.session.execute(
                    sa.update(Contact)
                    .where(Contact.email.is_not(None))
                    .values(consent_status=ConsentStatus.GRANTED)
                )
                db.session.commit()
                report.append(f"load: {time.perf_counter() - started:.1f} s")
                if args.reuse:
                    (tmp / "built").touch()
            segment = segment_ops.create_segment(None, segment_ops.SegmentFields(name="Everyone"))
            db.session.commit()

            def new_campaign(name: str) -> Campaign:
                campaign = campaign_ops.create_campaign(
                    None,
                    campaign_ops.CampaignFields(
                        name=name,
                        purpose="newsletter",
                        segment_id=segment.id,
                        sender_name="WEST Advocacy",
                        sender_email="advocacy@example.org",
                        subject="News for {{ first_name }}",
                        body="Dear {{ first_name }} ({{ organization }}),\n\n"
                        + "The principles are growing. " * 40
                        + "\n\nSign: {{ pledge_url }}\n",
                    ),
                )
                db.session.commit()
                return campaign

            def sent(campaign_id: int) -> tuple[int, object]:
                count, last = db.session.execute(
                    sa.select(sa.func.count(), sa.func.max(OutboxMessage.sent_at)).where(
                        OutboxMessage.campaign_id == campaign_id,
                        OutboxMessage.status == MessageStatus.SENT,
                    )
                ).one()
                db.session.commit()
                return count, last

            def analyze() -> None:
                """PostgreSQL: the outbox's statistics as autovacuum leaves them within a
                minute, so every campaign is claimed with the plans a running system uses (with
                the row counts of the last analyze, the claim sorts the campaign's queue)."""
                if args.pg_url:
                    db.session.execute(sa.text("ANALYZE outbox_message"))

            def unsent(campaign_id: int) -> bool:
                """Cheap enough to ask four times a second (an index range, not a count)."""
                found = db.session.scalar(
                    sa.select(OutboxMessage.id)
                    .where(
                        OutboxMessage.campaign_id == campaign_id,
                        OutboxMessage.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
                    )
                    .limit(1)
                )
                db.session.commit()
                return found is not None

            def library_floor(campaign: Campaign, fake_url: str, threads: int) -> float:
                """The `sendgrid` client alone: the requests our workers made for `campaign`
                (built beforehand, not timed) posted in a bare loop, `threads` at a time.
                Returns messages per second."""
                from concurrent.futures import ThreadPoolExecutor

                from sendgrid import SendGridAPIClient

                from crm.organizations.models import Organization

                rows = db.session.execute(
                    sa.select(
                        OutboxMessage.id, OutboxMessage.email, OutboxMessage.message_key,
                        OutboxMessage.contact_id, Contact.first_name, Contact.last_name,
                        Organization.name, Contact.country,
                    )
                    .outerjoin(Contact, Contact.id == OutboxMessage.contact_id)
                    .outerjoin(Organization, Organization.id == Contact.organization_id)
                    .where(OutboxMessage.campaign_id == campaign.id)
                    .order_by(OutboxMessage.id)
                ).all()  # fmt: skip
                db.session.commit()
                pending = [
                    delivery.Pending(i, campaign.id, email, key, 1, first or "", last or "",
                                     org or "", country, contact_id)
                    for i, email, key, contact_id, first, last, org, country in rows
                ]  # fmt: skip
                bodies = [
                    delivery.SendGridBatchProvider.request_body(batch)
                    for start in range(0, len(pending), args.batch)
                    for batch, _ in delivery.batches_for(
                        campaign, pending[start : start + args.batch]
                    )
                ]
                db.session.commit()  # (SQLite: the workers need the write lock)
                client = SendGridAPIClient(api_key="SG.bench", host=fake_url)
                started = time.perf_counter()
                if threads == 1:
                    for body in bodies:
                        client.send(body)
                else:
                    with ThreadPoolExecutor(threads) as pool:
                        list(pool.map(client.send, bodies))
                return len(pending) / (time.perf_counter() - started)

            def direct() -> float:
                """Today's worker: `drain_once` in a loop (the campaign's sending jobs
                cancelled). Returns messages per second."""
                cancel_queued(jobs.SEND)
                db.session.commit()
                provider = delivery.SendGridBatchProvider("SG.bench", fake_url, timeout=60)
                started = time.perf_counter()
                count = 0
                while True:
                    outcome = worker.drain_once(provider, batch_size=1000)
                    if not outcome["claimed"]:
                        break
                    count += outcome["sent"]
                return count / (time.perf_counter() - started)

            def through_jobs(campaign_id: int) -> float:
                """Its `campaigns.send` jobs run by `Worker.drain()` in this process."""
                started = time.perf_counter()
                Worker(app, name="bench:jobs").drain(max_jobs=1_000_000)
                seconds = time.perf_counter() - started
                return sent(campaign_id)[0] / seconds

            # The two ways in turn, a campaign each, the first of a round going second in the
            # next (direct, jobs, jobs, direct, …): the outbox grows by a campaign each time,
            # which slows the later ones, and a busy minute should not favour either.
            rates: dict[str, list[float]] = {"direct": [], "jobs": []}
            rates_ids: list[int] = []
            for round_ in range(args.rounds):
                for way in list(rates)[:: 1 if round_ % 2 == 0 else -1]:
                    campaign = new_campaign(f"{way} {round_ + 1}")
                    started = time.perf_counter()
                    result = send_ops.queue_campaign(None, campaign)
                    db.session.commit()
                    enqueue = time.perf_counter() - started
                    analyze()
                    rates_ids.append(campaign.id)
                    if round_ == 0 and way == "direct":  # the first campaign
                        report.append(
                            f"enqueue: {result.queued:,} recipients in {enqueue:.2f} s "
                            f"(target ≤ 5 s), left out {sum(result.left_out.values()):,}; "
                            f"peak RSS {rss_mb():.0f} MB"
                        )
                    rates[way].append(direct() if way == "direct" else through_jobs(campaign.id))
                    print(f"round {round_ + 1}, {way}: {rates[way][-1]:,.0f} messages/s",
                          flush=True)  # fmt: skip
            direct_id = None
            if args.rounds:
                direct_id = next(iter(rates_ids))
                direct_rate = statistics.median(rates["direct"])
                jobs_rate = statistics.median(rates["jobs"])
                each = {w: ", ".join(f"{r:,.0f}" for r in values) for w, values in rates.items()}
                report.append(
                    f"drain, direct (`drain_once` in a loop, what the old worker did): "
                    f"{result.queued:,} messages a round, {each['direct']} messages/s, median "
                    f"{direct_rate:,.0f} (target ≥ 5,000)"
                )
                report.append(
                    f"drain, through jobs in this process (`Worker.drain()`): {each['jobs']} "
                    f"messages/s, median {jobs_rate:,.0f} ({jobs_rate / direct_rate:.2f}× "
                    f"direct); peak RSS {rss_mb():.0f} MB"
                )

            # 3. End to end in real `flask crm worker` processes (their start-up not counted),
            # from the start of the enqueue to the last message's `sent_at`, beside the library's
            # own speed posting the same requests to the same fake SendGrid in a bare loop.
            fake.kill()
            for delay in args.latencies:
                fake, fake_url = start_fake(delay)
                env = worker_env(url, tmp, fake_url, args.in_flight, args.batch)
                by_workers: dict[int, float] = {}
                for processes in args.workers:
                    workers = start_workers(processes, env, tmp, execute)
                    try:
                        campaign = new_campaign(f"{processes} worker(s), {delay} ms")
                        queued_at = utcnow()
                        started = time.perf_counter()
                        result = send_ops.queue_campaign(None, campaign)
                        db.session.commit()
                        committed_at = utcnow()
                        enqueue = time.perf_counter() - started
                        deadline = time.monotonic() + 600
                        while unsent(campaign.id):
                            if time.monotonic() > deadline:
                                raise SystemExit("The workers did not send it in 10 minutes.")
                            time.sleep(0.1)
                    finally:
                        stop_workers(workers, execute)
                    direct_id = direct_id or campaign.id
                    count, last = sent(campaign.id)
                    seconds = (last - queued_at).total_seconds()
                    by_workers[processes] = count / seconds
                    sending = (last - committed_at).total_seconds()
                    line = (
                        f"end to end, {delay} ms a request, {processes} worker process(es), "
                        f"{args.in_flight} request(s) in flight each: enqueue {enqueue:.2f} s, "
                        f"{count:,} sent in {seconds:.1f} s = {count / seconds:,.0f} messages/s "
                        f"(from the commit: {count / sending:,.0f} messages/s)"
                    )
                    if processes != args.workers[0]:
                        first = args.workers[0]
                        line += f" ({by_workers[processes] / by_workers[first]:.2f}× {first})"
                    print(line, flush=True)
                    report.append(line)
                for threads in [] if args.no_floor else sorted({1, args.in_flight}):
                    rate = library_floor(campaign, fake_url, threads)
                    line = (
                        f"  floor, {delay} ms: the `sendgrid` client alone posting the same "
                        f"{count:,} messages in requests of {args.batch:,}, {threads} at a time: "
                        f"{rate:,.0f} messages/s; ours (best of the workers) "
                        f"{max(by_workers.values()) / rate:.2f}× it"
                    )
                    print(line, flush=True)
                    report.append(line)
                fake.kill()
            fake, fake_url = start_fake(0)

            rows = db.session.execute(
                sa.select(OutboxMessage.id, OutboxMessage.email, OutboxMessage.message_key).where(
                    OutboxMessage.campaign_id == direct_id
                )
            ).all()
            now = int(time.time())
            batches = []
            for start in range(0, len(rows), 1000):
                events = [
                    {
                        "email": email,
                        "event": "delivered",
                        "timestamp": now,
                        "sg_event_id": f"bench-{mid}",
                        "crm_message": key,
                    }
                    for mid, email, key in rows[start : start + 1000]
                ]
                batches.append(json.dumps(events))
        client = app.test_client()
        started = time.perf_counter()
        for body in [] if args.no_webhook else batches:
            stamp = str(int(time.time()))
            signature = private.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
            response = client.post(
                "/webhooks/sendgrid",
                data=body,
                content_type="application/json",
                headers={
                    "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                    "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                },
            )
            assert response.status_code == 200, response.get_data(as_text=True)
        ingest = time.perf_counter() - started
        if not args.no_webhook:
            report.append(
                f"webhook: {len(rows):,} events in {ingest:.1f} s = {len(rows) / ingest:,.0f} "
                f"events/s (target ≥ 5,000); peak RSS {rss_mb():.0f} MB"
            )
    finally:
        fake.kill()
    report.append(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("\n".join(report))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"campaigns-{time.strftime('%Y%m%dT%H%M%S')}.txt").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
