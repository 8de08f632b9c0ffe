"""Sending one email through the configured provider.

`file` (the default) writes each message as an .eml file under instance/mail, so the app works
offline and tests can read what was sent; `sendgrid` uses the official library. Campaigns queue
through their outbox; every other email (invitations, confirmations, reminders, links) is
queued with `queue_mail`, a job written in the caller's transaction and sent by the worker after
it commits: a rolled-back request sends nothing, and a slow provider slows no page.

Each queued email carries its job's key (`X-CRM-Message-Key`), which the provider sees: the
file provider writes a key once, and the job records that the email was handed over before it
calls the provider, so a worker that dies mid-send never sends it a second time.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

from flask import current_app

from crm.core.errors import OperationError
from crm.core.jobs import Job, JobContext, Retry, enqueue, handler


@dataclass
class MailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class MailError(RuntimeError):
    """The provider refused or could not be reached; the message says why. `transient`: it
    may work later (a rate limit, the provider's own error, no connection)."""

    def __init__(self, message: str, *, transient: bool = False, retry_at: datetime | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_at = retry_at


class MailProvider(Protocol):
    def send(self, message: MailMessage) -> str: ...


def _as_email_message(message: MailMessage, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="west-crm.local")
    for name, value in message.headers.items():
        msg[name] = value
    msg.set_content(message.text)
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    return msg


KEY_HEADER = "X-CRM-Message-Key"


class FileMailProvider:
    def __init__(self, directory: str | Path, sender: str):
        self.directory = Path(directory)
        self.sender = sender

    def send(self, message: MailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = re.sub(r"[^A-Za-z0-9_.-]", "_", message.headers.get(KEY_HEADER, ""))[:40]
        if key:
            already = next(self.directory.glob(f"*-{key}-*.eml"), None)
            if already is not None:  # this message was written before: once is enough
                return already.name
        msg = _as_email_message(message, message.sender or self.sender)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        safe_to = re.sub(r"[^A-Za-z0-9_.@-]", "_", message.to)[:80]
        path = self.directory / f"{stamp}-{key or secrets.token_hex(3)}-{safe_to}.eml"
        # Long headers (a List-Unsubscribe link) stay plain text instead of RFC 2047 words.
        path.write_bytes(msg.as_bytes(policy=msg.policy.clone(max_line_length=998)))
        return path.name


# Seconds to wait for SendGrid's answer: a connection that hangs would otherwise hold the
# worker (and every job behind this one) for ever. A timeout is tried again later.
SEND_TIMEOUT = 30.0


class SendGridMailProvider:
    def __init__(self, api_key: str, host: str, sender: str):
        from sendgrid import SendGridAPIClient

        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.client.client.timeout = SEND_TIMEOUT
        self.sender = sender

    def send(self, message: MailMessage) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid.helpers.mail import Header, Mail

        mail = Mail(
            from_email=message.sender or self.sender,
            to_emails=message.to,
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html,
        )
        for name, value in message.headers.items():
            mail.add_header(Header(name, value))
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            status = exc.status_code
            raise MailError(
                f"SendGrid refused the message: {status} {exc.body!r}",
                transient=status == 429 or status >= 500,
                retry_at=_rate_limit_reset(exc) if status == 429 else None,
            ) from exc
        except OSError as exc:
            raise MailError(f"SendGrid could not be reached: {exc}", transient=True) from exc
        return response.headers.get("X-Message-Id", "") if response.headers else ""


def _rate_limit_reset(exc) -> datetime | None:
    """When SendGrid's rate limit lets us send again (its X-RateLimit-Reset header)."""
    headers = getattr(exc, "headers", None) or {}
    reset = headers.get("X-RateLimit-Reset")
    if reset is None:
        return None
    try:
        return datetime.fromtimestamp(int(reset), UTC)
    except (TypeError, ValueError):
        return None


def get_provider() -> MailProvider:
    config = current_app.config
    sender = config["MAIL_DEFAULT_SENDER"]
    if config["MAIL_PROVIDER"] == "sendgrid":
        if not config.get("SENDGRID_API_KEY"):
            raise MailError("CRM_MAIL_PROVIDER is sendgrid but SENDGRID_API_KEY is not set.")
        return SendGridMailProvider(config["SENDGRID_API_KEY"], config["SENDGRID_API_HOST"], sender)
    return FileMailProvider(config["MAIL_FILE_DIR"], sender)


def send_mail(message: MailMessage) -> str:
    """Send now, in this process. Pages and operations use `queue_mail` instead."""
    return get_provider().send(message)


def queue_mail(message: MailMessage, *, actor: Any = None) -> Job:
    """Send `message` once the current transaction commits: a job the worker runs."""
    payload = asdict(message)
    # The key the provider sees: the same email handed over twice is written once.
    payload["headers"] = {**payload["headers"], KEY_HEADER: f"mail-{secrets.token_hex(8)}"}
    return enqueue("mail.send", payload, actor=actor)


def _describe(payload: dict) -> str:
    return f"To {payload.get('to')}: {payload.get('subject')}"


@handler("mail.send", label="Email", max_attempts=8, describe=_describe)
def send_queued_mail(payload: dict, job: JobContext) -> dict:
    if (job.checkpoint or {}).get("handed_over"):
        raise OperationError(
            "The worker stopped while it was handing this email to the mail provider, so it "
            "may have gone out; it was not sent again, so that nobody gets it twice. Retry the "
            "job to send it anyway."
        )
    message = MailMessage(**payload)
    job.save_checkpoint({"handed_over": datetime.now(UTC).isoformat()})
    try:
        provider_id = send_mail(message)
    except MailError as error:
        if error.transient:
            raise Retry(str(error), at=error.retry_at, forget_checkpoint=True) from error
        raise OperationError(str(error)) from error
    return {"to": message.to, "provider_id": provider_id}
