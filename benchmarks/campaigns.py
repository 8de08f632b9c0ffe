"""Campaign speed: enqueue a 100k campaign, drain it through a fake SendGrid, ingest 100k
webhook events.

    .venv/bin/python benchmarks/campaigns.py [--contacts 100000]
        [--pg-url postgresql://postgres@127.0.0.1:5432/crm_bench_campaigns]

A fresh database (SQLite in a temporary folder, or the PostgreSQL database named, which is
DROPPED and recreated) gets the migrations and `crm.demo.bulk` contacts, all of whom are then
given consent, so the campaign has one recipient per address. Timed, in-process:

- enqueue: `queue_campaign` (read the segment, classify, insert one outbox row each) + commit;
- drain: `worker.drain_once` until the outbox is empty, through the real `sendgrid` library to
  the fake SendGrid of the tests, run in a separate process on 127.0.0.1 (so its JSON parsing
  does not share our interpreter);
- webhook: 100k signed "delivered" events POSTed in batches of 1,000 to /webhooks/sendgrid
  through Flask's test client (signature check, parsing, dedupe, insert).

Peak memory is the process's maximum resident size (ru_maxrss) after each phase.
Targets (issue 5): enqueue ≤ 5 s; drain ≥ 5,000 messages/s; webhook ≥ 5,000 events/s.
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_postgres(url: str) -> None:
    u = sa.engine.make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
    admin.dispose()


def start_fake() -> tuple[subprocess.Popen, str]:
    code = (
        f"import sys, time; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.campaigns.fake_sendgrid import FakeSendGrid\n"
        "fake = FakeSendGrid().start(); print(fake.url, flush=True)\n"
        "while True: time.sleep(3600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--pg-url")
    args = parser.parse_args()

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from flask_migrate import upgrade

    from config import DevelopmentConfig
    from crm import create_app
    from crm.campaigns import delivery, operations, worker
    from crm.campaigns.models import OutboxMessage
    from crm.contacts.models import ConsentStatus, Contact
    from crm.demo import bulk
    from crm.extensions import db

    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-campaigns-"))
    if args.pg_url:
        url = args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        fresh_postgres(url)
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="benchmark-secret-key-benchmark-secret",
        WTF_CSRF_ENABLED=False,
        SERVER_NAME_FOR_LINKS="https://crm.example.org",
        SENDGRID_WEBHOOK_PUBLIC_KEY=base64.b64encode(public).decode(),
    )
    fake, fake_url = start_fake()
    report = [f"engine: {'postgresql' if args.pg_url else 'sqlite'}, contacts: {args.contacts:,}"]
    try:
        with app.test_request_context():
            upgrade()
            started = time.perf_counter()
            bulk.generate(contacts=args.contacts, organizations=max(1, args.contacts // 10))
            db.session.execute(
                sa.update(Contact)
                .where(Contact.email.is_not(None))
                .values(consent_status=ConsentStatus.GRANTED)
            )
            db.session.commit()
            report.append(f"load: {time.perf_counter() - started:.1f} s")
            segment = operations.create_segment(None, operations.SegmentFields(name="Everyone"))
            campaign = operations.create_campaign(
                None,
                operations.CampaignFields(
                    name="Bench",
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

            started = time.perf_counter()
            result = operations.queue_campaign(None, campaign)
            db.session.commit()
            enqueue = time.perf_counter() - started
            report.append(
                f"enqueue: {result.queued:,} recipients in {enqueue:.2f} s "
                f"(target ≤ 5 s), left out {sum(result.left_out.values()):,}; "
                f"peak RSS {rss_mb():.0f} MB"
            )

            provider = delivery.SendGridBatchProvider("SG.bench", fake_url, timeout=60)
            started = time.perf_counter()
            sent = 0
            while True:
                outcome = worker.drain_once(provider, batch_size=1000)
                if not outcome["claimed"]:
                    break
                sent += outcome["sent"]
            drain = time.perf_counter() - started
            report.append(
                f"drain: {sent:,} sent in {drain:.1f} s = {sent / drain:,.0f} messages/s "
                f"(target ≥ 5,000); peak RSS {rss_mb():.0f} MB"
            )

            rows = db.session.execute(
                sa.select(OutboxMessage.id, OutboxMessage.email, OutboxMessage.message_key)
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
        for body in batches:
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
        report.append(
            f"webhook: {len(rows):,} events in {ingest:.1f} s = {len(rows) / ingest:,.0f} "
            f"events/s (target ≥ 5,000); peak RSS {rss_mb():.0f} MB"
        )
    finally:
        fake.kill()
    print("\n".join(report))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"campaigns-{time.strftime('%Y%m%dT%H%M%S')}.txt").write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
