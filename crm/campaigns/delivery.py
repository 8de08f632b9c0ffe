"""Turning outbox rows into provider requests, and the two batch providers.

A batch is one campaign's content with up to 1000 recipients (SendGrid's personalizations),
each with its subject, substitutions, unsubscribe headers and our message key in custom_args.
The file provider writes one .eml per recipient with the tags filled, as SendGrid would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app

from crm.campaigns import rendering
from crm.campaigns.models import Campaign
from crm.consultations.operations.personal_links import personal_link_maker
from crm.core.countries import country_name
from crm.core.http import external_url
from crm.core.mail import FileMailProvider, MailError, MailMessage

MAX_PERSONALIZATIONS = 1000
UNSUBSCRIBE_PURPOSE = "unsubscribe"


@dataclass
class Recipient:
    key: str  # our message key
    email: str
    subject: str
    substitutions: dict[str, str]
    headers: dict[str, str]


@dataclass
class Batch:
    campaign_id: int
    sender_name: str
    sender_email: str
    reply_to: str | None
    content: rendering.Content
    recipients: list[Recipient] = field(default_factory=list)


@dataclass
class Accepted:
    provider_id: str = ""


class DeliveryError(Exception):
    """The provider did not take the batch. `retry_at` set: try again then; else it failed."""

    def __init__(self, reason: str, *, retry_at: datetime | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_at = retry_at
        self.status = status


# --- composing -------------------------------------------------------------------------------


def _signer():
    from itsdangerous import Signer

    # The message key is random and unguessable already; the signature makes a forged or
    # mistyped link fail cleanly. No timestamp: an unsubscribe link must keep working.
    return Signer(current_app.config["SECRET_KEY"], salt=f"crm.{UNSUBSCRIBE_PURPOSE}")


def unsubscribe_token(message_key: str, signer=None) -> str:
    return (signer or _signer()).sign(message_key).decode()


def message_key_from(token: str) -> str | None:
    from itsdangerous import BadSignature

    try:
        return _signer().unsign(token).decode()
    except (BadSignature, UnicodeError):
        return None


def unsubscribe_url(message_key: str) -> str:
    return external_url("campaign_public.unsubscribe", token=unsubscribe_token(message_key))


def unsubscribe_headers(url: str) -> dict[str, str]:
    # RFC 8058: mail clients show "Unsubscribe" and POST to the link without a page in between.
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def campaign_values(campaign: Campaign) -> dict[str, str]:
    event = campaign.event
    return {
        "event_name": event.name if event is not None else "",
        "event_url": external_url("public_events.register", event_id=event.id)
        if event is not None
        else "",
        "pledge_url": external_url("public_pledges.sign"),
    }


def person_values(
    contact, email: str, unsubscribe: str, consultation_url: str | None = None
) -> dict[str, str]:
    """The merge fields of one person: from a Contact, or from a claimed row (Pending).
    `consultation_url` only for a campaign with a consultation (its own link per person)."""
    if contact is None:
        first, last, org, country = "", "", "", ""
    elif isinstance(contact, Pending):
        first, last, org = contact.first_name, contact.last_name, contact.organization
        country = country_name(contact.country) if contact.country else ""
    else:
        first, last = contact.first_name or "", contact.last_name or ""
        org = contact.organization.name if contact.organization is not None else ""
        country = country_name(contact.country) if contact.country else ""
    values = {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "email": email,
        "organization": org,
        "country": country,
        "unsubscribe_url": unsubscribe,
    }
    if consultation_url is not None:
        values["consultation_url"] = consultation_url
    return values


def unsubscribe_url_maker():
    """unsubscribe_url for many messages at once: the link is built once, the token per message,
    with the signing key derived once (what `Signer.sign` does, less the key each time)."""
    import hmac

    from itsdangerous.encoding import base64_encode
    from itsdangerous.signer import HMACAlgorithm

    base = external_url("campaign_public.unsubscribe", token="TOKEN")
    head, tail = base.rsplit("TOKEN", 1)
    signer = _signer()
    key, algorithm, sep = signer.derive_key(), signer.algorithm, signer.sep.decode()
    assert isinstance(algorithm, HMACAlgorithm)
    # hmac.digest by the hash's name: OpenSSL's one-shot HMAC, not an HMAC object each time.
    digest = algorithm.digest_method().name

    def url(message_key: str) -> str:
        signature = base64_encode(hmac.digest(key, message_key.encode(), digest)).decode()
        return f"{head}{message_key}{sep}{signature}{tail}"

    return url


def _consultation_link_maker(campaign: Campaign) -> Callable[[int | None], str | None]:
    """{{ consultation_url }} per person: their own signed link to the campaign's consultation
    (the one the consultation's not-answered page shows), built without a request."""
    if campaign.consultation_id is None:
        return lambda contact_id: None
    make = personal_link_maker(campaign.consultation_id)

    def link(contact_id: int | None) -> str:
        if contact_id is None:
            raise ValueError("the person's record is gone, so they have no personal link")
        return make(contact_id)

    return link


@dataclass
class Pending:
    """A claimed outbox row with what its message needs, read in one query."""

    id: int
    campaign_id: int
    email: str
    message_key: str
    attempts: int
    first_name: str
    last_name: str
    organization: str
    country: str | None
    contact_id: int | None = None


class Composer:
    """What every message of one campaign shares, worked out once: the body (rendered once
    when it uses bare fields only), the subject's renderer, the unsubscribe signer, the
    sender. A sending job keeps one per campaign for all its batches, so a batch costs only
    its people's own values (a campaign being sent can no longer be edited)."""

    def __init__(self, campaign: Campaign):
        self.campaign_id = campaign.id
        self.sender_name = campaign.sender_name
        self.sender_email = campaign.sender_email
        self.reply_to = campaign.reply_to
        self.body = campaign.body
        self.common = campaign_values(campaign)
        shared = rendering.is_shared(campaign.body)
        self.shared_body = rendering.shared_content(campaign.body, self.common) if shared else None
        self.used = (
            rendering.used_fields(self.shared_body) if self.shared_body is not None else None
        )
        self.subject_for = rendering.renderer(campaign.subject)
        self.url_for_key = unsubscribe_url_maker()
        self.link_for = _consultation_link_maker(campaign)

    def batches(
        self, messages: list[Pending], unrenderable: list | None = None
    ) -> list[tuple[Batch, list]]:
        """Requests for these messages: [(batch, the messages it carries)].

        A message that cannot be rendered for its person goes to `unrenderable` as
        (message, reason); the others are not held back by it."""
        shared_body, used, common = self.shared_body, self.used, self.common
        groups: dict[tuple[str, str], list[tuple[Batch, list]]] = {}
        for message in messages:
            url = self.url_for_key(message.message_key)
            try:
                values = {
                    **common,
                    **person_values(message, message.email, url, self.link_for(message.contact_id)),
                }
                if shared_body is not None:
                    content = shared_body
                    subs = rendering.substitutions(values, used)
                else:
                    content = rendering.personal_content(self.body, values)
                    subs = rendering.substitutions({"unsubscribe_url": url})
                subject = self.subject_for(values)
            except Exception as exc:  # noqa: BLE001 -- one person's data must not stop the rest
                if unrenderable is None:
                    raise
                unrenderable.append((message, f"Could not render the message: {exc}"))
                continue
            chunks = groups.setdefault((content.text, content.html), [])
            if not chunks or len(chunks[-1][0].recipients) >= MAX_PERSONALIZATIONS:
                chunks.append(
                    (
                        Batch(
                            campaign_id=self.campaign_id,
                            sender_name=self.sender_name,
                            sender_email=self.sender_email,
                            reply_to=self.reply_to,
                            content=content,
                        ),
                        [],
                    )
                )
            batch, carried = chunks[-1]
            batch.recipients.append(
                Recipient(
                    key=message.message_key,
                    email=message.email,
                    subject=subject,
                    substitutions=subs,
                    headers=unsubscribe_headers(url),
                )
            )
            carried.append(message)
        return [chunk for chunks in groups.values() for chunk in chunks]


def batches_for(
    campaign: Campaign, messages: list[Pending], unrenderable: list | None = None
) -> list[tuple[Batch, list]]:
    """Requests for these messages of one campaign (see `Composer.batches`)."""
    return Composer(campaign).batches(messages, unrenderable)


def _sample_consultation_link(campaign: Campaign) -> str | None:
    """Previews and test sends show where each person's own link goes, not a working one:
    a link that answers as someone else has no place in the sender's inbox or on a page
    every campaign reader sees."""
    if campaign.consultation_id is None:
        return None
    return external_url(
        "public_consultations.personal",
        consultation_id=campaign.consultation_id,
        token="each-persons-own-link",
    )


def single_message(
    campaign: Campaign, to: str, contact, *, subject_prefix: str = ""
) -> MailMessage:
    """One rendered message (a preview, a test send): as `contact` would receive it,
    addressed to `to`; a consultation link is a sample, not the person's own."""
    url = external_url("campaign_public.unsubscribe", token="test-message")
    values = {
        **campaign_values(campaign),
        **person_values(
            contact,
            contact.email if contact is not None else to,
            url,
            _sample_consultation_link(campaign),
        ),
    }
    content = rendering.personal_content(campaign.body, values)
    filled = rendering.fill(content, rendering.substitutions({"unsubscribe_url": url}))
    return MailMessage(
        to=to,
        subject=subject_prefix + rendering.render(campaign.subject, values),
        text=filled.text,
        html=filled.html,
        sender=campaign.sender,
        headers=unsubscribe_headers(url),
    )


# --- providers -------------------------------------------------------------------------------


class FileBatchProvider:
    concurrent = False  # one file after another, in the job's thread

    def __init__(self, directory: str, sender: str):
        self.files = FileMailProvider(directory, sender)

    def send_batch(self, batch: Batch) -> Accepted:
        from email.utils import formataddr

        for r in batch.recipients:
            filled = rendering.fill(batch.content, r.substitutions)
            headers = {**r.headers, "X-CRM-Message-Key": r.key}
            if batch.reply_to:
                headers["Reply-To"] = batch.reply_to
            self.files.send(
                MailMessage(
                    to=r.email,
                    subject=r.subject,
                    text=filled.text,
                    html=filled.html,
                    sender=formataddr((batch.sender_name, batch.sender_email)),
                    headers=headers,
                )
            )
        return Accepted("")


class SendGridBatchProvider:
    """POST /v3/mail/send through the official library, one request per batch. Several
    threads may post at once: each request builds its own urllib opener."""

    concurrent = True

    def __init__(self, api_key: str, host: str, timeout: float = 30):
        from sendgrid import SendGridAPIClient

        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.client.client.timeout = timeout

    @staticmethod
    def request_body(batch: Batch) -> dict:
        body = {
            "from": {"email": batch.sender_email, "name": batch.sender_name},
            "personalizations": [
                {
                    "to": [{"email": r.email}],
                    "subject": r.subject,
                    "substitutions": r.substitutions,
                    "headers": r.headers,
                    "custom_args": {"crm_message": r.key, "crm_campaign": str(batch.campaign_id)},
                }
                for r in batch.recipients
            ],
            "content": [
                {"type": "text/plain", "value": batch.content.text},
                {"type": "text/html", "value": batch.content.html},
            ],
        }
        if batch.reply_to:
            body["reply_to"] = {"email": batch.reply_to}
        return body

    def send_batch(self, batch: Batch) -> Accepted:
        from python_http_client.exceptions import HTTPError

        try:
            response = self.client.send(self.request_body(batch))
        except HTTPError as exc:
            raise _refusal(exc.status_code, exc.headers, exc.body) from None
        except OSError as exc:  # refused, reset, timed out: the provider may be down
            raise DeliveryError(
                f"SendGrid could not be reached: {exc}", retry_at=None, status=None
            ) from None
        headers = response.headers or {}
        return Accepted(headers.get("X-Message-Id", "") or "")


def _refusal(status: int, headers, body) -> DeliveryError:
    reason = _error_text(body) or f"HTTP {status}"
    if status == 429:
        reset = None
        try:
            reset = int((headers or {}).get("X-RateLimit-Reset", ""))
        except (TypeError, ValueError):
            reset = None
        now = time.time()
        wait = max(1, (reset - now) if reset and reset > now else 1)
        retry_at = datetime.now(UTC) + timedelta(seconds=min(wait, 3600))
        return DeliveryError(f"Rate limited by SendGrid: {reason}", retry_at=retry_at, status=429)
    if status >= 500:
        return DeliveryError(f"SendGrid error {status}: {reason}", retry_at=None, status=status)
    return DeliveryError(f"SendGrid refused the message ({status}): {reason}", status=status)


def _error_text(body) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
        messages = [e.get("message", "") for e in data.get("errors", []) if isinstance(e, dict)]
        if messages:
            return "; ".join(m for m in messages if m)[:400]
    except (ValueError, TypeError, AttributeError):
        pass
    return str(body or "")[:400]


# The key is wrong or revoked: nothing is wrong with the messages, so they wait for a fix.
ACCOUNT_ERRORS = (401, 403)


def is_retryable(error: DeliveryError) -> bool:
    return (
        error.status is None
        or error.status == 429
        or error.status >= 500
        or error.status in ACCOUNT_ERRORS
    )


def get_batch_provider():
    config = current_app.config
    if config["MAIL_PROVIDER"] == "sendgrid":
        if not config.get("SENDGRID_API_KEY"):
            raise MailError("CRM_MAIL_PROVIDER is sendgrid but SENDGRID_API_KEY is not set.")
        return SendGridBatchProvider(config["SENDGRID_API_KEY"], config["SENDGRID_API_HOST"])
    return FileBatchProvider(config["MAIL_FILE_DIR"], config["MAIL_DEFAULT_SENDER"])
