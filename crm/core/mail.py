"""Sending one email through the configured provider.

`file` (the default) writes each message as an .eml file under instance/mail, so the app works
offline and tests can read what was sent; `sendgrid` uses the official library. Campaign sends
(a later issue) queue through an outbox; invitations and reminders use `send_mail` directly,
after the transaction that created them has committed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from flask import current_app


@dataclass
class MailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class MailError(RuntimeError):
    """The provider refused or could not be reached; the message says why."""


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


class FileMailProvider:
    def __init__(self, directory: str | Path, sender: str):
        self.directory = Path(directory)
        self.sender = sender

    def send(self, message: MailMessage) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        msg = _as_email_message(message, message.sender or self.sender)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        safe_to = re.sub(r"[^A-Za-z0-9_.@-]", "_", message.to)[:80]
        path = self.directory / f"{stamp}-{secrets.token_hex(3)}-{safe_to}.eml"
        # Long headers (a List-Unsubscribe link) stay plain text instead of RFC 2047 words.
        path.write_bytes(msg.as_bytes(policy=msg.policy.clone(max_line_length=998)))
        return path.name


class SendGridMailProvider:
    def __init__(self, api_key: str, host: str, sender: str):
        from sendgrid import SendGridAPIClient

        self.client = SendGridAPIClient(api_key=api_key, host=host)
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
            raise MailError(
                f"SendGrid refused the message: {exc.status_code} {exc.body!r}"
            ) from exc
        except OSError as exc:
            raise MailError(f"SendGrid could not be reached: {exc}") from exc
        return response.headers.get("X-Message-Id", "") if response.headers else ""


def get_provider() -> MailProvider:
    config = current_app.config
    sender = config["MAIL_DEFAULT_SENDER"]
    if config["MAIL_PROVIDER"] == "sendgrid":
        if not config.get("SENDGRID_API_KEY"):
            raise MailError("CRM_MAIL_PROVIDER is sendgrid but SENDGRID_API_KEY is not set.")
        return SendGridMailProvider(config["SENDGRID_API_KEY"], config["SENDGRID_API_HOST"], sender)
    return FileMailProvider(config["MAIL_FILE_DIR"], sender)


def send_mail(message: MailMessage) -> str:
    return get_provider().send(message)
